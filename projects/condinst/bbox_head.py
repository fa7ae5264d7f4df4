"""CondInst's FCOS box head with an optional tower shared by the
classification and regression branches (the real-time recipe).

AdelaiDet: ``adet/modeling/fcos/fcos.py`` (``FCOSHead``,
``NUM_SHARE_CONVS``) and ``configs/BlendMask/Base-550.yaml``
(``NUM_SHARE_CONVS: 3``, ``NUM_CLS_CONVS: 0``, ``NUM_BOX_CONVS: 0``).
"""
from typing import Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule, Scale
from torch import Tensor

from mmdet.models.dense_heads import CondInstBboxHead
from mmdet.registry import MODELS


@MODELS.register_module()
class ZooCondInstBboxHead(CondInstBboxHead):
    """mmdet's :class:`CondInstBboxHead` with ``num_share_convs`` 3x3 convs
    applied before the classification and regression towers.

    What differs from mmdet 3.3 and why: mmdet's FCOS heads have separate
    towers only; AdelaiDet's real-time models (BlendMask ``RT_R_50_4x``)
    run one shared tower of 3 convs and no separate convs, which halves
    the head's cost. ``_init_layers`` adds the shared convs (with the
    towers' norm and bias settings) and ``forward_single`` runs them before
    mmdet's. With ``num_share_convs=0`` (the default) the head is mmdet's.
    For the RT recipe set ``stacked_convs=0`` and ``in_channels ==
    feat_channels``.

    Args:
        num_share_convs (int): Shared 3x3 convs. Defaults to 0.
        *args, **kwargs: :class:`CondInstBboxHead`'s.

    Raises:
        ValueError: if ``num_share_convs`` is negative, or if there is no
            conv at all and ``in_channels != feat_channels`` (the
            predictors take ``feat_channels`` inputs).
    """

    def __init__(self, *args, num_share_convs: int = 0, **kwargs) -> None:
        if num_share_convs < 0:
            raise ValueError(
                f'bbox_head.num_share_convs={num_share_convs}, must be >= 0')
        self.num_share_convs = num_share_convs
        super().__init__(*args, **kwargs)
        if num_share_convs == 0 and self.stacked_convs == 0 and \
                self.in_channels != self.feat_channels:
            raise ValueError(
                'bbox_head: stacked_convs=0 and num_share_convs=0 need '
                f'in_channels == feat_channels, got {self.in_channels} and '
                f'{self.feat_channels}')

    def _init_layers(self) -> None:
        """mmdet's layers plus ``share_convs`` (in -> feat channels)."""
        super()._init_layers()
        self.share_convs = nn.ModuleList([
            ConvModule(
                self.in_channels if i == 0 else self.feat_channels,
                self.feat_channels,
                3,
                padding=1,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
                bias=self.conv_bias) for i in range(self.num_share_convs)
        ])

    def forward_single(self, x: Tensor, scale: Scale,
                       stride: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """The shared tower, then mmdet's :meth:`forward_single`.

        Args:
            x (Tensor): one FPN level, shape (B, in_channels, H, W).
            scale (Scale): the level's learnable box scale.
            stride (int): the level's stride in pixels.

        Returns:
            tuple[Tensor, Tensor, Tensor, Tensor]: class scores (B,
            num_classes, H, W), box distances (B, 4, H, W), centerness (B,
            1, H, W) and dynamic parameters (B, num_params, H, W).
        """
        for conv in self.share_convs:
            x = conv(x)
        return super().forward_single(x, scale, stride)
