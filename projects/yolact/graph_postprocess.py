"""YOLACT's (and YOLACT++'s, SSS's) post-processing in standard ONNX
operations, for the end-to-end export: what ``ZooYOLACTHead`` and
``ZooYOLACTProtonet`` (``YOLACTPlusPlusProtonet``) compute in
``predict_by_feat`` for one image at the input size, with the fixed shapes
of :mod:`projects.layers.graph_ops`.

YOLACT §3.3-3.4: per level the ``nms_pre`` anchors with the best
foreground score, boxes decoded from the anchor deltas, per-class Fast NMS
(or the test config's NMS), then the kept detections' mask coefficients
combine the prototypes (eq. 1), cropped to the box widened by one
prototype pixel. YOLACT++ §4 (mask re-scoring): each score times the
predicted mask IoU of its class, in the same order (as the PyTorch head,
no re-sort).
"""
from typing import List, Tuple

import torch
from torch import Tensor, nn

from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import \
    delta2bbox
from projects.layers.graph_ops import (graph_fast_nms, graph_nms,
                                       upsample_probs)


def _candidates(head: nn.Module, cls_scores: List[Tensor],
                bbox_preds: List[Tensor], coeff_preds: List[Tensor],
                input_shape: Tuple[int, int]) -> Tuple[Tensor, ...]:
    """mmdet's ``YOLACTHead._predict_by_feat_single`` up to NMS: boxes (n,
    4), foreground scores (n, C), coefficients (n, k)."""
    cfg = head.test_cfg
    nms_pre = cfg.get('nms_pre', -1)
    priors = head.prior_generator.grid_priors(
        [c.shape[-2:] for c in cls_scores], device=cls_scores[0].device)
    boxes, scores, coeffs = [], [], []
    for cls, box, coeff, anchors in zip(cls_scores, bbox_preds, coeff_preds,
                                        priors):
        cls = cls[0].permute(1, 2, 0).reshape(-1, head.cls_out_channels)
        score = cls.sigmoid() if head.use_sigmoid_cls else cls.softmax(-1)
        box = box[0].permute(1, 2, 0).reshape(-1, 4)
        coeff = coeff[0].permute(1, 2, 0).reshape(-1, head.num_protos)
        if 0 < nms_pre < score.size(0):
            best = score if head.use_sigmoid_cls else score[:, :-1]
            _, top = best.max(dim=1)[0].topk(nms_pre)
            anchors, box, score, coeff = (anchors[top], box[top],
                                          score[top], coeff[top])
        # the coder's own function: its decode() takes an ONNX-only path
        # that imports mmdet.core, gone in mmdet 3.x
        coder = head.bbox_coder
        boxes.append(delta2bbox(anchors, box, coder.means, coder.stds,
                                input_shape, clip_border=coder.clip_border,
                                add_ctr_clamp=coder.add_ctr_clamp,
                                ctr_clamp=coder.ctr_clamp))
        scores.append(score)
        coeffs.append(coeff)
    scores = torch.cat(scores)
    if not head.use_sigmoid_cls:
        scores = scores[:, :-1]  # the background column
    return torch.cat(boxes), scores, torch.cat(coeffs)


def yolact_graph_postprocess(model: nn.Module, head_outs: List[tuple],
                             input_shape: Tuple[int, int]
                             ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """End-to-end post-processing of a YOLACT, YOLACT++ or SSS detector.

    Args:
        model (nn.Module): the detector (``bbox_head``, ``mask_head``).
        head_outs (list[tuple]): the box head's ``(cls_scores, bbox_preds,
            coeff_preds)`` (lists per level of (1, ...) tensors) and the
            mask head's ``(prototypes, None)``, prototypes (1, h, w, k)
            channels last.
        input_shape (tuple[int, int]): (H, W) of the network input, pixels.

    Returns:
        tuple[Tensor, Tensor, Tensor, Tensor]: ``boxes`` (N, 4) in input
        pixels, ``scores`` (N,), ``labels`` (N,) int64, ``masks`` (N, H, W)
        mask probabilities, zero outside each (widened) box; N at most
        ``test_cfg.max_per_img``.

    Raises:
        NotImplementedError: ``test_cfg.nms.type`` is
            ``'cross_class_fast_nms'`` (no graph form yet).
    """
    head, mask_head = model.bbox_head, model.mask_head
    cfg = head.test_cfg
    nms_cfg = dict(cfg.get('nms', dict(type='fast_nms')))
    iou_thr = nms_cfg.get('iou_threshold', cfg.get('iou_thr', 0.5))
    boxes, scores, coeffs = _candidates(head, *head_outs[0], input_shape)
    if nms_cfg.get('type') == 'fast_nms':
        keep, labels, scores = graph_fast_nms(
            boxes, scores, cfg.score_thr, iou_thr, cfg.top_k,
            cfg.max_per_img)
    elif nms_cfg.get('type') == 'nms':
        # projects.layers.nms.standard_nms: each class's top_k, then NMS
        k = min(cfg.top_k, scores.size(0))
        top, rows = scores.t().topk(k, dim=1)  # (C, k)
        labels = torch.arange(scores.size(1)).repeat_interleave(k)
        rows, top = rows.reshape(-1), top.reshape(-1)
        top = torch.where(top > cfg.score_thr, top, top.new_zeros(()))
        kept = graph_nms(boxes[rows], top, labels, iou_thr, cfg.max_per_img)
        keep, labels, scores = rows[kept], labels[kept], top[kept]
    else:
        raise NotImplementedError(
            f"test_cfg.nms.type {nms_cfg.get('type')!r}: the end-to-end "
            "graph has 'fast_nms' and 'nms'")
    boxes = boxes[keep]
    prototypes = head_outs[1][0]  # then the train-only semantic logits
    masks = torch.sigmoid(prototypes[0] @ coeffs[keep].t())  # (h, w, N)
    relative = boxes / boxes.new_tensor(
        [input_shape[1], input_shape[0]] * 2)
    masks = mask_head.crop_single(masks, relative).permute(2, 0, 1)
    if hasattr(mask_head, 'predict_mask_ious'):  # YOLACT++ re-scoring
        scores = scores * mask_head.predict_mask_ious(masks, labels)
    return boxes, scores, labels, upsample_probs(masks, input_shape)
