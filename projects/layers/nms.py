"""Fast NMS, cross-class Fast NMS and standard NMS behind one API.

Source: "SSS: Single Shot Segmenter" draft §3.3 and YOLACT §3.3 (Bolya et
al.). Fast NMS replaces the sequential suppression of standard NMS by one
matrix operation per class: sort the top-k detections by score, compute their
pairwise IoU matrix ``X``, keep its upper triangle (``X_ij`` for ``i < j``),
take each column's maximum and keep detection ``j`` if that maximum is at most
the IoU threshold. A detection may thus be suppressed by one that was itself
suppressed, which standard NMS would not do; in return everything runs as
batched matrix algebra.

* ``fast_nms``: per class, with the same output as mmdet's
  :func:`mmdet.models.layers.fast_nms` (YOLACT's implementation; a test
  checks they agree). mmdet's computes the IoU of all ``top_k`` boxes of all
  classes; since suppression only flows from higher to lower scores, boxes at
  or below ``score_thr`` can neither be kept nor suppress a kept box, so here
  they are dropped before the IoU matrix is built: on CPU at 80 classes x 200
  boxes that is what makes Fast NMS faster than standard NMS at all.
* ``cross_class_fast_nms``: each detection takes its maximum class score and
  one Fast NMS runs over all of them, so its cost does not grow with the
  number of classes (YOLACT's ``cross_class_nms`` option). mmdet lacks it.
* ``nms``: standard per-class NMS, mmcv's :func:`mmcv.ops.batched_nms`.

All three take the same inputs and return the same outputs, including the
row of the input each kept detection came from, so callers can gather mask
coefficients or any other per-detection data.
"""
from typing import Tuple

import torch
from mmcv.ops import batched_nms
from torch import Tensor

from mmdet.structures.bbox import bbox_overlaps

NMS_TYPES = ('fast_nms', 'cross_class_fast_nms', 'nms')


def _keep_upper_triangle(iou: Tensor, iou_thr: float) -> Tensor:
    """Fast NMS keep mask, SSS §3.3.

    Args:
        iou (Tensor): shape (..., k, k), pairwise IoU of score-sorted boxes.
        iou_thr (float): IoU threshold.

    Returns:
        Tensor: shape (..., k), bool, True where no higher-scoring box
        overlaps by more than ``iou_thr``.
    """
    return iou.triu(diagonal=1).max(dim=-2)[0] <= iou_thr


def cross_class_fast_nms(bboxes: Tensor, scores: Tensor, score_thr: float,
                         iou_thr: float, top_k: int,
                         max_num: int = -1) -> Tuple[Tensor, Tensor, Tensor]:
    """One Fast NMS over all classes on each detection's best class score.

    Args:
        bboxes (Tensor): shape (n, 4), (x1, y1, x2, y2) in pixels.
        scores (Tensor): shape (n, C), class scores (no background column).
        score_thr (float): detections scoring at most this are dropped after
            NMS, as YOLACT does.
        iou_thr (float): IoU threshold.
        top_k (int): detections considered, by best class score.
        max_num (int): detections returned at most; -1 for all.

    Returns:
        tuple[Tensor, Tensor, Tensor]: dets (k, 5) as (x1, y1, x2, y2,
        score), labels (k,) 0-based, inds (k,) rows of the input.
    """
    best, labels = scores.max(dim=1)
    sorted_best, order = best.sort(descending=True)
    order, sorted_best = order[:top_k], sorted_best[:top_k]
    boxes = bboxes[order]
    keep = _keep_upper_triangle(bbox_overlaps(boxes, boxes), iou_thr) & (
        sorted_best > score_thr)
    inds = order[keep]
    if max_num > 0:
        inds = inds[:max_num]
    dets = torch.cat([bboxes[inds], best[inds, None]], dim=1)
    return dets, labels[inds], inds


def per_class_fast_nms(bboxes: Tensor, scores: Tensor, score_thr: float,
                       iou_thr: float, top_k: int,
                       max_num: int = -1) -> Tuple[Tensor, Tensor, Tensor]:
    """YOLACT's per-class Fast NMS; same I/O as :func:`cross_class_fast_nms`
    with ``top_k`` per class.

    All classes run as one batch: each class's ``top_k`` boxes by score,
    trimmed to the longest run above ``score_thr`` (a sorted prefix), one
    (C', m, m) IoU tensor over the C' classes that have any.
    """
    top = scores.t().topk(min(top_k, scores.size(0)), dim=1)  # (C, k)
    valid = top.values > score_thr  # a prefix of each row: sorted
    counts = valid.sum(1)
    classes = counts.nonzero()[:, 0]
    m = int(counts.max()) if len(classes) else 0
    rows = top.indices[classes, :m]  # (C', m)
    valid = valid[classes, :m]
    # IoU once over the distinct candidate boxes, gathered per class: a box
    # that is a candidate of several classes is not measured again
    uniq, local = torch.unique(rows, return_inverse=True)
    iou = bbox_overlaps(bboxes[uniq], bboxes[uniq])
    iou = iou[local[:, :, None], local[:, None, :]]  # (C', m, m)
    keep = _keep_upper_triangle(iou, iou_thr) & valid
    inds, det_scores = rows[keep], top.values[classes, :m][keep]
    labels = classes[:, None].expand_as(rows)[keep]
    det_scores, order = det_scores.sort(descending=True)
    if max_num > 0:
        order, det_scores = order[:max_num], det_scores[:max_num]
    inds, labels = inds[order], labels[order]
    return torch.cat([bboxes[inds], det_scores[:, None]], 1), labels, inds


def standard_nms(bboxes: Tensor, scores: Tensor, score_thr: float,
                 iou_thr: float, top_k: int,
                 max_num: int = -1) -> Tuple[Tensor, Tensor, Tensor]:
    """Standard per-class NMS (mmcv ``batched_nms``) on the same candidates
    as :func:`per_class_fast_nms`: the ``top_k`` best of each class, then
    scores above ``score_thr``; same outputs."""
    num_classes = scores.size(1)
    top = scores.t().topk(min(top_k, scores.size(0)), dim=1)
    rows = top.indices.reshape(-1)
    cand_scores = top.values.reshape(-1)
    labels = torch.arange(num_classes, device=scores.device).repeat_interleave(
        top.indices.size(1))
    valid = cand_scores > score_thr
    rows, cand_scores, labels = rows[valid], cand_scores[valid], labels[valid]
    dets, keep = batched_nms(bboxes[rows], cand_scores, labels,
                             dict(type='nms', iou_threshold=iou_thr))
    if max_num > 0:
        dets, keep = dets[:max_num], keep[:max_num]
    return dets, labels[keep], rows[keep]


def multiclass_nms(bboxes: Tensor, scores: Tensor,
                   cfg: dict) -> Tuple[Tensor, Tensor, Tensor]:
    """Run the NMS that ``cfg['type']`` names.

    Args:
        bboxes (Tensor): shape (n, 4), (x1, y1, x2, y2) in pixels.
        scores (Tensor): shape (n, C), class scores without background.
        cfg (dict): ``type`` (one of ``fast_nms``, ``cross_class_fast_nms``,
            ``nms``), ``iou_threshold``, and optionally ``score_thr``
            (default 0.05), ``top_k`` (default 200, per class for the
            per-class types) and ``max_per_img`` (default 100).

    Returns:
        tuple[Tensor, Tensor, Tensor]: dets (k, 5) (x1, y1, x2, y2, score)
        sorted by score, labels (k,) 0-based, inds (k,) input rows.

    Raises:
        ValueError: for an unknown ``type`` or shapes that do not match.
    """
    nms_type = cfg.get('type')
    if nms_type not in NMS_TYPES:
        raise ValueError(f'nms type {nms_type!r} unknown; allowed: '
                         f'{", ".join(NMS_TYPES)}')
    if bboxes.dim() != 2 or bboxes.size(-1) != 4 or \
            scores.size(0) != bboxes.size(0):
        raise ValueError(f'bboxes must be (n, 4) and scores (n, C); got '
                         f'{tuple(bboxes.shape)} and {tuple(scores.shape)}')
    fn = dict(fast_nms=per_class_fast_nms,
              cross_class_fast_nms=cross_class_fast_nms,
              nms=standard_nms)[nms_type]
    if bboxes.size(0) == 0:
        return (bboxes.new_zeros((0, 5)),
                torch.zeros(0, dtype=torch.long, device=bboxes.device),
                torch.zeros(0, dtype=torch.long, device=bboxes.device))
    return fn(bboxes, scores, cfg.get('score_thr', 0.05),
              cfg['iou_threshold'], cfg.get('top_k', 200),
              cfg.get('max_per_img', 100))
