"""SOLOv2's post-processing in standard ONNX operations, for the
end-to-end export: what ``ZooSOLOV2Head.predict_by_feat``
(:func:`~projects.solo.grid_postprocess.grid_predict`) computes for one
image at the input size, with the fixed shapes of
:mod:`projects.layers.graph_ops`.

SOLOv2 §3.3: category scores after point NMS; (cell, class) pairs above
``score_thr``; each pair's mask from its cell's dynamic kernel convolved
with the unified mask features; masks not larger than their level's stride
dropped; scores times maskness; Matrix NMS (§3.3.3); masks upsampled to the
input; boxes are the masks' tight boxes.

One deviation: the graph takes the ``nms_pre`` best pairs by category
score before the maskness re-scoring, PyTorch the ``nms_pre`` best after
it. The two agree whenever at most ``nms_pre`` pairs clear ``score_thr``
(500 and 0.1 in the zoo's configs).
"""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from projects.layers.graph_ops import (graph_matrix_nms, mask_boxes,
                                       topk_candidates, upsample_probs)


def solov2_graph_postprocess(model: nn.Module, head_outs: List[tuple],
                             input_shape: Tuple[int, int]
                             ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """End-to-end post-processing of a SOLOv2 detector.

    Args:
        model (nn.Module): the detector (``mask_head``: the SOLOv2 head).
        head_outs (list[tuple]): the head's ``(kernel_preds, cls_preds,
            mask_feats)``: per level (1, E * k * k, S, S) and (1, C, S, S),
            and (1, E, h, w).
        input_shape (tuple[int, int]): (H, W) of the network input, pixels.

    Returns:
        tuple[Tensor, Tensor, Tensor, Tensor]: ``boxes`` (N, 4) (the tight
        boxes of the binarised masks), ``scores`` (N,), ``labels`` (N,)
        int64, ``masks`` (N, H, W) mask probabilities; N at most
        ``test_cfg.max_per_img``, by descending score.
    """
    head = model.mask_head
    cfg = head.test_cfg
    kernel_preds, cls_preds, mask_feats = head_outs[0]
    scores, kernels, strides = [], [], []
    for kernel, cls, stride in zip(kernel_preds, cls_preds, head.strides):
        cls = cls.sigmoid()
        local_max = F.max_pool2d(cls, 2, stride=1, padding=1)
        cls = cls * (local_max[:, :, :-1, :-1] == cls)  # point NMS
        scores.append(cls[0].permute(1, 2, 0).reshape(-1,
                                                      head.cls_out_channels))
        kernels.append(kernel[0].permute(1, 2, 0).reshape(
            -1, head.kernel_out_channels))
        strides.append(torch.full((cls.shape[-2] * cls.shape[-1], ),
                                  float(stride)))
    top, cells, labels = topk_candidates(torch.cat(scores), cfg.nms_pre,
                                         cfg.score_thr)
    k = head.dynamic_conv_size
    weights = torch.cat(kernels)[cells].reshape(cells.size(0), -1, k, k)
    probs = F.conv2d(mask_feats, weights)[0].sigmoid()  # (K, h, w)
    masks = probs > cfg.mask_thr
    areas = masks.flatten(1).sum(1).float()
    maskness = (probs * masks).flatten(1).sum(1) / areas.clamp(min=1)
    scores = torch.where(areas > torch.cat(strides)[cells],
                         top * maskness, top.new_zeros(()))
    keep, scores = graph_matrix_nms(
        masks, labels, scores, areas, cfg.max_per_img, cfg.kernel,
        cfg.sigma, cfg.filter_thr)
    h, w = mask_feats.shape[-2:]
    probs = upsample_probs(probs[keep], (h * head.mask_stride,
                                         w * head.mask_stride))
    probs = upsample_probs(probs[:, :input_shape[0], :input_shape[1]],
                           input_shape)
    return mask_boxes(probs > cfg.mask_thr), scores, labels[keep], probs
