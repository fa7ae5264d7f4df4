"""ResNet with deformable convolutions in every ``dcn_interval``-th block
(YOLACT++, TPAMI 2020, §4.2 "Deformable Convolution with Intervals")."""
from mmdet.models.backbones import ResNet
from mmdet.registry import MODELS


@MODELS.register_module()
class ResNetDCNInterval(ResNet):
    """mmdet's :class:`~mmdet.models.backbones.ResNet` whose DCN stages put
    the deformable 3x3 conv in every ``dcn_interval``-th block only.

    mmdet applies ``dcn`` to every block of each stage in
    ``stage_with_dcn``. YOLACT++ (dbolya/yolact ``backbone.py``,
    ``ResNetBackbone._make_layer``) gives block ``i`` of a stage a DCNv2 iff
    ``i % dcn_interval == 0`` (block 0, which holds the stride and the
    downsample, always has one), in C3-C5 (``dcn_layers=[0, 4, 23, 3]``).
    With ``dcn_interval=3`` that is blocks [0, 3] of C3, [0, 3] of C4 and
    [0] of C5 for ResNet-50 (5 DCNs), and [0, 3] / [0, 3, ..., 21] / [0]
    for ResNet-101 (11 DCNs, dbolya's ``ResNet101_DCN_Interval3``).
    ``dcn_interval=1`` is mmdet's ResNet (dbolya's ``ResNet50_DCNv2``, the
    backbone of its released YOLACT++ R50, has DCN in every C3-C5 block).

    How: :meth:`make_res_layer` builds each DCN stage twice, once plain and
    once with ``dcn``, and keeps the DCN blocks at the selected indices, so
    mmdet's ``Bottleneck``/``ResLayer`` build every block unchanged.

    Pretrained weights: mmcv's ``ModulatedDeformConv2dPack`` (``DCNv2``)
    stores its kernel as ``conv2.weight`` with the plain conv's shape, so a
    torchvision/mmdet ResNet checkpoint loads into it; only
    ``conv2.conv_offset.{weight,bias}`` are missing and stay zero (offsets
    0, modulation sigmoid(0) = 0.5), as when DCN is added to any pretrained
    ResNet. Its ``init_weights`` re-zeroes them after the backbone's Kaiming
    init when training from scratch.

    Args:
        dcn_interval (int): keep DCN in blocks ``i`` with
            ``i % dcn_interval == 0`` of every stage in ``stage_with_dcn``.
        *args, **kwargs: mmdet ResNet's (``depth``, ``dcn``,
            ``stage_with_dcn``, ...).
    """

    def __init__(self, *args, dcn_interval: int = 1, **kwargs) -> None:
        if dcn_interval < 1:
            raise ValueError(f'dcn_interval must be >= 1, got {dcn_interval}')
        self.dcn_interval = dcn_interval  # read by make_res_layer
        super().__init__(*args, **kwargs)

    def make_res_layer(self, **kwargs):
        """One stage; see the class docstring for which blocks get DCN."""
        if kwargs.get('dcn') is None or self.dcn_interval == 1:
            return super().make_res_layer(**kwargs)
        layer = super().make_res_layer(**dict(kwargs, dcn=None))
        deformable = super().make_res_layer(**kwargs)
        for i in range(0, len(layer), self.dcn_interval):
            layer[i] = deformable[i]
        return layer
