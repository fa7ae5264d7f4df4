"""Per-iteration trace of SOLOv2's mask branch over the first iterations of
a protocol run: the mask logits of the positive cells that the dice loss
receives (foreground and background pixel means, maximum), the unified mask
features (share of positive values, dead channels), and ``loss_mask``.

    python tools/analysis/solov2_mask_logit_trace.py --seed 2 --iters 20 \
        --mmdet-init \
        --out docs/results/solov2_kernel_init/traces/s2_mmdet_init.jsonl

    python tools/analysis/solov2_mask_logit_trace.py --table

A trace run trains (minutes on a CPU) and writes one JSON line per
iteration to ``--out``; ``--table`` reads the committed traces of the
results folder docs/results/solov2_kernel_init (``traces/*.jsonl``, or
``--results``) and prints the table of its README.md, writing nothing.
The run is the feral_cats small-data config at the protocol's lr and seed
with validation and checkpoints off (work dir
work_dirs/solov2_kernel_init/s<seed>); with ``--mmdet-init`` the head
keeps mmdet's initialisation (the recipe before
configs/_base_/models/solov2_small_data.py).
"""
import argparse
import glob
import json
import os.path as osp
from typing import List, Optional

from mmengine.hooks import Hook

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESULTS = osp.join(ROOT, 'docs', 'results', 'solov2_kernel_init')
CONFIG = 'configs/solo/solov2_r50_fpn_1xb2-200i_feral-cats-384.py'


class MaskLogitTrace(Hook):
    """Writes one JSON line per training iteration to ``out``."""

    def __init__(self, out: str) -> None:
        self.out = out
        self.rec = {}

    def before_train(self, runner) -> None:
        head = runner.model.mask_head
        head.loss_mask.register_forward_hook(self._logits)
        head.mask_feature_head.register_forward_hook(self._features)
        self.file = open(self.out, 'w')

    def _logits(self, module, args, output) -> None:
        logits, target = args[0].detach(), args[1].detach() > 0.5
        self.rec.update(
            n_pos=len(logits), logit_max=float(logits.max()),
            logit_fg=float(logits[target].mean()) if target.any() else None,
            logit_bg=float(logits[~target].mean()))

    def _features(self, module, args, output) -> None:
        alive = (output.detach() > 0).flatten(2).any(2).any(0)
        self.rec.update(feat_pos_frac=float((output > 0).float().mean()),
                        feat_dead_ch=int((~alive).sum()))

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.rec.update(iter=runner.iter + 1,
                        loss_mask=float(outputs['loss_mask']))
        self.file.write(json.dumps(self.rec) + '\n')
        self.file.flush()

    def after_train(self, runner) -> None:
        self.file.close()


def table(results: str = RESULTS) -> str:
    """The table of the committed traces, one line per iteration and
    trace: ``loss_mask`` (dice, weight 3: 3.0 is every predicted mask
    empty), the positives' mean foreground and background logit and their
    maximum.

    Args:
        results (str): the results folder (its ``traces/*.jsonl``).

    Returns:
        str: the Markdown table.
    """
    traces = {}
    for path in sorted(glob.glob(osp.join(results, 'traces', '*.jsonl'))):
        with open(path) as f:
            traces[osp.basename(path)[:-6]] = [json.loads(x) for x in f]
    names = sorted(traces)
    lines = ['| iteration | ' + ' | '.join(
        f'{n}: loss_mask | fg / bg logit | max logit' for n in names) + ' |',
             '| --- ' * (1 + 3 * len(names)) + '|']
    for i in range(max(len(t) for t in traces.values())):
        cells = [str(i + 1)]
        for n in names:
            if i >= len(traces[n]):
                cells += ['-'] * 3
                continue
            r = traces[n][i]
            fg = '-' if r['logit_fg'] is None else f"{r['logit_fg']:.1f}"
            cells += [f"{r['loss_mask']:.3f}", f"{fg} / {r['logit_bg']:.1f}",
                      f"{r['logit_max']:.1f}"]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seed', type=int, default=2)
    p.add_argument('--lr', type=float, default=0.001)
    p.add_argument('--iters', type=int, default=19)
    p.add_argument('--mmdet-init', action='store_true')
    p.add_argument('--out')
    p.add_argument('--table', action='store_true',
                   help='print the table of the committed traces instead')
    p.add_argument('--results', default=RESULTS,
                   help='results folder of --table (default: '
                   'docs/results/solov2_kernel_init)')
    args = p.parse_args(argv)
    if args.table:
        print(table(args.results))
        return
    if not args.out:
        p.error('--out is required unless --table')
    from mmengine.config import Config
    from mmengine.runner import Runner

    import projects  # noqa: F401  (registers the zoo's modules)
    cfg = Config.fromfile(osp.join(ROOT, CONFIG))
    if args.mmdet_init:
        cfg.model.mask_head.pop('init_cfg')
    cfg.optim_wrapper.optimizer.lr = args.lr
    cfg.randomness = dict(seed=args.seed)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=args.iters,
                         val_interval=10**6)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=10**6)
    cfg.work_dir = osp.join(ROOT, 'work_dirs', 'solov2_kernel_init',
                            f's{args.seed}')
    runner = Runner.from_cfg(cfg)
    runner.register_hook(MaskLogitTrace(args.out), priority='LOWEST')
    runner.train()


if __name__ == '__main__':
    main()
