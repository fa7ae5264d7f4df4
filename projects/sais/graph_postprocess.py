"""SAIS's post-processing in standard ONNX operations, for the end-to-end
export: what :meth:`SAISHead.predict_by_feat` and
:meth:`SAISMaskHead.predict_by_feat` compute for one image at the input
size, with the fixed shapes of :mod:`projects.layers.graph_ops`.

SAIS paper §3 (inference): per level the ``nms_pre`` best (location,
class) scores above ``score_thr``, boxes decoded from the FCOS distances,
scores times centerness, NMS (or Fast NMS with ``test_cfg.nms.type``
``'fast_nms'``), then each kept detection's mask coefficients combine the
prototypes (YOLACT eq. 1), cropped to its box and upsampled to the input.
SAIS-RT uses the same heads, so the same function.
"""
from typing import List, Tuple

from torch import Tensor, nn

from projects.layers.graph_ops import (fcos_candidates, graph_fast_nms,
                                       graph_nms, upsample_probs)
from projects.layers.prototypes import assemble_masks, crop_masks


def sais_graph_postprocess(model: nn.Module, head_outs: List[tuple],
                           input_shape: Tuple[int, int]
                           ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """End-to-end post-processing of a SAIS (or SAIS-RT) detector.

    Args:
        model (nn.Module): the detector (``bbox_head``, ``mask_head``).
        head_outs (list[tuple]): the box head's ``(cls_scores, bbox_preds,
            centernesses, coeff_preds)`` (lists per level of (1, ...)
            tensors) and the mask head's ``(prototypes, )``, (1, k, h, w).
        input_shape (tuple[int, int]): (H, W) of the network input, pixels.

    Returns:
        tuple[Tensor, Tensor, Tensor, Tensor]: ``boxes`` (N, 4) in input
        pixels, ``scores`` (N,), ``labels`` (N,) int64 and ``masks``
        (N, H, W) mask probabilities, zero outside each box; N at most
        ``test_cfg.max_per_img``, by descending score.

    Raises:
        NotImplementedError: ``test_cfg.nms.type`` is neither ``'nms'`` nor
            ``'fast_nms'``.
    """
    head = model.bbox_head
    cfg = head.test_cfg
    nms_cfg = cfg.get('nms', dict(type='nms'))
    if nms_cfg.get('type', 'nms') not in ('nms', 'fast_nms'):
        raise NotImplementedError(
            f"test_cfg.nms.type {nms_cfg['type']!r}: the end-to-end graph "
            "has 'nms' and 'fast_nms'")
    cls_scores, bbox_preds, centernesses, coeff_preds = head_outs[0]
    (prototypes, ) = head_outs[1]
    boxes, scores, labels, extras = fcos_candidates(
        head, cls_scores, bbox_preds, centernesses,
        dict(coeffs=coeff_preds), input_shape)
    coeffs = extras['coeffs']
    max_out = cfg.get('max_per_img', 100)
    if nms_cfg.get('type', 'nms') == 'nms':
        keep = graph_nms(boxes, scores, labels, nms_cfg['iou_threshold'],
                         max_out)
        scores, labels = scores[keep], labels[keep]
    else:  # SAISHead._bbox_post_process: one score column per class
        matrix = scores.new_zeros(scores.size(0), head.num_classes)
        matrix = matrix.scatter(1, labels[:, None], scores[:, None])
        keep, labels, scores = graph_fast_nms(
            boxes, matrix, 0.0, nms_cfg['iou_threshold'], scores.size(0),
            max_out)
    boxes, coeffs = boxes[keep], coeffs[keep]
    probs = crop_masks(
        assemble_masks(prototypes[0], coeffs).sigmoid(), boxes,
        prototypes.size(-2) / input_shape[0])
    return boxes, scores, labels, upsample_probs(probs, input_shape)
