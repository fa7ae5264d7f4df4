"""The FCOS-family box regression at the start of training: the protocol's
``loss_bbox`` (GIoU) at iterations 10, 50, 100 and 200 of every committed
run of an FCOS-based head, and, with ``--init CONFIG ...``, the GIoU loss,
the gradient norm reaching ``conv_reg`` and the share of positive raw
regression outputs of a freshly initialised model on two training photos.

    python tools/analysis/box_regression_loss.py \
        [--runs FOLDER ...] [--init CONFIG ...]

Reads ``<run>/scalars.json`` and ``<run>/run.json`` of the ``--runs``
folders (default: docs/results/feral_cats_cpu/runs, the protocol's runs,
and docs/results/box_regression_saddle/runs, the A/B runs) and prints the
tables of docs/results/box_regression_saddle/README.md; writes nothing.

The heads decode a box as ``clamp(conv_reg(x), min=0)`` distances (in
strides, ``norm_on_bbox``); mmdet's FCOS init (normal, std 0.01, bias 0)
starts them near 0, a box far smaller than its target and inside it, where
GIoU's penalty term is 0 and IoU's gradient is proportional to the box's
size; a side clamped to 0 gets no gradient at all.
"""
import argparse
import contextlib
import glob
import io
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

STEPS = (10, 50, 100, 200)
RESULTS = osp.join(ROOT, 'docs', 'results', 'box_regression_saddle')
DEFAULT_RUNS = (osp.join(ROOT, 'docs', 'results', 'feral_cats_cpu', 'runs'),
                osp.join(RESULTS, 'runs'))


def loss_table(runs) -> str:
    """Markdown rows: run, loss_bbox at :data:`STEPS`, final mask / box AP
    (from ``run.json``), for every ``<folder>/<run>/scalars.json`` of the
    ``runs`` folders."""
    lines = ['| run | ' + ' | '.join(f'loss_bbox @ {s}' for s in STEPS) +
             ' | mask AP | box AP |', '| --- ' * (len(STEPS) + 3) + '|']
    paths = [p for folder in runs
             for p in sorted(glob.glob(osp.join(folder, '*', 'scalars.json')))]
    for path in paths:
        rows = [json.loads(line) for line in open(path)]
        at = {r['step']: r['loss_bbox'] for r in rows if 'loss_bbox' in r}
        if not at or not any('loss_centerness' in r for r in rows):
            continue  # no box loss, or not an FCOS-based head
        with open(osp.join(osp.dirname(path), 'run.json')) as f:
            metrics = json.load(f)['metrics']
        cells = [f'{at[s]:.4f}' if s in at else '-' for s in STEPS]
        cells += [f'{100 * metrics[k]:.1f}' if k in metrics else '-'
                  for k in ('coco/segm_mAP', 'coco/bbox_mAP')]
        lines.append(f'| {osp.basename(osp.dirname(path))} | ' +
                     ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def init_check(config: str, seed: int = 2) -> str:
    """GIoU loss, ``conv_reg`` gradient norm and share of raw regression
    outputs above 0 at initialisation (backbone random, so that no
    download is needed), on the first two training photos."""
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.runner import set_random_seed

    import projects  # noqa: F401
    from mmdet.registry import DATASETS, MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    set_random_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with contextlib.redirect_stdout(io.StringIO()):
        ds = DATASETS.build(cfg.train_dataloader.dataset)
    raw = []
    handle = model.bbox_head.conv_reg.register_forward_hook(
        lambda m, a, out: raw.append(out.detach()))
    model.train()
    data = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), True)
    loss = model(**data, mode='loss')['loss_bbox']
    loss.backward()
    handle.remove()
    grad = model.bbox_head.conv_reg.weight.grad.norm().item()
    share = torch.cat([r.flatten() for r in raw]).gt(0).float().mean()
    return (f'| {config} | {loss.item():.4f} | {grad:.3g} | '
            f'{share.item():.3f} |')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--runs', nargs='+', default=DEFAULT_RUNS,
                   help='folders of <run>/scalars.json + run.json (default: '
                   'docs/results/feral_cats_cpu/runs and '
                   'docs/results/box_regression_saddle/runs)')
    p.add_argument('--init', nargs='*', default=[], metavar='CONFIG')
    p.add_argument('--seed', type=int, default=2)
    args = p.parse_args()
    print(loss_table(args.runs))
    if args.init:
        print('\n| config (seed %d, random backbone) | loss_bbox | conv_reg '
              'grad norm | raw > 0 |\n| --- | --- | --- | --- |' % args.seed)
        for config in args.init:
            print(init_check(config, args.seed))


if __name__ == '__main__':
    main()
