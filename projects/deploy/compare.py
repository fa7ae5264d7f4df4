"""Agreement of two detectors' results on the same image (PyTorch against
onnxruntime, fp32 against int8): matched detections, their box and mask
IoU."""
from typing import Dict

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.structures.bbox import bbox_overlaps, get_box_tensor


def mask_iou_pairs(a: Tensor, b: Tensor) -> Tensor:
    """IoU of each pair of binary masks; two empty masks count as 1.

    Args:
        a (Tensor): shape (n, H, W), bool.
        b (Tensor): shape (n, H, W), bool.

    Returns:
        Tensor: shape (n,), in [0, 1].
    """
    a, b = a.flatten(1).bool(), b.flatten(1).bool()
    inter = (a & b).sum(1).float()
    union = (a | b).sum(1).float()
    return torch.where(union > 0, inter / union.clamp(min=1),
                       torch.ones_like(union))


def match_detections(ref: InstanceData, test: InstanceData,
                     min_iou: float = 0.5, box_atol: float = 1e-3) -> Dict:
    """Match each reference detection, best score first, to the unmatched
    test detection of the same label with the highest box IoU, if that IoU
    is at least ``min_iou``.

    Matching by boxes rather than by rank keeps two detections whose scores
    differ in the last bits (and swap places) a match.

    Args:
        ref (InstanceData): ``bboxes`` (n, 4), ``scores`` (n,), ``labels``
            (n,) and optionally ``masks`` (n, H, W).
        test (InstanceData): the same fields, (m, ...).
        min_iou (float): least box IoU of a match.
        box_atol (float): boxes whose coordinates all differ by at most this
            many pixels count as IoU 1 (an untrained model predicts
            zero-area boxes, whose IoU with themselves is 0).

    Returns:
        dict: ``num_ref`` and ``num_test`` (int), ``matched`` (int),
        ``min_box_iou``, ``mean_box_iou``, ``min_mask_iou`` and
        ``mean_mask_iou`` over the matched pairs (float; 1.0 when nothing
        matched, mask entries None without masks), ``max_score_diff``
        (float, absolute).
    """
    n, m = len(ref), len(test)
    out = dict(num_ref=n, num_test=m, matched=0, min_box_iou=1.0,
               mean_box_iou=1.0, min_mask_iou=None, mean_mask_iou=None,
               max_score_diff=0.0)
    has_masks = 'masks' in ref and 'masks' in test
    if has_masks:
        out.update(min_mask_iou=1.0, mean_mask_iou=1.0)
    if n == 0 or m == 0:
        return out
    ref_boxes = get_box_tensor(ref.bboxes).float()
    test_boxes = get_box_tensor(test.bboxes).float()
    ious = bbox_overlaps(ref_boxes, test_boxes)
    # equal boxes agree even when degenerate (zero area: IoU 0)
    same = (ref_boxes[:, None] - test_boxes[None]).abs().amax(-1) <= box_atol
    ious[same] = 1.0
    ious[ref.labels[:, None] != test.labels[None, :]] = -1
    taken = torch.zeros(m, dtype=torch.bool)
    pairs = []
    for i in ref.scores.argsort(descending=True).tolist():
        row = ious[i].masked_fill(taken, -1)
        j = int(row.argmax())
        if row[j] < min_iou:
            continue
        taken[j] = True
        pairs.append((i, j))
    if not pairs:
        return out
    ri, ti = (torch.tensor(p) for p in zip(*pairs))
    box = ious[ri, ti]
    out.update(matched=len(pairs), min_box_iou=float(box.min()),
               mean_box_iou=float(box.mean()),
               max_score_diff=float(
                   (ref.scores[ri] - test.scores[ti]).abs().max()))
    if has_masks:
        miou = mask_iou_pairs(ref.masks[ri], test.masks[ti])
        out.update(min_mask_iou=float(miou.min()),
                   mean_mask_iou=float(miou.mean()))
    return out
