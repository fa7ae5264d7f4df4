"""The lr check at the converged budget: val mask (and box) AP against the
iteration for runs that differ only in their lr (docs/results/
feral_cats_24e_cpu/lr_check).

    python tools/analysis/lr_check_table.py LABEL=SCALARS.json ... \
        [--readme docs/results/feral_cats_24e_cpu/lr_check/README.md]

Each SCALARS.json is an MMEngine ``scalars.json`` of one run; the table
has one row per run: its lr (the peak of its log), the val mask AP at
every validation, the box AP at the last, and the plateau verdict of
:func:`projects.benchmark.protocol.plateau_verdict` at that run's length.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def read_run(path: str) -> Dict:
    """Peak lr, the validations ``[(iter, mask AP %, box AP %)]`` and the
    last training iteration of a scalars.json."""
    lr, last, vals = 0.0, 0, []
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if 'coco/segm_mAP' in rec:  # its step: the iteration
                vals.append((rec['step'], rec['coco/segm_mAP'] * 100,
                             rec['coco/bbox_mAP'] * 100))
            elif 'iter' in rec:
                lr, last = max(lr, rec.get('lr', 0.0)), rec['iter']
    return dict(lr=lr, vals=vals, iters=max([last] + [v[0] for v in vals]))


def table(runs: Dict[str, Dict]) -> str:
    """The Markdown table of :func:`read_run` results, one row per run."""
    from projects.benchmark.protocol import plateau_verdict
    iters = sorted({i for r in runs.values() for i, _, _ in r['vals']})
    head = (['run', 'peak lr'] + [f'mask AP @{i}' for i in iters] +
            ['box AP (last)', 'plateau (last quarter)'])
    lines = ['| ' + ' | '.join(head) + ' |',
             '| ' + ' | '.join('---' for _ in head) + ' |']
    for label, run in runs.items():
        by_iter = {i: m for i, m, _ in run['vals']}
        verdict, gain = plateau_verdict(
            [dict(iter=i, segm_mAP=m) for i, m, _ in run['vals']],
            run['iters'])
        cells = [label, f"{run['lr']:g}"] + [
            f'{by_iter[i]:.1f}' if i in by_iter else '-' for i in iters]
        cells += [f"{run['vals'][-1][2]:.1f}" if run['vals'] else '-',
                  f'{verdict} ({gain:+.1f})']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', metavar='LABEL=SCALARS.json')
    parser.add_argument('--readme', help='write the table into the '
                        "'lr check' block of this file")
    args = parser.parse_args(argv)
    runs = {}
    for item in args.runs:
        label, _, path = item.partition('=')
        if not osp.isfile(path):
            sys.exit(f'error: {path!r}: no such file')
        runs[label] = read_run(path)
    text = table(runs)
    print(text)
    if args.readme:
        from projects.benchmark.markdown_blocks import write_block
        write_block(args.readme, 'lr check', text, append=True)
    return text


if __name__ == '__main__':
    main()
