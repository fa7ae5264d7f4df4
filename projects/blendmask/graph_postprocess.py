"""BlendMask's post-processing in standard ONNX operations, for the
end-to-end export: what ``BlendMaskBboxHead.predict_by_feat`` (mmdet's
``CondInstBboxHead``) and :meth:`BlendMaskMaskHead.predict_by_feat`
compute for one image at the input size, with the fixed shapes of
:mod:`projects.layers.graph_ops`.

BlendMask (Shen's slides, Figure 1 "Blending process"): FCOS detections
(top ``nms_pre`` per level, scores times centerness, NMS); each kept box
crops the K bases with RoIAlign (ONNX ``RoiAlign``, ``half_pixel``) to
R x R; its K x A x A attention is upsampled to R x R, softmaxed over the
bases, multiplied with the crops and summed; the sigmoid of the blend is
pasted into the image at the box (``grid_sample``, as mmdet's
``_do_paste_mask``).
"""
from typing import List, Tuple

import torch
from torch import Tensor, nn

from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
from projects.layers.graph_ops import RoIAlignAligned, fcos_detections


def blendmask_graph_postprocess(model: nn.Module, head_outs: List[tuple],
                                input_shape: Tuple[int, int]
                                ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """End-to-end post-processing of a BlendMask detector.

    Args:
        model (nn.Module): the detector (``bbox_head``, ``mask_head``).
        head_outs (list[tuple]): the box head's ``(cls_scores, bbox_preds,
            centernesses, param_preds)`` (attentions, lists per level of
            (1, ...) tensors) and the mask head's ``(bases, None)``, bases
            (1, K, h, w).
        input_shape (tuple[int, int]): (H, W) of the network input, pixels.

    Returns:
        tuple[Tensor, Tensor, Tensor, Tensor]: ``boxes`` (N, 4) in input
        pixels, ``scores`` (N,), ``labels`` (N,) int64, ``masks`` (N, H, W)
        mask probabilities, zero outside each box (and for a box of zero
        width or height); N at most ``test_cfg.max_per_img``, by descending
        score.

    Raises:
        NotImplementedError: ``test_cfg.nms.type`` is not ``'nms'``.
    """
    boxes, scores, labels, extras = fcos_detections(
        model.bbox_head, head_outs[0], 'attns', input_shape)
    bases = head_outs[1][0]  # then the train-only semantic logits
    attns = extras['attns']
    blender = model.mask_head.blender
    align = blender.roi_align
    crops = RoIAlignAligned.apply(bases, boxes, blender.pooler_resolution,
                                  align.spatial_scale, align.sampling_ratio)
    probs = blender.merge(crops, attns).sigmoid()
    pasted, _ = _do_paste_mask(probs[:, None], boxes, input_shape[0],
                               input_shape[1], skip_empty=False)
    empty = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    pasted = torch.where(empty[:, None, None], pasted.new_zeros(()), pasted)
    return boxes, scores, labels, pasted
