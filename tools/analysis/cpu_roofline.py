"""Measure this machine's GMAC/s on a large 3x3 conv and a large GEMM, in
fp32 and under bf16 autocast (:mod:`projects.benchmark.roofline`).

    python tools/analysis/cpu_roofline.py [--out roofline.json]
        [--cases conv3x3 conv3x3_channels_last gemm]
        [--precisions fp32 bf16] [--warmup 3] [--repeats 10]
        [--scale 1.0] [--note TEXT]

Prints one line per case and precision (median ms, IQR, GMAC/s) and writes
the JSON that ``tools/benchmark.py --roofline`` reads for the "% of fp32
peak" column. Threads: ``torch.get_num_threads()`` (set
``OMP_NUM_THREADS``). Run it on an otherwise idle machine: anything else
running lowers the figures.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

from projects.benchmark.roofline import CASES, PRECISIONS, measure


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line; exits with status 2 naming a bad option."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', help='write the JSON here')
    p.add_argument('--cases', nargs='+', choices=CASES, default=list(CASES))
    p.add_argument('--precisions', nargs='+', choices=PRECISIONS,
                   default=list(PRECISIONS))
    p.add_argument('--warmup', type=int, default=3,
                   help='untimed calls per case first (default 3)')
    p.add_argument('--repeats', type=int, default=10,
                   help='timed calls per case; median (default 10)')
    p.add_argument('--scale', type=float, default=1.,
                   help='shrink channels / matrix side (quick checks only; '
                   'default 1)')
    p.add_argument('--note', help='stored in the JSON (what else ran)')
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f'--repeats={args.repeats}: must be at least 1')
    if args.warmup < 0:
        p.error(f'--warmup={args.warmup}: must be at least 0')
    if not 0 < args.scale <= 1:
        p.error(f'--scale={args.scale}: must be in (0, 1]')
    return args


def main(argv: Optional[List[str]] = None) -> dict:
    """Measure, print and (with ``--out``) write; returns the result."""
    args = parse_args(argv)
    result = measure(args.cases, args.precisions, args.warmup, args.repeats,
                     args.scale, args.note)
    result['command'] = 'python tools/analysis/cpu_roofline.py ' + ' '.join(
        argv if argv is not None else sys.argv[1:])
    print(f"{result['device']} ({result['cpu_capability']}), "
          f"{result['threads']} threads, torch {result['torch']}, median "
          f'of {args.repeats} after {args.warmup} warm-up calls')
    print(f'{"case":>22} {"precision":>9} {"GMAC":>6} {"ms":>8} '
          f'{"IQR ms":>7} {"GMAC/s":>7}')
    for case, by_precision in result['results'].items():
        for precision, r in by_precision.items():
            print(f"{case:>22} {precision:>9} {r['gmac']:6.2f} "
                  f"{r['median_ms']:8.1f} {r['iqr_ms']:7.1f} "
                  f"{r['gmacs']:7.1f}")
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
        print(f'written: {args.out}')
    return result


if __name__ == '__main__':
    main()
