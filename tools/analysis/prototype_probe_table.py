"""Print the tables of docs/results/prototype_collapse/README.md from the
committed scalars.

    python tools/analysis/prototype_probe_table.py          # probes
    python tools/analysis/prototype_probe_table.py --runs   # 200 it.

Reads the results folder docs/results/prototype_collapse (``--results``):
``probes/<name>.json`` (MMEngine's scalars of the short probes: lr,
gradient norm, losses and prototype counts at iterations 1, 10, 20, 30
and 40) or, with ``--runs``, ``runs/<name>.json`` (200-iteration runs:
peak lr, the last logged losses and the last validation's box and mask AP
in %); prints Markdown and writes nothing.
"""
import argparse
import glob
import json
import os.path as osp
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESULTS = osp.join(ROOT, 'docs', 'results', 'prototype_collapse')
KEYS = ('loss_cls', 'loss_mask', 'proto_active', 'proto_alive')


def rows(path: str) -> Dict[int, dict]:
    """Iteration -> training record (those with ``loss_mask``)."""
    with open(path) as f:
        return {r['iter']: r for r in map(json.loads, f) if 'iter' in r
                and 'loss_mask' in r}


def runs_table(results: str = RESULTS) -> str:
    """The 200-iteration runs' table, one line per ``runs/*.json``.

    Args:
        results (str): the results folder.

    Returns:
        str: the Markdown table.
    """
    lines = ['| run | peak lr | loss_mask (200) | proto_alive (200) | '
             'box AP | mask AP |', '| --- ' * 6 + '|']
    for path in sorted(glob.glob(osp.join(results, 'runs', '*.json'))):
        with open(path) as f:
            records = [json.loads(line) for line in f]
        train = {r['iter']: r for r in records if 'loss_mask' in r}
        last = train[max(train)]
        val = [r for r in records if 'coco/segm_mAP' in r][-1]
        peak = max(r['lr'] for r in train.values())
        lines.append(f"| {osp.basename(path)[:-5]} | {peak:.4g} | "
                     f"{last['loss_mask']:.3f} | "
                     f"{last['proto_alive']:.0f} | "
                     f"{100 * val['coco/bbox_mAP']:.1f} | "
                     f"{100 * val['coco/segm_mAP']:.1f} |")
    return '\n'.join(lines)


def probe_table(results: str = RESULTS) -> str:
    """The probes' table, one line per ``probes/*.json`` and logged
    iteration among 1, 10, 20, 30 and 40.

    Args:
        results (str): the results folder.

    Returns:
        str: the Markdown table.
    """
    lines = ['| probe | iteration | lr | grad norm | ' + ' | '.join(KEYS) +
             ' |', '| --- ' * (4 + len(KEYS)) + '|']
    for path in sorted(glob.glob(osp.join(results, 'probes', '*.json'))):
        name = osp.basename(path)[:-5]
        data = rows(path)
        for it in (1, 10, 20, 30, 40):
            if it not in data:
                continue
            r = data[it]
            cells = [f"{r[k]:.3f}" if k != 'proto_alive' else
                     f"{r[k]:.0f}" for k in KEYS]
            lines.append(f"| {name} | {it} | {r['lr']:.4g} | "
                         f"{r['grad_norm']:.0f} | " + ' | '.join(cells) +
                         ' |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--runs', action='store_true',
                   help="the 200-iteration runs' table instead of the "
                   "probes'")
    p.add_argument('--results', default=RESULTS,
                   help='results folder (default: '
                   'docs/results/prototype_collapse)')
    args = p.parse_args(argv)
    print(runs_table(args.results) if args.runs else
          probe_table(args.results))


if __name__ == '__main__':
    main()
