"""Print the tables of docs/results/coco_mini_cpu/README.md from the
committed scalars.

    python tools/analysis/coco_mini_curve_table.py            # curves
    python tools/analysis/coco_mini_curve_table.py --classes  # per class

Reads the results folder docs/results/coco_mini_cpu (``--results``):
``runs/<name>.json`` (MMEngine's scalars) and ``tests/<name>.json``
(tools/test.py's test_metrics.json), plus coco-mini's val annotations in
data/coco-mini; prints Markdown and writes nothing.

One row per run and validation: box and mask AP (%) on coco-mini's 79 val
images, and the 10-iteration running means of `loss_mask` and
`proto_alive` logged at that iteration. `train min` sums the logged mean
step times up to it (10 steps each). A validation record follows the last
training record of its iteration (MMEngine logs it with `step` 0 in an
iteration-based run).
"""
import argparse
import glob
import json
import os.path as osp
from typing import List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESULTS = osp.join(ROOT, 'docs', 'results', 'coco_mini_cpu')
VAL_ANN = osp.join(ROOT, 'data', 'coco-mini', 'annotations',
                   'instances_val2017.json')


def table(results: str = RESULTS) -> str:
    """The curve table, one line per validation of each run.

    Args:
        results (str): the results folder (its ``runs/*.json``).

    Returns:
        str: the Markdown table.
    """
    lines = ['| run | iteration | lr | loss_mask | proto_alive | box AP | '
             'mask AP | mask AP50 | train min |', '| --- ' * 9 + '|']
    for path in sorted(glob.glob(osp.join(results, 'runs', '*.json'))):
        with open(path) as f:
            records = [json.loads(line) for line in f]
        train = {r['iter']: r for r in records if 'loss_mask' in r}
        it = 0
        for rec in records:
            if 'loss_mask' in rec:  # the validation follows its iteration
                it = rec['iter']
                continue
            val, r = rec, train[it]
            seconds = 10 * sum(t['time'] for i, t in train.items()
                               if i <= it)
            lines.append(
                f"| {osp.basename(path)[:-5]} | {it} | {r['lr']:.4g} | "
                f"{r['loss_mask']:.3f} | {r['proto_alive']:.0f} | "
                f"{100 * val['coco/bbox_mAP']:.1f} | "
                f"{100 * val['coco/segm_mAP']:.1f} | "
                f"{100 * val['coco/segm_mAP_50']:.1f} | "
                f"{seconds / 60:.1f} |")
    return '\n'.join(lines)


def classes(results: str = RESULTS, val_ann: str = VAL_ANN) -> str:
    """The classes with mask AP above 0 in each final test, with their val
    instance counts.

    Args:
        results (str): the results folder (its ``tests/*.json``,
            tools/test.py's test_metrics.json with CocoMetric's
            ``classwise=True``).
        val_ann (str): coco-mini's val annotation file.

    Returns:
        str: the Markdown table.
    """
    with open(val_ann) as f:
        val = json.load(f)
    names = {c['id']: c['name'] for c in val['categories']}
    count = {}
    for a in val['annotations']:
        name = names[a['category_id']]
        count[name] = count.get(name, 0) + 1
    lines = ['| run | class | val instances | mask AP |', '| --- ' * 4 + '|']
    for path in sorted(glob.glob(osp.join(results, 'tests', '*.json'))):
        with open(path) as f:
            metrics = json.load(f)['metrics']
        scored = [(k[5:-len('_precision')], v) for k, v in metrics.items()
                  if k.endswith('_precision') and v == v and v > 0]
        for name, ap in sorted(scored, key=lambda c: -c[1]):
            lines.append(f'| {osp.basename(path)[:-5]} | {name} | '
                         f'{count[name]} | {100 * ap:.1f} |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--classes', action='store_true',
                   help='the per-class table instead of the curves')
    p.add_argument('--results', default=RESULTS,
                   help='results folder (default: '
                   'docs/results/coco_mini_cpu)')
    args = p.parse_args(argv)
    print(classes(args.results) if args.classes else table(args.results))


if __name__ == '__main__':
    main()
