"""SAIS mask branch: protonet on P3 and prototype mask assembly."""
import math
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from mmdet.models.dense_heads.base_mask_head import BaseMaskHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import scale_boxes
from mmdet.utils import InstanceList, OptConfigType, OptMultiConfig
from projects.layers.graph_ops import register_graph_postprocess
from projects.layers.head_outputs import (SINGLE, HeadOutputs,
                                          register_head_outputs)
from projects.layers.mask_bases import register_mask_bases
from projects.layers.prototypes import (Protonet, assemble_masks, crop_masks,
                                        paste_masks)
from .graph_postprocess import sais_graph_postprocess


@register_graph_postprocess(sais_graph_postprocess)
@register_mask_bases('prototypes')
@register_head_outputs(HeadOutputs((('prototypes', SINGLE), )))
@MODELS.register_module()
class SAISMaskHead(BaseMaskHead):
    """Prototype mask head of SAIS (§III-A), YOLACT-style.

    A :class:`~projects.layers.prototypes.Protonet` on FPN level
    ``proto_level`` (P3) predicts ``k`` prototypes at 1/4 of the input.
    Training: for the positive locations chosen by :class:`SAISHead`, masks
    ``M = sigmoid(P C^T)`` are cropped by the GT box, and the pixel-wise BCE
    against the GT mask is summed inside the box and divided by the box area
    (YOLACT §3.2), then averaged over masks. Testing: masks only for the
    detections that survived NMS, cropped by their boxes and pasted at the
    original image size.

    Args:
        in_channels (int): Channels of the FPN level. Defaults to 256.
        feat_channels (int): Hidden channels of the protonet. Defaults to 256.
        num_protos (int): Number of prototypes ``k``. Defaults to 32.
        num_convs (int): Protonet 3x3 convs before upsampling. Defaults to 3.
        proto_level (int): FPN level index the protonet reads. Defaults to 0.
        max_masks_to_train (int): Positives per image whose masks are trained,
            sampled at random when there are more (YOLACT's
            ``masks_to_train``). Defaults to 100.
        loss_mask_weight (float): Weight of the mask loss. Defaults to 1.
        norm_cfg (dict, optional): Norm of the protonet's hidden convs. The
            zoo's configs use GN (32 groups), like the FCOS towers: without a
            norm the prototypes computed from P3 are large and their ReLUs
            die early in training (docs/results/fruits_nuts_cpu). Defaults
            to None (YOLACT's protonet has no norm).
        proto_norm (bool): See :class:`~projects.layers.prototypes.Protonet`.
            Defaults to False.
        train_cfg, test_cfg (dict, optional): ``test_cfg.mask_thr_binary``
            (default 0.5) binarises the pasted masks.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int = 256,
                 feat_channels: int = 256,
                 num_protos: int = 32,
                 num_convs: int = 3,
                 proto_level: int = 0,
                 max_masks_to_train: int = 100,
                 loss_mask_weight: float = 1.0,
                 norm_cfg: OptConfigType = None,
                 proto_norm: bool = False,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.protonet = Protonet(in_channels, feat_channels, num_protos,
                                 num_convs, norm_cfg=norm_cfg,
                                 proto_norm=proto_norm)
        self.proto_level = proto_level
        self.max_masks_to_train = max_masks_to_train
        self.loss_mask_weight = loss_mask_weight
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def forward(self, x: Tuple[Tensor], *args) -> Tuple[Tensor]:
        """Predict prototypes.

        Args:
            x (tuple[Tensor]): FPN levels, each (B, C, H_l, W_l).
            *args: positive infos or detections; unused here.

        Returns:
            tuple[Tensor]: prototypes, shape (B, k, H_p, W_p) with
            H_p = 2 H_{proto_level} (1/4 of the input on P3).
        """
        return (self.protonet(x[self.proto_level]), )

    def loss_by_feat(self, prototypes: Tensor,
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict], positive_infos: InstanceList,
                     **kwargs) -> Dict[str, Tensor]:
        """Box-area-normalised BCE of the positives' masks.

        Args:
            prototypes (Tensor): shape (B, k, H_p, W_p).
            batch_gt_instances (list[InstanceData]): ``bboxes`` (G, 4) in
                input pixels and ``masks`` (BitmapMasks/PolygonMasks padded to
                the batch input shape) per image.
            batch_img_metas (list[dict]): must hold ``batch_input_shape``.
            positive_infos (list[InstanceData]): ``coeffs`` (P, k) and
                ``pos_assigned_gt_inds`` (P,) per image, from the box head.

        Returns:
            dict[str, Tensor]: ``loss_mask``, a scalar; exactly 0 (with a
            gradient path) when no image has a positive location.
        """
        if positive_infos is None:
            raise ValueError('SAISMaskHead needs positive_infos from the box '
                             'head; use it with SAISHead as bbox_head')
        proto_h, proto_w = prototypes.shape[-2:]
        per_mask = []
        for protos, gt, info, meta in zip(prototypes, batch_gt_instances,
                                          positive_infos, batch_img_metas):
            num_pos = len(info)
            if num_pos == 0 or len(gt) == 0:
                continue
            coeffs, gt_inds = info.coeffs, info.pos_assigned_gt_inds
            if num_pos > self.max_masks_to_train:
                keep = torch.randperm(
                    num_pos, device=coeffs.device)[:self.max_masks_to_train]
                coeffs, gt_inds = coeffs[keep], gt_inds[keep]
            pad_h, pad_w = meta['batch_input_shape']
            scale = proto_h / pad_h
            gt_masks = gt.masks.to_tensor(
                dtype=protos.dtype, device=protos.device)
            gt_masks = F.interpolate(
                gt_masks[None], (proto_h, proto_w), mode='bilinear',
                align_corners=False)[0].gt(0.5).to(protos.dtype)
            logits = assemble_masks(protos, coeffs)
            bce = F.binary_cross_entropy_with_logits(
                logits, gt_masks[gt_inds], reduction='none')
            boxes = gt.bboxes[gt_inds]
            bce = crop_masks(bce, boxes, scale)
            area = ((boxes[:, 2] - boxes[:, 0]) * scale).clamp(min=1) * (
                (boxes[:, 3] - boxes[:, 1]) * scale).clamp(min=1)
            per_mask.append(bce.sum((1, 2)) / area)
        if not per_mask:
            return dict(loss_mask=prototypes.sum() * 0)
        loss = torch.cat(per_mask).mean() * self.loss_mask_weight
        return dict(loss_mask=loss)

    def predict_by_feat(self,
                        prototypes: Tensor,
                        results_list: InstanceList,
                        batch_img_metas: List[dict],
                        rescale: bool = True,
                        **kwargs) -> InstanceList:
        """Masks for the detections that survived NMS.

        Args:
            prototypes (Tensor): shape (B, k, H_p, W_p).
            results_list (list[InstanceData]): per image ``bboxes`` (n, 4) in
                input pixels, ``scores`` (n,), ``labels`` (n,), ``coeffs``
                (n, k).
            batch_img_metas (list[dict]): ``img_shape``,
                ``batch_input_shape``, ``ori_shape``, ``scale_factor``.
            rescale (bool): Boxes and masks at the original image size (True)
                or at the resized input size (False).

        Returns:
            list[InstanceData]: ``bboxes`` (n, 4), ``scores`` (n,), ``labels``
            (n,), ``masks`` (n, H, W) bool, H x W the original (or input)
            image size.

        Raises:
            ValueError: if ``test_cfg.mask_thr_binary`` is negative.
        """
        thr = (self.test_cfg or {}).get('mask_thr_binary', 0.5)
        out = []
        for protos, results, meta in zip(prototypes, results_list,
                                         batch_img_metas):
            coeffs = results.pop('coeffs')
            img_h, img_w = meta['img_shape'][:2]
            pad_h, pad_w = meta['batch_input_shape']
            if rescale:
                out_h, out_w = meta['ori_shape'][:2]
            else:
                out_h, out_w = img_h, img_w
            # size of the padded input when expressed at the output scale
            full_h = math.ceil(pad_h * out_h / img_h)
            full_w = math.ceil(pad_w * out_w / img_w)
            probs = crop_masks(
                assemble_masks(protos, coeffs).sigmoid(), results.bboxes,
                protos.size(-2) / pad_h)
            # upsampled only over each box's window (YOLACT shares it)
            results.masks = paste_masks(probs, full_h, full_w,
                                        thr)[:, :out_h, :out_w]
            if rescale:
                sx, sy = meta['scale_factor']
                results.bboxes = scale_boxes(results.bboxes, (1 / sx, 1 / sy))
                results.bboxes[:, 0::2].clamp_(0, out_w)
                results.bboxes[:, 1::2].clamp_(0, out_h)
            out.append(results)
        return out
