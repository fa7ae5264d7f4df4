"""BlendMask mask head: bottom module + blender, losses and pasting."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmdet.models.dense_heads.base_mask_head import BaseMaskHead
from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
from mmdet.registry import MODELS
from mmdet.structures.bbox import get_box_tensor, scale_boxes
from mmdet.utils import (InstanceList, OptConfigType, OptMultiConfig,
                         reduce_mean)
from projects.layers.graph_ops import register_graph_postprocess
from projects.layers.head_outputs import (SINGLE, TRAIN_ONLY, HeadOutputs,
                                          register_head_outputs)
from projects.layers.mask_bases import register_mask_bases
from .basis_module import BasisModule
from .blender import Blender
from .graph_postprocess import blendmask_graph_postprocess
from .semantic_target import semantic_targets


def centerness_targets(points: Tensor, boxes: Tensor) -> Tensor:
    """FCOS centerness of locations inside their GT boxes.

    ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))``, the value
    :meth:`FCOSHead.centerness_target` gives for the same (l, t, r, b).

    Args:
        points (Tensor): shape (P, 2), (x, y) in input pixels.
        boxes (Tensor): shape (P, 4), (x1, y1, x2, y2) in input pixels.

    Returns:
        Tensor: shape (P,), in [0, 1].
    """
    lr = torch.stack([points[:, 0] - boxes[:, 0], boxes[:, 2] - points[:, 0]],
                     -1).clamp(min=0)
    tb = torch.stack([points[:, 1] - boxes[:, 1], boxes[:, 3] - points[:, 1]],
                     -1).clamp(min=0)
    ratio = (lr.min(-1)[0] / lr.max(-1)[0].clamp(min=1e-6)) * (
        tb.min(-1)[0] / tb.max(-1)[0].clamp(min=1e-6))
    return ratio.sqrt()


@register_graph_postprocess(blendmask_graph_postprocess)
@register_mask_bases('bases')
@register_head_outputs(
    HeadOutputs((('bases', SINGLE), ('sem_logits', TRAIN_ONLY))))
@MODELS.register_module()
class BlendMaskMaskHead(BaseMaskHead):
    """Mask branch of BlendMask (Chen et al., CVPR 2020; slides "BlendMask",
    Figures 1-2; AdelaiDet ``adet/modeling/blendmask/``).

    The :class:`~projects.blendmask.basis_module.BasisModule` predicts K
    bases from P3-P5; the :class:`~projects.blendmask.blender.Blender` crops
    them per instance and blends them with that instance's attentions from
    :class:`~projects.blendmask.blendmask_bbox_head.BlendMaskBboxHead`.

    Training (AdelaiDet ``Blender.__call__``): every positive location of
    the box head (``positive_infos``) blends the bases inside its GT box;
    the BCE against the GT mask cropped and resized to R x R
    (``BitmapMasks/PolygonMasks.crop_and_resize``) is averaged over the
    R x R cells, weighted by the FCOS centerness target of the location and
    normalised by the sum of these weights (averaged over processes).
    ``max_masks_to_train`` keeps at most that many positives per image,
    sampled at random as mmdet's ``CondInstMaskHead`` and YOLACT do, and the
    sum then runs over the kept ones; AdelaiDet's BlendMask keeps them all
    (-1; its ``TOP_INTERP`` is the attention's interpolation mode, not a
    count). With ``num_classes`` set, the auxiliary semantic loss
    (``sem_loss_weight``, 0.3) is a cross entropy against
    :func:`~projects.blendmask.semantic_target.semantic_targets`.

    Testing: the detections that survived NMS blend the bases inside their
    predicted boxes; the R x R probabilities are pasted at the original
    image size (``rescale=True``) with mmdet's ``_do_paste_mask`` and
    thresholded at ``test_cfg.mask_thr_binary``.

    Args:
        in_channels (int): FPN channels. Defaults to 256.
        feat_channels (int): Bottom module channels. Defaults to 128.
        num_bases (int): K. Defaults to 4.
        num_convs (int): Bottom module convs. Defaults to 3.
        in_levels (Sequence[int]): FPN outputs the bottom module reads.
            Defaults to (0, 1, 2).
        in_stride (int): Stride of ``in_levels[0]``. Defaults to 8.
        basis_stride (int): Bases' stride, 4 or 8. Defaults to 4.
        attn_size (int): A, as the box head's. Defaults to 14.
        pooler_resolution (int): R. Defaults to 56.
        sampling_ratio (int): RoIAlign sampling ratio. Defaults to 1.
        num_classes (int, optional): Thing classes of the semantic loss, as
            the box head's; None turns that loss off. Defaults to None.
        sem_loss_weight (float): Semantic loss weight. Defaults to 0.3.
        loss_mask_weight (float): Mask loss weight (AdelaiDet
            ``INSTANCE_LOSS_WEIGHT``). Defaults to 1.
        max_masks_to_train (int): Positives per image in the mask loss, -1
            for all. Defaults to -1.
        norm_cfg (dict, optional): Bottom module norm. Defaults to BN.
        train_cfg (dict, optional): Unused.
        test_cfg (dict, optional): ``mask_thr_binary`` (default 0.5).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int = 256,
                 feat_channels: int = 128,
                 num_bases: int = 4,
                 num_convs: int = 3,
                 in_levels: Sequence[int] = (0, 1, 2),
                 in_stride: int = 8,
                 basis_stride: int = 4,
                 attn_size: int = 14,
                 pooler_resolution: int = 56,
                 sampling_ratio: int = 1,
                 num_classes: Optional[int] = None,
                 sem_loss_weight: float = 0.3,
                 loss_mask_weight: float = 1.0,
                 max_masks_to_train: int = -1,
                 norm_cfg: OptConfigType = dict(type='BN'),
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if max_masks_to_train == 0 or max_masks_to_train < -1:
            raise ValueError(f'max_masks_to_train={max_masks_to_train} must '
                             'be -1 (all) or positive')
        self.basis_module = BasisModule(
            in_channels, feat_channels, num_bases, num_convs, in_levels,
            in_stride, basis_stride, num_classes, norm_cfg)
        self.blender = Blender(num_bases, attn_size, pooler_resolution,
                               basis_stride, sampling_ratio)
        self.sem_loss_weight = sem_loss_weight
        self.loss_mask_weight = loss_mask_weight
        self.max_masks_to_train = max_masks_to_train
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def forward(self, x: Tuple[Tensor],
                *args) -> Tuple[Tensor, Optional[Tensor]]:
        """Bases and (training) semantic logits.

        Args:
            x (tuple[Tensor]): FPN levels, each (B, C, H_l, W_l).
            *args: positive infos or detections; unused here.

        Returns:
            tuple[Tensor, Tensor | None]: see :meth:`BasisModule.forward`.
        """
        return self.basis_module(x)

    def loss_by_feat(self, bases: Tensor, sem_logits: Optional[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     positive_infos: Optional[InstanceList] = None,
                     **kwargs) -> Dict[str, Tensor]:
        """Centerness-weighted blended-mask BCE (+ semantic loss).

        Args:
            bases (Tensor): shape (B, K, H_b, W_b).
            sem_logits (Tensor, optional): shape (B, num_classes + 1, h, w).
            batch_gt_instances (list[InstanceData]): ``bboxes`` (G, 4) in
                input pixels, ``labels`` (G,), ``masks`` (padded to the
                batch input shape) per image.
            batch_img_metas (list[dict]): Image meta information.
            positive_infos (list[InstanceData]): per image ``param_preds``
                (P, K * A * A), ``points`` (P, 2) and
                ``pos_assigned_gt_inds`` (P,), from the box head.

        Returns:
            dict[str, Tensor]: ``loss_mask`` (0 with a gradient path when no
            image has a positive) and, with a semantic head,
            ``loss_basis_sem``.

        Raises:
            ValueError: without ``positive_infos``.
        """
        if positive_infos is None:
            raise ValueError('BlendMaskMaskHead needs positive_infos; use '
                             'it with BlendMaskBboxHead as bbox_head')
        boxes, attns, targets, weights = [], [], [], []
        res = self.blender.pooler_resolution
        for gt, info in zip(batch_gt_instances, positive_infos):
            gt_inds = info.pos_assigned_gt_inds
            if self.max_masks_to_train > 0 and \
                    len(gt_inds) > self.max_masks_to_train:
                info = info[torch.randperm(
                    len(gt_inds),
                    device=gt_inds.device)[:self.max_masks_to_train]]
                gt_inds = info.pos_assigned_gt_inds
            gt_boxes = get_box_tensor(gt.bboxes)[gt_inds]
            boxes.append(gt_boxes)
            attns.append(info.param_preds)
            weights.append(centerness_targets(info.points, gt_boxes))
            if len(gt_inds) == 0:
                targets.append(bases.new_zeros(0, res, res))
                continue
            per_gt = gt.masks.crop_and_resize(
                get_box_tensor(gt.bboxes).detach().cpu().numpy(), (res, res),
                np.arange(len(gt)), device=bases.device)  # (G, R, R)
            targets.append(
                per_gt.to_tensor(bases.dtype, bases.device)[gt_inds])
        weights = torch.cat(weights)
        denorm = max(reduce_mean(weights.sum().detach()).item(), 1e-6)
        if len(weights) == 0:
            loss_mask = bases.sum() * 0 + sum(a.sum() for a in attns) * 0
        else:
            logits = self.blender(bases, boxes, torch.cat(attns))
            bce = F.binary_cross_entropy_with_logits(
                logits, torch.cat(targets), reduction='none').mean((1, 2))
            loss_mask = (bce * weights).sum() / denorm
        losses = dict(loss_mask=loss_mask * self.loss_mask_weight)
        if sem_logits is not None:
            sem_targets = torch.stack([
                semantic_targets(gt, sem_logits.shape[-2:], sem_logits.device)
                for gt in batch_gt_instances
            ])
            losses['loss_basis_sem'] = self.sem_loss_weight * F.cross_entropy(
                sem_logits, sem_targets)
        return losses

    def predict_by_feat(self,
                        bases: Tensor,
                        sem_logits: Optional[Tensor],
                        results_list: InstanceList,
                        batch_img_metas: List[dict],
                        rescale: bool = True,
                        **kwargs) -> InstanceList:
        """Masks of the detections, pasted at the original image size.

        Args:
            bases (Tensor): shape (B, K, H_b, W_b).
            sem_logits (Tensor, optional): unused at test time (None).
            results_list (list[InstanceData]): per image ``bboxes`` (n, 4) in
                input pixels, ``scores`` (n,), ``labels`` (n,) and
                ``param_preds`` (n, K * A * A) (plus CondInst's ``points``
                and ``strides``, dropped here).
            batch_img_metas (list[dict]): ``img_shape``, ``ori_shape``,
                ``scale_factor``.
            rescale (bool): Boxes and masks at the original image size (True)
                or at the resized input size (False).

        Returns:
            list[InstanceData]: ``bboxes`` (n, 4), ``scores`` (n,),
            ``labels`` (n,), ``masks`` (n, H, W) bool; H x W the original
            (or resized input) image size; n may be 0. A box of zero width
            or height gets an empty mask.
        """
        thr = (self.test_cfg or {}).get('mask_thr_binary', 0.5)
        logits = self.blender(bases, [r.bboxes for r in results_list],
                              torch.cat([r.param_preds
                                         for r in results_list]))
        probs = logits.sigmoid().split([len(r) for r in results_list])
        out = []
        for results, prob, meta in zip(results_list, probs, batch_img_metas):
            for key in ('param_preds', 'points', 'strides'):
                if key in results:
                    results.pop(key)
            if rescale:
                out_h, out_w = meta['ori_shape'][:2]
                sx, sy = meta['scale_factor']
                results.bboxes = scale_boxes(results.bboxes, (1 / sx, 1 / sy))
            else:
                out_h, out_w = meta['img_shape'][:2]
            if len(results) == 0:
                results.masks = prob.new_zeros(0, out_h, out_w, dtype=bool)
            else:
                boxes = results.bboxes
                masks, _ = _do_paste_mask(prob[:, None], boxes, out_h, out_w,
                                          skip_empty=False)
                # _do_paste_mask maps every pixel of a zero-width (or
                # -height) box to the mask's centre; such a box covers none
                empty = (boxes[:, 2] <= boxes[:, 0]) | (
                    boxes[:, 3] <= boxes[:, 1])
                results.masks = (masks >= thr) & ~empty[:, None, None]
            out.append(results)
        return out
