"""SSS box/coefficient head: YOLACT's head with one prediction module per
SSD level."""
from typing import Sequence, Tuple

from mmcv.cnn import ConvModule
from mmengine.model import ModuleList
from torch import Tensor, nn

from mmdet.models.utils import multi_apply
from mmdet.registry import MODELS
from .yolact_head import ZooYOLACTHead


@MODELS.register_module()
class SSSHead(ZooYOLACTHead):
    """:class:`ZooYOLACTHead` on an SSD feature pyramid (SSS draft §3).

    Why a subclass: mmdet's ``YOLACTHead`` shares one set of convs across
    all levels, so it needs the same ``in_channels`` everywhere and takes
    ``num_base_priors`` from level 0 only. SSS predicts on SSD levels
    (``SSDNeck``: C4 and C5 of ResNet as they are, 1024 and 2048 channels,
    then 512/256/256/256-channel extra layers) with SSD anchors
    (``SSDAnchorGenerator``: 4 anchors per location on the first level, 6 on
    the others). The shared head would predict 4 anchors everywhere and fail
    on the 1024 vs 2048 channels.

    What differs: each level ``i`` gets its own prediction module, as SSD's
    and the SSS draft's: ``num_head_convs`` 3x3 ``ConvModule`` s from
    ``in_channels[i]`` to ``feat_channels``, then 3x3 convs for class scores,
    box deltas and ``tanh`` mask coefficients with that level's number of
    anchors. Targets, OHEM, the positive info handed to the protonet and
    the post-processing (``test_cfg.nms``) are the parent's: they already
    flatten each level with its own anchor count.

    Args:
        in_channels (Sequence[int]): channels of each input level.
        **kwargs: as :class:`ZooYOLACTHead`; ``feat_channels`` (int) is the
            width of every level's head convs.
    """

    def __init__(self, num_classes: int, in_channels: Sequence[int],
                 **kwargs) -> None:
        super().__init__(
            num_classes=num_classes, in_channels=tuple(in_channels), **kwargs)

    def _init_layers(self) -> None:
        """One prediction module per level; see the class docstring."""
        priors = self.prior_generator.num_base_priors
        if len(priors) != len(self.in_channels):
            raise ValueError(f'{len(self.in_channels)} in_channels for '
                             f'{len(priors)} anchor levels')
        self.head_convs = ModuleList()
        self.conv_cls = ModuleList()
        self.conv_reg = ModuleList()
        self.conv_coeff = ModuleList()
        for chn, num_priors in zip(self.in_channels, priors):
            convs = [
                ConvModule(chn if i == 0 else self.feat_channels,
                           self.feat_channels, 3, padding=1,
                           conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg)
                for i in range(self.num_head_convs)
            ]
            out = self.feat_channels if convs else chn
            self.head_convs.append(nn.Sequential(*convs))
            for convs_out, width in ((self.conv_cls, self.cls_out_channels),
                                     (self.conv_reg, 4),
                                     (self.conv_coeff, self.num_protos)):
                convs_out.append(
                    nn.Conv2d(out, num_priors * width, 3, padding=1))

    def forward(self, x: Tuple[Tensor]) -> tuple:
        """Class scores, box deltas and coefficients of every level, each a
        list over levels of (N, A_i * k, H_i, W_i)."""
        return multi_apply(self.forward_single, x, self.head_convs,
                           self.conv_cls, self.conv_reg, self.conv_coeff)

    def forward_single(self, x: Tensor, head_convs: nn.Module,
                       conv_cls: nn.Module, conv_reg: nn.Module,
                       conv_coeff: nn.Module) -> tuple:
        """One level through its own prediction module."""
        x = head_convs(x)
        return conv_cls(x), conv_reg(x), conv_coeff(x).tanh()
