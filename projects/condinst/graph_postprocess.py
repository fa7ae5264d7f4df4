"""CondInst's post-processing in standard ONNX operations, for the
end-to-end export: what mmdet's ``CondInstBboxHead.predict_by_feat``,
then :meth:`ZooCondInstMaskHead.forward_instances` and
``CondInstMaskHead.predict_by_feat`` compute for one image at the input
size, with the fixed shapes of :mod:`projects.layers.graph_ops`.

CondInst §3 (Shen's slides, "CondInst: dynamic mask head"): FCOS
detections (top ``nms_pre`` per level, scores times centerness, NMS); each
kept detection's controller output parameterises a small FCN (the dynamic
mask head) run on the mask branch's features, with the coordinates
relative to the detection's location (Fig. 3); the mask logits are
upsampled by ``aligned_bilinear`` to the input.

The dynamic mask head's grouped 1x1 convolutions (one group per instance)
become batched matrix products: ONNX's ``Conv`` fixes its group count in
the graph, the number of detections is not fixed.
"""
from typing import List, Tuple

import torch
from torch import Tensor, nn

from mmdet.models.utils.misc import aligned_bilinear, relative_coordinate_maps
from projects.layers.graph_ops import fcos_detections


def dynamic_mask_logits(mask_head: nn.Module, mask_feats: Tensor,
                        params: Tensor, points: Tensor,
                        strides: Tensor) -> Tensor:
    """The dynamic mask head of N instances as batched matrix products.

    Args:
        mask_head (nn.Module): a ``ZooCondInstMaskHead``.
        mask_feats (Tensor): shape (C, h, w), the mask branch's output.
        params (Tensor): shape (N, num_params), controller outputs.
        points (Tensor): shape (N, 2), the instances' locations, pixels.
        strides (Tensor): shape (N,), their levels' strides, pixels.

    Returns:
        Tensor: shape (N, h, w), mask logits at ``mask_feat_stride``.
    """
    c, h, w = mask_feats.shape
    inputs = mask_feats.reshape(1, c, h * w).expand(params.size(0), -1, -1)
    if mask_head.rel_coords:
        locations = mask_head.prior_generator.single_level_grid_priors(
            (h, w), 0, device=mask_feats.device)
        rel = relative_coordinate_maps(locations, points, strides,
                                       mask_head.size_of_interest, (h, w))
        inputs = torch.cat([rel.reshape(-1, 2, h * w), inputs], dim=1)
    chans = mask_head.layer_channels
    splits = torch.split_with_sizes(
        params, mask_head.weight_nums + mask_head.bias_nums, dim=1)
    x = inputs
    for i in range(mask_head.num_layers):
        weight = splits[i].reshape(-1, chans[i + 1], chans[i])
        bias = splits[mask_head.num_layers + i].reshape(-1, chans[i + 1], 1)
        x = torch.bmm(weight, x) + bias
        if i < mask_head.num_layers - 1:
            x = x.relu()
    return x.reshape(-1, h, w)


def condinst_graph_postprocess(model: nn.Module, head_outs: List[tuple],
                               input_shape: Tuple[int, int]
                               ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """End-to-end post-processing of a CondInst detector.

    Args:
        model (nn.Module): the detector (``bbox_head``, ``mask_head``).
        head_outs (list[tuple]): the box head's ``(cls_scores, bbox_preds,
            centernesses, param_preds)`` (lists per level of (1, ...)
            tensors) and the mask head's ``(mask_feats, )``, (1, C, h, w).
        input_shape (tuple[int, int]): (H, W) of the network input, pixels.

    Returns:
        tuple[Tensor, Tensor, Tensor, Tensor]: ``boxes`` (N, 4) in input
        pixels, ``scores`` (N,), ``labels`` (N,) int64, ``masks`` (N, H, W)
        mask probabilities; N at most ``test_cfg.max_per_img``, by
        descending score.

    Raises:
        NotImplementedError: ``test_cfg.nms.type`` is not ``'nms'``.
    """
    mask_head = model.mask_head
    boxes, scores, labels, extras = fcos_detections(
        model.bbox_head, head_outs[0], 'params', input_shape)
    (mask_feats, ) = head_outs[1]
    logits = dynamic_mask_logits(mask_head, mask_feats[0], extras['params'],
                                 extras['points'], extras['strides'])
    factor = int(mask_head.mask_feat_stride / mask_head.mask_out_stride)
    logits = aligned_bilinear(logits[None], factor)
    probs = aligned_bilinear(logits.sigmoid(), mask_head.mask_out_stride)
    probs = probs[0, :, :input_shape[0], :input_shape[1]]
    return boxes, scores, labels, probs
