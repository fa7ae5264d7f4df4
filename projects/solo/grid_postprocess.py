"""SOLO post-processing with the candidates capped before masks are gathered.

mmdet 3.3's ``SOLOHead._predict_by_feat_single`` (and the Decoupled and
SOLOv2 twins) gathers one full feature-resolution mask for every
(grid cell, class) pair above ``score_thr`` (``mask_preds[inds[:, 0]]``)
and only then lets ``mask_matrix_nms`` keep the top ``nms_pre``. Memory
therefore grows with cells x classes x H x W, and early in training, or in
every validation of a short run, most cells clear the threshold (the
measurements: docs/results/solo_postprocess_cpu).

Everything the candidate filter needs depends on the grid cell only: the
mask area (pixels above ``mask_thr``), the stride filter and the maskness
(mean probability inside the mask; SOLO paper §4 "maskness", SOLOv2 §3.3).
So :func:`grid_predict` computes those per distinct cell, in chunks, as
scalars; expands them to the (cell, class) candidates; applies the same
area > stride filter and maskness re-scoring; takes the top ``nms_pre`` by
the re-scored score; and only then builds the masks of those candidates for
``mask_matrix_nms`` (SOLOv2 §3.3.3, mmdet's implementation, unchanged).
Peak memory is O(chunk x H x W + nms_pre x H x W), independent of the number
of classes, and the output equals mmdet's wherever mmdet's fits in memory
(ties in score aside; ``tests/test_solo.py`` compares them).

It also fills ``bboxes`` with the tight box of each final mask
(``mmdet.structures.mask.mask2bbox``): mmdet returns all-zero boxes, so
``--eval bbox`` of a SOLO model reported AP 0.
"""
from typing import Callable, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.layers import mask_matrix_nms
from mmdet.structures.mask import mask2bbox

#: distinct grid cells whose masks are built at once
CELL_CHUNK = 64
#: final masks upsampled to the original image size at once
PASTE_CHUNK = 16


def empty_results(ori_shape: Tuple[int, int],
                  device: torch.device) -> InstanceData:
    """Zero detections, typed like a non-empty result.

    mmdet's ``empty_results`` gives float labels and float masks; these are
    ``long`` labels and ``bool`` masks, as for a non-empty result.

    Args:
        ori_shape (tuple[int, int]): (h, w) of the original image, pixels.
        device (torch.device): Device of the result tensors.

    Returns:
        InstanceData: ``scores`` (0,), ``labels`` (0,) long, ``bboxes``
        (0, 4), ``masks`` (0, h, w) bool.
    """
    results = InstanceData()
    results.scores = torch.zeros(0, device=device)
    results.labels = torch.zeros(0, dtype=torch.long, device=device)
    results.bboxes = torch.zeros(0, 4, device=device)
    results.masks = torch.zeros(0, *ori_shape, dtype=torch.bool,
                                device=device)
    return results


def cell_strides(num_grids: Sequence[int], strides: Sequence[int],
                 device: torch.device) -> Tensor:
    """The stride of each grid cell, levels concatenated.

    Args:
        num_grids (Sequence[int]): S of each level.
        strides (Sequence[int]): Stride of each level, pixels.
        device (torch.device): Device of the result.

    Returns:
        Tensor: shape (sum S^2,), float.
    """
    return torch.cat([
        torch.full((s * s, ), float(st), device=device)
        for s, st in zip(num_grids, strides)
    ])


def _cell_stats(cells: Tensor, cell_masks: Callable[[Tensor], Tensor],
                mask_thr: float) -> Tuple[Tensor, Tensor]:
    """Mask area and maskness of each given cell, CELL_CHUNK cells at once.

    Returns:
        tuple[Tensor, Tensor]: area, shape (k,) (pixels above ``mask_thr``
        at mask-feature resolution), and maskness, shape (k,).
    """
    areas, maskness = [], []
    for start in range(0, len(cells), CELL_CHUNK):
        probs = cell_masks(cells[start:start + CELL_CHUNK])
        masks = probs > mask_thr
        area = masks.sum((1, 2)).float()
        areas.append(area)
        maskness.append((probs * masks).sum((1, 2)) / area)
    return torch.cat(areas), torch.cat(maskness)


def _gather_masks(cells: Tensor,
                  cell_masks: Callable[[Tensor], Tensor]) -> Tensor:
    """Mask probabilities of the given (possibly repeated) cells.

    Returns:
        Tensor: shape (k, h, w), each distinct cell built once.
    """
    uniq, inverse = torch.unique(cells, return_inverse=True)
    probs = torch.cat([
        cell_masks(uniq[s:s + CELL_CHUNK])
        for s in range(0, len(uniq), CELL_CHUNK)
    ])
    return probs.index_select(0, inverse)


def grid_predict(cls_scores: Tensor, cell_masks: Callable[[Tensor], Tensor],
                 strides: Tensor, upsampled_size: Tuple[int, int],
                 img_meta: dict, cfg: ConfigDict) -> InstanceData:
    """Post-process one image of a SOLO-family head with capped candidates.

    Args:
        cls_scores (Tensor): Category scores after sigmoid (and SOLO's
            point NMS), shape (num_cells, num_classes), levels concatenated.
        cell_masks (Callable[[Tensor], Tensor]): Given cell indices, shape
            (k,) long, returns their mask probabilities, shape (k, h, w),
            at mask-feature resolution (1/4 of the padded input).
        strides (Tensor): Stride of each cell, shape (num_cells,), pixels
            (:func:`cell_strides`); a mask must cover more pixels than that.
        upsampled_size (tuple[int, int]): (h, w) of the padded input the
            masks are first upsampled to, pixels.
        img_meta (dict): Needs ``img_shape`` and ``ori_shape``.
        cfg (ConfigDict): The head's test_cfg: ``score_thr``, ``mask_thr``,
            ``nms_pre``, ``max_per_img``, ``kernel``, ``sigma``,
            ``filter_thr``.

    Returns:
        InstanceData: ``scores`` (n,), ``labels`` (n,) long, ``masks``
        (n, ori_h, ori_w) bool, ``bboxes`` (n, 4) tight boxes of the masks
        in the original image, pixels.
    """
    ori_shape = tuple(img_meta['ori_shape'][:2])
    device = cls_scores.device
    score_mask = cls_scores > cfg.score_thr
    scores = cls_scores[score_mask]
    if len(scores) == 0:
        return empty_results(ori_shape, device)
    inds = score_mask.nonzero()
    cells, labels = inds[:, 0], inds[:, 1]

    # per distinct cell: area and maskness, as scalars
    uniq, inverse = torch.unique(cells, return_inverse=True)
    area, maskness = _cell_stats(uniq, cell_masks, cfg.mask_thr)
    keep = area.index_select(0, inverse) > strides.index_select(0, cells)
    if not keep.any():
        return empty_results(ori_shape, device)
    cells, labels, inverse = cells[keep], labels[keep], inverse[keep]
    scores = scores[keep] * maskness.index_select(0, inverse)
    area = area.index_select(0, inverse)

    # top nms_pre by the re-scored score, as mask_matrix_nms would take
    order = torch.sort(scores, descending=True)[1]
    if cfg.nms_pre > 0:
        order = order[:cfg.nms_pre]
    cells, labels = cells[order], labels[order]
    scores, area = scores[order], area[order]
    probs = _gather_masks(cells, cell_masks)

    scores, labels, _, keep_inds = mask_matrix_nms(
        probs > cfg.mask_thr,
        labels,
        scores,
        mask_area=area,
        nms_pre=-1,
        max_num=cfg.max_per_img,
        kernel=cfg.kernel,
        sigma=cfg.sigma,
        filter_thr=cfg.filter_thr)
    if len(keep_inds) == 0:
        return empty_results(ori_shape, device)
    probs = probs.index_select(0, keep_inds)

    h, w = img_meta['img_shape'][:2]
    masks = []
    for start in range(0, len(probs), PASTE_CHUNK):
        chunk = F.interpolate(
            probs[None, start:start + PASTE_CHUNK],
            size=upsampled_size,
            mode='bilinear',
            align_corners=False)[:, :, :h, :w]
        chunk = F.interpolate(
            chunk, size=ori_shape, mode='bilinear', align_corners=False)[0]
        masks.append(chunk > cfg.mask_thr)
    results = InstanceData()
    results.masks = torch.cat(masks)
    results.labels = labels
    results.scores = scores
    results.bboxes = mask2bbox(results.masks)
    return results
