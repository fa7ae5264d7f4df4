"""Whether a trained model's masks depend on its batch statistics: the
masks of val photos with the model's norm layers in test mode (running
statistics), against the same model with one module's BatchNorm layers
normalising each photo by its own statistics (training mode, batch 1).

    python tools/analysis/norm_eval_gap.py CONFIG CHECKPOINT \
        [--module mask_head.mask_feature_head] [--images 20] \
        [--score-thr 0.3]

For the detections scoring at least ``--score-thr`` on the first
``--images`` photos of the config's val split (data/): their count, the
mean fraction of the image their binary mask covers, and the mean mask IoU
with the best-overlapping ground-truth mask. Prints one Markdown table
(docs/results/condinst_converged_masks/README.md); writes nothing.

A mask branch with BN trained at batch 2 in one process normalises each
training batch by that batch's statistics and each test photo by running
averages of them; the two rows say how much the masks depend on that
difference.
"""
import argparse
import os.path as osp
import sys
from typing import List

import numpy as np
import torch
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def batch_norms(model: torch.nn.Module, module: str) -> List[torch.nn.Module]:
    """The BatchNorm layers under ``module`` of ``model``.

    Raises:
        AttributeError: ``model`` has no submodule ``module``.
        ValueError: it has no BatchNorm layer.
    """
    found = [m for m in model.get_submodule(module).modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not found:
        raise ValueError(f'{module} has no BatchNorm layer: nothing to '
                         'compare')
    return found


def mask_quality(model, cfg: Config, images: List[dict], coco,
                 score_thr: float) -> dict:
    """Detections, mean mask area (fraction of the image) and mean best
    mask IoU against the ground truth, over ``images``."""
    from mmdet.apis import inference_detector

    from projects.deploy.compare import mask_iou_pairs
    ds = cfg.val_dataloader.dataset
    areas, ious = [], []
    for im in images:
        gts = [torch.from_numpy(coco.annToMask(a)) for a in coco.loadAnns(
            coco.getAnnIds(imgIds=im['id'], iscrowd=False))]
        gts = torch.stack(gts) if gts else None
        pred = inference_detector(model, osp.join(
            ROOT, ds.data_root, ds.data_prefix.img,
            im['file_name'])).pred_instances
        for mask in pred.masks[pred.scores >= score_thr]:
            areas.append(mask.float().mean().item())
            ious.append(0.0 if gts is None else float(
                mask_iou_pairs(mask.expand_as(gts), gts).max()))
    return dict(detections=len(ious),
                area=float(np.mean(areas)) if areas else float('nan'),
                iou=float(np.mean(ious)) if ious else float('nan'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--module', default='mask_head.mask_feature_head',
                        help='the module whose BatchNorm layers switch to '
                        'per-photo statistics (default: CondInst\'s mask '
                        'branch)')
    parser.add_argument('--images', type=int, default=20)
    parser.add_argument('--score-thr', type=float, default=0.3)
    args = parser.parse_args()

    from pycocotools.coco import COCO

    from projects.apis.model import load_detector
    cfg = Config.fromfile(args.config)
    model = load_detector(cfg, args.checkpoint)
    model.cfg = cfg  # what mmdet's inference_detector reads the pipeline from
    norms = batch_norms(model, args.module)
    ds = cfg.val_dataloader.dataset
    coco = COCO(osp.join(ROOT, ds.data_root, ds.ann_file))
    images = coco.loadImgs(coco.getImgIds()[:args.images])
    print(f'| {args.module} BN statistics | detections >= {args.score_thr} '
          '| mean mask area (of the image) | mean best mask IoU |')
    print('| --- | --- | --- | --- |')
    for label, training in (('running (test mode)', False),
                            ("each photo's own (training mode)", True)):
        for m in norms:
            m.train(training)
            m.momentum = 0.0  # batch statistics, running ones left as read
        q = mask_quality(model, cfg, images, coco, args.score_thr)
        print(f'| {label} | {q["detections"]} | {q["area"]:.3f} | '
              f'{q["iou"]:.3f} |', flush=True)


if __name__ == '__main__':
    main()
