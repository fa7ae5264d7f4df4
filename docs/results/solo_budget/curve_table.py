"""Print README.md's table from the committed scalars.

    python docs/results/solo_budget/curve_table.py

One row per run (`runs/<name>.json`: MMEngine's scalars of
`runs/<name>.py`, as `projects.benchmark.protocol.read_scalars` orders
them) and validation: box and mask AP (%) on feral_cats' 100 val photos,
the training time until then (the logged step times) and the losses
logged at that iteration (10-iteration running means). Below each run, the
protocol's 200-iteration run of the same method and seed
(docs/results/feral_cats_cpu/runs) for comparison.
"""
import glob
import json
import os.path as osp
import sys

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.join(HERE, '..', '..', '..'))
from projects.benchmark.protocol import learning_curve  # noqa: E402


def _rows(name: str, records: list) -> list:
    train = {r['iter']: r for r in records if 'iter' in r}
    rows = []
    for point in learning_curve(records):
        logged = train.get(point['iter'], {})
        losses = ' | '.join(f"{logged[k]:.3f}" if k in logged else '-'
                            for k in ('loss_mask', 'loss_cls'))
        rows.append(f"| {name} | {point['iter']} | "
                    f"{point['train_s'] / 60:.1f} | {losses} | "
                    f"{point['bbox_mAP']:.1f} | {point['segm_mAP']:.1f} |")
    return rows


def table() -> str:
    """str: the Markdown table, one line per validation of each run."""
    lines = ['| run | iteration | train min | loss_mask | loss_cls | '
             'box AP | mask AP |', '| --- ' * 7 + '|']
    for path in sorted(glob.glob(osp.join(HERE, 'runs', '*.json'))):
        name = osp.basename(path)[:-5]
        with open(path) as f:
            lines += _rows(name, [json.loads(x) for x in f if x.strip()])
        protocol = osp.join(HERE, '..', 'feral_cats_cpu', 'runs',
                            name.rsplit('_', 1)[0], 'scalars.json')
        with open(protocol) as f:
            lines += _rows(name.rsplit('_', 1)[0] + ' (protocol, 200)',
                           [json.loads(x) for x in f if x.strip()])
    return '\n'.join(lines)


if __name__ == '__main__':
    print(table())
