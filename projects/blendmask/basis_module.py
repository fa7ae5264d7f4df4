"""BlendMask bottom module: K global bases from FPN P3-P5."""
from typing import Optional, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.utils import OptConfigType, OptMultiConfig


class BasisModule(BaseModule):
    """Bottom module of BlendMask (slides "BlendMask", Figure 2 "Bottom
    Module"; AdelaiDet ``adet/modeling/blendmask/basis_module.py``,
    ``ProtoNet``).

    Each input FPN level is refined to ``feat_channels`` by a 3x3 conv,
    upsampled bilinearly to the first (finest, P3) level and summed; then
    ``num_convs`` 3x3 convs, a x2 bilinear upsampling when
    ``basis_stride`` is half the first level's stride, one more 3x3 conv and
    a 1x1 conv to ``num_bases`` bases. All hidden convs are conv-norm-ReLU
    (mmcv ``ConvModule``, its Kaiming init) as AdelaiDet's
    ``conv_with_kaiming_uniform(norm, True)``.

    With ``num_classes`` set, an auxiliary semantic head (two 3x3
    conv-norm-ReLU and a 1x1 conv to ``num_classes + 1`` logits, class 0 is
    background) reads the first level; its target is built on the fly from
    the instance masks (:func:`~projects.blendmask.semantic_target.
    semantic_targets`), AdelaiDet's ``LOSS_ON`` without ``basis_sem`` files.

    Args:
        in_channels (int): Channels of every input level. Defaults to 256.
        feat_channels (int): Hidden channels (AdelaiDet ``CONVS_DIM``).
            Defaults to 128.
        num_bases (int): Number of bases K. Defaults to 4.
        num_convs (int): 3x3 convs after the sum (AdelaiDet ``NUM_CONVS``, 3;
            BlendMask-RT uses 2). Defaults to 3.
        in_levels (Sequence[int]): Indices of the FPN outputs read, finest
            first. Defaults to (0, 1, 2), i.e. P3-P5.
        in_stride (int): Stride of the first input level in input pixels.
            Defaults to 8.
        basis_stride (int): Stride of the bases, ``in_stride`` (no
            upsampling) or ``in_stride // 2``. Defaults to 4.
        num_classes (int, optional): Thing classes of the auxiliary semantic
            head; None builds no semantic head. Defaults to None.
        norm_cfg (dict, optional): Norm of the hidden convs. Defaults to BN.
        init_cfg (dict, optional): Initialisation config.

    Raises:
        ValueError: if ``basis_stride`` is neither ``in_stride`` nor
            ``in_stride // 2``, or ``num_bases``/``in_levels`` are empty.
    """

    def __init__(self,
                 in_channels: int = 256,
                 feat_channels: int = 128,
                 num_bases: int = 4,
                 num_convs: int = 3,
                 in_levels: Sequence[int] = (0, 1, 2),
                 in_stride: int = 8,
                 basis_stride: int = 4,
                 num_classes: Optional[int] = None,
                 norm_cfg: OptConfigType = dict(type='BN'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if basis_stride not in (in_stride, in_stride // 2):
            raise ValueError(
                f'basis_stride={basis_stride} must be in_stride='
                f'{in_stride} or in_stride // 2={in_stride // 2}')
        if num_bases < 1:
            raise ValueError(f'num_bases={num_bases} must be >= 1')
        if len(in_levels) == 0:
            raise ValueError('in_levels must name at least one FPN level')
        self.in_levels = tuple(in_levels)
        self.num_bases = num_bases
        self.in_stride = in_stride
        self.basis_stride = basis_stride
        self.num_classes = num_classes

        def conv(c_in: int) -> ConvModule:
            return ConvModule(
                c_in, feat_channels, 3, padding=1, norm_cfg=norm_cfg)

        self.refine = nn.ModuleList(conv(in_channels) for _ in in_levels)
        tower = [conv(feat_channels) for _ in range(num_convs)]
        if basis_stride != in_stride:
            tower.append(
                nn.Upsample(
                    scale_factor=2, mode='bilinear', align_corners=False))
        tower += [conv(feat_channels), nn.Conv2d(feat_channels, num_bases, 1)]
        self.tower = nn.Sequential(*tower)
        self.seg_head = None
        if num_classes is not None:
            self.seg_head = nn.Sequential(
                ConvModule(in_channels, feat_channels, 3, padding=1,
                           norm_cfg=norm_cfg),
                ConvModule(feat_channels, feat_channels, 3, padding=1,
                           norm_cfg=norm_cfg),
                nn.Conv2d(feat_channels, num_classes + 1, 1))

    def forward(self, x: Sequence[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        """Predict the bases (and the semantic logits when training).

        Args:
            x (Sequence[Tensor]): FPN levels, each (B, C, H_l, W_l).

        Returns:
            tuple[Tensor, Tensor | None]: bases of shape (B, K, H_b, W_b)
            with H_b = H_pad / ``basis_stride``; semantic logits of shape
            (B, num_classes + 1, H_0, W_0) at the first level's stride while
            training with a semantic head, else None.
        """
        first = x[self.in_levels[0]]
        feat = self.refine[0](first)
        for refine, lvl in zip(self.refine[1:], self.in_levels[1:]):
            feat = feat + F.interpolate(
                refine(x[lvl]), feat.shape[-2:], mode='bilinear',
                align_corners=False)
        bases = self.tower(feat)
        sem = None
        if self.seg_head is not None and self.training:
            sem = self.seg_head(first)
        return bases, sem
