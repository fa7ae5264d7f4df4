"""Optimise anchor scales and aspect ratios for recall (SSS draft §3.2, Table 1).

    python tools/analysis/optimize_anchors.py CONFIG [--num-boxes 10000]
        [--restarts 3] [--out snippet.py] [--seed 0]

1. GT boxes are drawn after the config's own train pipeline (so after its
   augmentation, as the draft recommends), over as many passes of the
   dataset as needed, and a random subset of ``--num-boxes`` is kept.
2. Anchor recall is the fraction of those boxes with IoU >= 0.5 to at least
   one anchor of the config's ``model.bbox_head.anchor_generator`` at the
   config's input size.
3. Powell's method (``scipy.optimize.minimize(method='Powell')``) maximises
   it over the log anchor scales and the log aspect ratios, alternating the
   two until recall stops improving; the best of ``--restarts`` starts (the
   config's own anchors first, then random perturbations of them) wins.
   Recall is a step function, so the objective adds 0.5 / n x the mean best
   IoU of the n boxes: a slope for Powell's line searches that is worth less
   than one box, so it never trades recall away. Recall is what is reported.
4. Recall before and after, overall and for small / medium / large boxes
   (COCO's 32^2 / 96^2 pixel areas at the input size), and the anchor count
   are printed in Table 1's layout; ``--out`` writes the optimised settings
   as a config that inherits CONFIG (by relative path), so a config can take
   it as its ``_base_``.
"""
import argparse
import math
import os
import os.path as osp
import sys
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

IOU_THR = 0.5
SMALL, LARGE = 32**2, 96**2


def collect_boxes(cfg, num_boxes: int, seed: int,
                  max_passes: int = 20) -> Tuple[torch.Tensor, Tuple[int,
                                                                   int]]:
    """GT boxes after the train pipeline and the input size (h, w).

    Raises:
        SystemExit: if the dataset yields no boxes.
    """
    from mmdet.registry import DATASETS
    from tqdm import tqdm
    torch.manual_seed(seed)
    np.random.seed(seed)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    boxes: List[torch.Tensor] = []
    total, shape = 0, None
    bar = tqdm(total=num_boxes, desc='drawing GT boxes', unit='box')
    for _ in range(max_passes):
        for i in range(len(dataset)):
            sample = dataset[i]['data_samples']
            b = sample.gt_instances.bboxes
            b = b.tensor if hasattr(b, 'tensor') else b
            shape = shape or tuple(sample.metainfo['img_shape'][:2])
            boxes.append(b.float())
            total += len(b)
            bar.update(len(b))
            if total >= num_boxes:
                break
        if total >= num_boxes or total == 0:
            break
    bar.close()
    if total == 0:
        ann = cfg.train_dataloader.dataset.get('ann_file')
        sys.exit(f'error: {cfg.filename}: the training set ({ann}) yields no '
                 'GT boxes after its pipeline; nothing to optimise anchors '
                 'for')
    allb = torch.cat(boxes)
    keep = torch.randperm(len(allb))[:num_boxes]
    return allb[keep], shape


class AnchorRecall:
    """Recall of a config's anchor generator with new scales and ratios.

    Args:
        gen_cfg (dict): ``model.bbox_head.anchor_generator``.
        input_shape (tuple[int, int]): (h, w) of the network input, pixels.
        boxes (Tensor): shape (n, 4), GT boxes in input pixels.
    """

    def __init__(self, gen_cfg: dict, input_shape: Tuple[int, int],
                 boxes: torch.Tensor) -> None:
        self.gen_cfg = {
            k: v
            for k, v in gen_cfg.items()
            if k not in ('scales', 'octave_base_scale', 'scales_per_octave',
                         'ratios')
        }
        self.boxes = boxes
        strides = [s if isinstance(s, (list, tuple)) else (s, s)
                   for s in gen_cfg['strides']]
        self.featmap_sizes = [(math.ceil(input_shape[0] / s[1] - 1e-6),
                               math.ceil(input_shape[1] / s[0] - 1e-6))
                              for s in strides]
        self.areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])

    def anchors(self, scales: Sequence[float],
                ratios: Sequence[float]) -> torch.Tensor:
        """All anchors, shape (A, 4), for these scales and ratios."""
        from mmdet.registry import TASK_UTILS
        gen = TASK_UTILS.build(
            dict(self.gen_cfg, scales=list(scales), ratios=list(ratios)))
        return torch.cat(gen.grid_priors(self.featmap_sizes, device='cpu'))

    def best_iou(self, scales, ratios) -> torch.Tensor:
        """Each box's best IoU with any anchor, shape (n,)."""
        from mmdet.structures.bbox import bbox_overlaps
        anchors = self.anchors(scales, ratios)
        return torch.cat([
            bbox_overlaps(chunk, anchors).max(dim=1)[0]
            for chunk in self.boxes.split(1000)
        ])

    def recall(self, scales, ratios) -> Dict[str, float]:
        """Recall overall and by size (-1 where a size has no box)."""
        hit = self.best_iou(scales, ratios) >= IOU_THR
        out = {'all': hit.float().mean().item()}
        for name, mask in (('small', self.areas < SMALL),
                           ('medium', (self.areas >= SMALL)
                            & (self.areas < LARGE)), ('large',
                                                      self.areas >= LARGE)):
            out[name] = hit[mask].float().mean().item() if mask.any() else -1
        return out

    def objective(self, scales, ratios) -> float:
        iou = self.best_iou(scales, ratios)
        n = len(iou)
        return -((iou >= IOU_THR).float().mean().item() +
                 0.5 / n * iou.mean().item())


def initial_scales(gen_cfg: dict) -> List[float]:
    """The config's anchor scales, from ``scales`` or the octave form."""
    if gen_cfg.get('scales') is not None:
        return [float(s) for s in gen_cfg['scales']]
    base, per = gen_cfg['octave_base_scale'], gen_cfg['scales_per_octave']
    return [base * 2**(i / per) for i in range(per)]


def optimise(rec: AnchorRecall, scales: List[float], ratios: List[float],
             max_rounds: int = 5) -> Tuple[List[float], List[float], float]:
    """Alternate Powell over log-scales and log-ratios until recall stops
    improving; returns scales, ratios and the objective."""
    from scipy.optimize import minimize
    ls, lr = np.log(scales), np.log(ratios)
    best = rec.objective(np.exp(ls), np.exp(lr))
    for _ in range(max_rounds):
        before = best
        res = minimize(lambda x: rec.objective(np.exp(x), np.exp(lr)), ls,
                       method='Powell', options=dict(xtol=1e-2, ftol=1e-4))
        if res.fun < best:
            ls, best = res.x, res.fun
        res = minimize(lambda x: rec.objective(np.exp(ls), np.exp(x)), lr,
                       method='Powell', options=dict(xtol=1e-2, ftol=1e-4))
        if res.fun < best:
            lr, best = res.x, res.fun
        if before - best < 1e-4:
            break
    return list(np.exp(ls)), list(np.exp(lr)), best


def _row(name, r, n):
    def f(v):
        return '  -  ' if v < 0 else f'{100 * v:5.1f}'
    return (f'{name:>10} {f(r["all"])} {f(r["small"])} {f(r["medium"])} '
            f'{f(r["large"])} {n:>8}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--num-boxes', type=int, default=10000)
    parser.add_argument('--restarts', type=int, default=3)
    parser.add_argument('--out', help='write the optimised anchors here')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    from mmengine.config import Config

    from mmdet.utils import register_all_modules
    register_all_modules()
    if not osp.isfile(args.config):
        sys.exit(f'error: config file {args.config!r} not found')
    if args.out and osp.exists(args.out):
        sys.exit(f'error: {args.out!r} already exists; choose another --out')
    cfg = Config.fromfile(args.config)
    gen_cfg = cfg.model.get('bbox_head', {}).get('anchor_generator')
    if not gen_cfg:
        sys.exit(f'error: {args.config}: model.bbox_head.anchor_generator '
                 'not found (an anchor-free head has no anchors to optimise)')
    if gen_cfg.get('type') != 'AnchorGenerator':
        sys.exit(f'error: {args.config}: model.bbox_head.anchor_generator.'
                 f'type={gen_cfg.get("type")!r}; only AnchorGenerator\'s '
                 'shared scales and ratios are optimised (SSD-style '
                 'per-level anchors, as in the SSS configs, are not)')
    boxes, shape = collect_boxes(cfg, args.num_boxes, args.seed)
    rec = AnchorRecall(gen_cfg.to_dict(), shape, boxes)
    scales0, ratios0 = initial_scales(gen_cfg), list(gen_cfg['ratios'])
    n_anchors = len(rec.anchors(scales0, ratios0))
    start = rec.recall(scales0, ratios0)

    from tqdm import tqdm
    rng = np.random.default_rng(args.seed)
    best = None
    for r in tqdm(range(args.restarts), desc='Powell restarts'):
        jitter = 0 if r == 0 else 0.3
        s0 = list(np.array(scales0) * np.exp(rng.normal(0, jitter,
                                                         len(scales0))))
        q0 = list(np.array(ratios0) * np.exp(rng.normal(0, jitter,
                                                        len(ratios0))))
        cand = optimise(rec, s0, q0)
        if best is None or cand[2] < best[2]:
            best = cand
    scales, ratios, _ = best
    after = rec.recall(scales, ratios)

    print(f'{len(boxes)} GT boxes after the train pipeline of '
          f'{args.config}, input {shape[1]}x{shape[0]}, IoU >= {IOU_THR}')
    print(f'{"anchors":>10} {"recall":>5} {"small":>5} {"medium":>5} '
          f'{"large":>5} {"#anchors":>8}')
    print(_row('config', start, n_anchors))
    print(_row('optimised', after, n_anchors))
    print(f'scales: {[round(float(s), 3) for s in scales]}')
    print(f'ratios: {[round(float(q), 3) for q in ratios]}')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        base = osp.relpath(
            osp.abspath(args.config), osp.dirname(osp.abspath(args.out)))
        with open(args.out, 'w') as f:
            f.write(
                f'# Anchors optimised by tools/analysis/optimize_anchors.py\n'
                f'# for {args.config} on {len(boxes)} GT boxes: recall '
                f'{100 * start["all"]:.1f} -> {100 * after["all"]:.1f}\n'
                f'_base_ = {base!r}\n'
                'model = dict(\n    bbox_head=dict(\n'
                '        anchor_generator=dict(\n'
                '            octave_base_scale=None,\n'
                '            scales_per_octave=None,\n'
                f'            scales={[round(float(s), 4) for s in scales]},\n'
                f'            ratios={[round(float(q), 4) for q in ratios]})))\n')
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
