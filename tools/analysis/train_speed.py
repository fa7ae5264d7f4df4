"""Seconds per training iteration, data wait and peak memory of configs in
fp32 and in bf16 (``tools/train.py --amp``), as tools/train.py runs them
(:mod:`projects.benchmark.train_speed`).

    python tools/analysis/train_speed.py CONFIG [CONFIG ...]
        [--precisions fp32 bf16] [--iters 100] [--window 20 100]
        [--out docs/results/bf16_training/speed.json]
        [--readme docs/results/bf16_training/README.md]
        [--work-root work_dirs/train_speed] [--force]
        [--label NAME --cfg-options KEY=VALUE ...]

One tools/train.py process per config and precision, one after the other
(run nothing else meanwhile: two trainings share the cores). A pair
already in ``--out`` is skipped unless ``--force``, so an interrupted
command continues where it stopped. Prints and stores, per pair, the
medians over the iterations of ``--window`` (first excluded): ``step_s``
(MMEngine's ``time``, data wait included), ``data_s`` (``data_time``),
``compute_s``, the process's peak resident memory, and the CPU. With
``--cfg-options`` (passed to tools/train.py) measures a variant, stored
under ``--label`` (e.g. the loader before a change:
``--label before --cfg-options train_dataloader.persistent_workers=False``).
With ``--readme``, the table of every row in ``--out`` is written between
``<!-- NAME: begin -->`` and ``<!-- NAME: end -->`` there (``--marker NAME``,
default ``train speed``; :mod:`projects.benchmark.markdown_blocks`).
"""
import argparse
import json
import os
import os.path as osp
import platform
import sys
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

from projects.benchmark.markdown_blocks import write_block  # noqa: E402
from projects.benchmark.train_speed import (load_results,  # noqa: E402
                                            run_speed, speed_table,
                                            summarize)


def cpu_words() -> str:
    """The CPU model with its bf16 units (``amx_bf16``, ``avx512_bf16``)
    from /proc/cpuinfo, and the core count."""
    model, flags = platform.processor() or 'cpu', set()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() == 'model name':
                    model = value.strip()
                elif key.strip() == 'flags' and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    units = [u for u in ('amx_bf16', 'avx512_bf16') if u in flags]
    return (f'{model} ({", ".join(units) or "no bf16 units"}; '
            f'{os.cpu_count()} cores)')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('configs', nargs='+', metavar='CONFIG')
    p.add_argument('--precisions', nargs='+', choices=('fp32', 'bf16'),
                   default=['fp32', 'bf16'])
    p.add_argument('--iters', type=int, default=100)
    p.add_argument('--window', type=int, nargs=2, default=(20, 100),
                   metavar=('AFTER', 'UPTO'))
    p.add_argument('--out', default='docs/results/bf16_training/speed.json')
    p.add_argument('--readme', help='write the table between the markers '
                   'of this page')
    p.add_argument('--marker', default='train speed',
                   help='names the --readme block')
    p.add_argument('--work-root', default='work_dirs/train_speed')
    p.add_argument('--force', action='store_true',
                   help='measure pairs already in --out again')
    p.add_argument('--label', default='',
                   help='names a --cfg-options variant in --out')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   metavar='KEY=VALUE', help='passed to tools/train.py')
    args = p.parse_args(argv)
    for config in args.configs:
        if not osp.isfile(osp.join(REPO, config)):
            p.error(f'config {config!r} not found')
    if args.cfg_options and not args.label:
        p.error('--cfg-options needs a --label for its rows')
    if not 0 <= args.window[0] < args.window[1] <= args.iters:
        p.error(f'--window {args.window} must lie in 0..--iters '
                f'({args.iters})')
    return args


def main(argv: Optional[List[str]] = None) -> List[dict]:
    args = parse_args(argv)
    os.chdir(REPO)
    import torch
    results = load_results(args.out)
    for row in results:  # the summary as this version computes it
        row.update(summarize(row['per_iter'], tuple(row['window'])))
    cpu = cpu_words()
    for config in args.configs:
        for precision in args.precisions:
            done = [r for r in results if r['config'] == config and
                    r['precision'] == precision and
                    r.get('label', '') == args.label]
            if done and not args.force:
                continue
            name = osp.splitext(osp.basename(config))[0]
            tag = '_'.join(filter(None, (name, args.label, precision)))
            run = run_speed(config, precision, args.iters,
                            osp.join(args.work_root, tag), REPO,
                            args.cfg_options)
            row = dict(config=config, precision=precision,
                       label=args.label, cfg_options=args.cfg_options,
                       iters=args.iters,
                       window=list(args.window), cpu=cpu,
                       threads=torch.get_num_threads(),
                       thp_mem_alloc=os.environ.get('THP_MEM_ALLOC_ENABLE'),
                       wall_s=run['wall_s'],
                       peak_rss_mib=run['peak_rss_mib'],
                       **summarize(run['records'], tuple(args.window)),
                       per_iter=[dict(iter=r['iter'], time=r['time'],
                                      data_time=r['data_time'])
                                 for r in run['records']])
            results = [r for r in results if r not in done] + [row]
            os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
            with open(args.out, 'w') as f:
                json.dump(dict(results=results), f, indent=1)
            print(f'[train_speed] {tag}: {row["step_s"]} s/iter'
                  f' (data {row["data_s"]} s), peak {row["peak_rss_mib"]} '
                  f'MiB, {cpu}', flush=True)
    table = speed_table(results)
    print(table)
    if args.readme:
        try:
            write_block(args.readme, args.marker, table)
        except (OSError, ValueError) as e:
            sys.exit(f'error: {args.readme}: {e}')
    return results


if __name__ == '__main__':
    main()
