"""BlendMask box head: FCOS plus the top layer of attentions."""
from typing import List, Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule, Scale
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import CondInstBboxHead
from mmdet.registry import MODELS


@MODELS.register_module()
class BlendMaskBboxHead(CondInstBboxHead):
    """Box head of BlendMask (Chen et al., CVPR 2020; slides "BlendMask",
    Figure 2 "Top Layer"; AdelaiDet ``adet/modeling/blendmask/blendmask.py``
    ``top_layer`` and ``adet/modeling/fcos``).

    An FCOS head whose regression tower also feeds one 3x3 conv that
    predicts ``num_bases * attn_size**2`` attention values per location.
    mmdet's :class:`CondInstBboxHead` is exactly that shape of head (a 3x3
    ``controller`` conv on the regression tower, positives returned by its
    target computation and handed over by :meth:`get_positive_infos`, the
    kept locations' outputs carried through NMS), so this class subclasses it
    and its ``controller`` is BlendMask's top layer, with
    ``num_params = num_bases * attn_size**2``; the attentions travel in
    CondInst's ``param_preds`` fields (positive infos and detections).

    Differences from :class:`CondInstBboxHead`:

    1. ``num_params`` comes from ``num_bases`` and ``attn_size``.
    2. Centre sampling uses the GT box centres, as AdelaiDet's FCOS, not
       CondInst's mask centroids (:meth:`_get_targets_single`).
    3. ``num_share_convs`` 3x3 conv-norm-ReLU layers shared by both towers
       run first (AdelaiDet ``FCOS.NUM_SHARE_CONVS``); BlendMask-RT uses 3
       shared convs and ``stacked_convs=0``.

    Args:
        num_bases (int): Number of bases K. Defaults to 4.
        attn_size (int): Side A of the attention maps. Defaults to 14.
        num_share_convs (int): Shared tower convs before the class and box
            towers. Defaults to 0.
        **kwargs: Arguments of :class:`FCOSHead` (not ``num_params``).

    Raises:
        ValueError: if ``num_params`` is given, or ``num_bases`` or
            ``attn_size`` is below 1.

    Example:
        >>> head = BlendMaskBboxHead(
        ...     num_classes=3, in_channels=8, feat_channels=8,
        ...     stacked_convs=1, num_bases=2, attn_size=3,
        ...     strides=[8, 16, 32], regress_ranges=((-1, 64), (64, 128),
        ...     (128, 1e8)), norm_cfg=dict(type='GN', num_groups=4))
        >>> feats = [torch.rand(1, 8, s, s) for s in [16, 8, 4]]
        >>> cls, bbox, ctr, attn = head(feats)
        >>> attn[0].shape
        torch.Size([1, 18, 16, 16])
    """

    def __init__(self,
                 *args,
                 num_bases: int = 4,
                 attn_size: int = 14,
                 num_share_convs: int = 0,
                 **kwargs) -> None:
        if 'num_params' in kwargs:
            raise ValueError(
                'BlendMaskBboxHead: num_params is num_bases * attn_size**2; '
                'set num_bases and attn_size instead')
        if num_bases < 1 or attn_size < 1:
            raise ValueError(f'num_bases={num_bases} and attn_size='
                             f'{attn_size} must be >= 1')
        self.num_bases = num_bases
        self.attn_size = attn_size
        self.num_share_convs = num_share_convs
        super().__init__(
            *args, num_params=num_bases * attn_size**2, **kwargs)

    def _init_layers(self) -> None:
        """CondInst's layers plus the optional shared tower."""
        super()._init_layers()
        self.share_convs = nn.ModuleList(
            ConvModule(
                self.in_channels if i == 0 else self.feat_channels,
                self.feat_channels, 3, padding=1, conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg, bias=self.conv_bias)
            for i in range(self.num_share_convs))

    def forward_single(self, x: Tensor, scale: Scale,
                       stride: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """Forward one level through the shared tower, then CondInst's.

        Args:
            x (Tensor): shape (B, C, H_l, W_l).
            scale (Scale): the level's box scale.
            stride (int): the level's stride.

        Returns:
            tuple[Tensor]: class scores (B, num_classes, H_l, W_l), box
            distances (B, 4, H_l, W_l), centerness logits (B, 1, H_l, W_l)
            and attentions (B, K * A * A, H_l, W_l).
        """
        for conv in self.share_convs:
            x = conv(x)
        return super().forward_single(x, scale, stride)

    def _get_targets_single(
            self, gt_instances: InstanceData, points: Tensor,
            regress_ranges: Tensor, num_points_per_lvl: List[int]
    ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """CondInst's targets with box-centre sampling (AdelaiDet FCOS).

        :meth:`CondInstBboxHead._get_targets_single` samples around the mask
        centroid whenever ``gt_instances`` holds masks; BlendMask's FCOS
        samples around the box centre, so the masks are left out here.

        Returns:
            tuple[Tensor, Tensor, Tensor, Tensor]: labels (N,), box targets
            (N, 4) in pixels, positive location indices (P,) and their GT
            indices (P,).
        """
        boxes_only = InstanceData(
            bboxes=gt_instances.bboxes, labels=gt_instances.labels)
        return super()._get_targets_single(boxes_only, points,
                                           regress_ranges, num_points_per_lvl)
