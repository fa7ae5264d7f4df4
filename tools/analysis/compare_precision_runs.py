"""Does bf16 training learn what fp32 training learns? Protocol runs of the
same methods in two results folders (``tools/protocol.py`` and
``tools/protocol.py --amp``), side by side.

    python tools/analysis/compare_precision_runs.py
        --fp32 docs/results/feral_cats_cpu
        --bf16 docs/results/bf16_training/protocol_200i
        --method sais yolact --out docs/results/bf16_training

Writes ``--out``/precision_curves.png (per method: the training loss that
MMEngine logged every 10 iterations, and val mask AP, against iterations;
each fp32 seed a thin line, each bf16 run a thick one) and the table (mask
and box AP of the final validation, mean ± std over the fp32 seeds against
each bf16 run, with the CPU each ran on) between
``<!-- precision runs: begin -->`` and ``<!-- precision runs: end -->`` of
``--out``/README.md (:func:`projects.benchmark.markdown_blocks.write_block`;
exits with an error naming the marker when the README lacks them).
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)

from projects.benchmark.markdown_blocks import write_block  # noqa: E402
from projects.benchmark.protocol import RunRecord  # noqa: E402
from projects.benchmark.protocol_report import (fmt_mean_std,  # noqa: E402
                                                load_runs)

BLOCK = 'precision runs'  # the README block the table goes into
PLOT = 'precision_curves.png'


def losses(folder: str, rec: RunRecord) -> List[dict]:
    """The training records (``iter``, ``loss``, ...) of a run's
    committed ``scalars.json``."""
    path = osp.join(folder, 'runs', f'{rec.method}_s{rec.seed}',
                    'scalars.json')
    with open(path) as f:
        return [r for r in map(json.loads, filter(str.strip, f))
                if 'iter' in r]


def ap(rec: RunRecord, key: str) -> float:
    return 100 * rec.metrics.get(f'coco/{key}_mAP', 0.0)


def table(fp32: Dict[str, List[RunRecord]],
          bf16: Dict[str, List[RunRecord]], methods: List[str]) -> str:
    """Markdown: per method, the fp32 seeds (mean ± std) and each bf16
    run: mask AP, box AP, training minutes (validation excluded, from
    the logged iteration times) and device."""
    lines = ['| method | precision | seeds | mask AP | box AP | '
             'train min | device |', '| --- | --- | --- | --- | --- | '
             '--- | --- |']
    for m in methods:
        for precision, recs in (('fp32', fp32.get(m, [])),
                                ('bf16', bf16.get(m, []))):
            if not recs:
                continue
            train_min = [r.curve[-1]['train_s'] / 60 for r in recs
                         if r.curve]
            devices = sorted({r.device for r in recs})
            lines.append(
                f'| {m} | {precision} | '
                f'{", ".join(str(r.seed) for r in recs)} | '
                f'{fmt_mean_std([ap(r, "segm") for r in recs])} | '
                f'{fmt_mean_std([ap(r, "bbox") for r in recs])} | '
                f'{fmt_mean_std(train_min)} | {"; ".join(devices)} |')
    return '\n'.join(lines)


def plot(folders: Dict[str, str], runs: Dict[str, dict], methods: List[str],
         path: str) -> None:
    """Per method a row: training loss and val mask AP against
    iterations; fp32 seeds thin, bf16 runs thick."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(methods), 2, figsize=(10, 3.4 * len(
        methods)), dpi=110, squeeze=False)
    style = dict(fp32=dict(color='tab:blue', lw=0.9, alpha=0.75),
                 bf16=dict(color='tab:red', lw=2.2))
    for row, m in zip(axes, methods):
        for precision in ('fp32', 'bf16'):
            for j, rec in enumerate(runs[precision].get(m, [])):
                label = f'{precision} seed {rec.seed}'
                recs = losses(folders[precision], rec)
                row[0].plot([r['iter'] for r in recs],
                            [r['loss'] for r in recs], label=label,
                            **style[precision])
                row[1].plot([p['iter'] for p in rec.curve],
                            [p['segm_mAP'] for p in rec.curve],
                            marker='o', ms=3, label=label,
                            **style[precision])
        row[0].set_ylabel(f'{m}: training loss')
        row[1].set_ylabel(f'{m}: val mask AP (%)')
        for ax in row:
            ax.set_xlabel('iteration (batch 2)')
            ax.grid(alpha=0.3)
        row[1].legend(fontsize=7, loc='upper left')
    fig.suptitle('bf16 (--amp) against fp32 protocol runs, feral_cats val',
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--fp32', required=True, help='fp32 results folder')
    p.add_argument('--bf16', required=True, help='bf16 results folder')
    p.add_argument('--method', nargs='+', required=True)
    p.add_argument('--out', required=True)
    args = p.parse_args(argv)
    folders = dict(fp32=args.fp32, bf16=args.bf16)
    runs = {k: load_runs(v) for k, v in folders.items()}
    for k, found in runs.items():
        missing = [m for m in args.method if m not in found]
        if missing:
            p.error(f'--{k} {folders[k]}: no finished run of '
                    f'{", ".join(missing)}')
    plot(folders, runs, args.method, osp.join(args.out, PLOT))
    md = table(runs['fp32'], runs['bf16'], args.method)
    print(md)
    readme = osp.join(args.out, 'README.md')
    try:
        write_block(readme, BLOCK, md)
    except (OSError, ValueError) as e:
        sys.exit(f'error: {readme}: {e}')
    return md


if __name__ == '__main__':
    main()
