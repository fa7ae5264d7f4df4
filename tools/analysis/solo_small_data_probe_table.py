"""Print the probe table of docs/results/solo_small_data/README.md from the
committed scalars.

    python tools/analysis/solo_small_data_probe_table.py

Reads ``probes/<name>.json`` (MMEngine's scalars of each lr probe) of the
results folder docs/results/solo_small_data (``--results``) and prints one
Markdown row per probe: ``loss_mask`` and ``loss_cls`` at iterations 1, 20
and 40, each MMEngine's 10-iteration running mean at that iteration;
writes nothing.
"""
import argparse
import glob
import json
import os.path as osp
from typing import List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESULTS = osp.join(ROOT, 'docs', 'results', 'solo_small_data')
ITERS = (1, 20, 40)


def table(results: str = RESULTS) -> str:
    """The probe table, one line per ``probes/*.json``.

    Args:
        results (str): the results folder.

    Returns:
        str: the Markdown table.
    """
    lines = ['| probe | loss_mask it. 1 / 20 / 40 | loss_cls it. 1 / 20 / 40 '
             '|', '| --- | --- | --- |']
    for path in sorted(glob.glob(osp.join(results, 'probes', '*.json'))):
        with open(path) as f:
            rows = {r['iter']: r for r in map(json.loads, f) if 'iter' in r}
        mask = ' / '.join(f"{rows[i]['loss_mask']:.4f}" for i in ITERS)
        cls = ' / '.join(f"{rows[i]['loss_cls']:.3f}" for i in ITERS)
        lines.append(f'| {osp.basename(path)[:-5]} | {mask} | {cls} |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--results', default=RESULTS,
                   help='results folder (default: '
                   'docs/results/solo_small_data)')
    args = p.parse_args(argv)
    print(table(args.results))


if __name__ == '__main__':
    main()
