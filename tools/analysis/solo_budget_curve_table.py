"""Print the table of docs/results/solo_budget/README.md from the committed
scalars.

    python tools/analysis/solo_budget_curve_table.py

Reads the results folder docs/results/solo_budget (``--results``): one row
per run (``runs/<name>.json``: MMEngine's scalars of ``runs/<name>.py``,
as ``projects.benchmark.protocol.read_scalars`` orders them) and
validation: box and mask AP (%) on feral_cats' 100 val photos, the
training time until then (minutes, from the logged step times) and the
losses logged at that iteration (10-iteration running means). Below each
run, the protocol's 200-iteration run of the same method and seed
(docs/results/feral_cats_cpu/runs, ``--protocol-runs``) for comparison.
Prints Markdown and writes nothing.
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
from projects.benchmark.protocol import learning_curve  # noqa: E402

RESULTS = osp.join(ROOT, 'docs', 'results', 'solo_budget')
PROTOCOL_RUNS = osp.join(ROOT, 'docs', 'results', 'feral_cats_cpu', 'runs')


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


def table(results: str = RESULTS, protocol_runs: str = PROTOCOL_RUNS) -> str:
    """The curve table, one line per validation of each run.

    Args:
        results (str): the results folder (its ``runs/*.json``).
        protocol_runs (str): the protocol's runs
            (``<method>_s<seed>/scalars.json``).

    Returns:
        str: the Markdown table.
    """
    lines = ['| run | iteration | train min | loss_mask | loss_cls | '
             'box AP | mask AP |', '| --- ' * 7 + '|']
    for path in sorted(glob.glob(osp.join(results, 'runs', '*.json'))):
        name = osp.basename(path)[:-5]
        with open(path) as f:
            lines += _rows(name, [json.loads(x) for x in f if x.strip()])
        protocol = osp.join(protocol_runs, name.rsplit('_', 1)[0],
                            'scalars.json')
        with open(protocol) as f:
            lines += _rows(name.rsplit('_', 1)[0] + ' (protocol, 200)',
                           [json.loads(x) for x in f if x.strip()])
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--results', default=RESULTS,
                   help='results folder (default: docs/results/solo_budget)')
    p.add_argument('--protocol-runs', default=PROTOCOL_RUNS,
                   help="the protocol's runs (default: "
                   'docs/results/feral_cats_cpu/runs)')
    args = p.parse_args(argv)
    print(table(args.results, args.protocol_runs))


if __name__ == '__main__':
    main()
