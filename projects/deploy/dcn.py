"""Modulated deformable convolution (DCNv2) in standard ONNX operators, for
exporting YOLACT++'s backbone.

mmcv's ``ModulatedDeformConv2dPack`` exports as the custom operator
``mmcv::MMCVModulatedDeformConv2d``, which onnxruntime runs only with
MMDeploy's custom-op library (not in MMDeploy's pip wheel). Here the same
computation is written with ``F.grid_sample`` (ONNX ``GridSample``, opset
16) and a matrix product: every kernel tap samples the input bilinearly at
its offset position (zero outside the image, as mmcv's
``dmcn_im2col_bilinear``), is multiplied by its mask, and the samples are
contracted with the weights (mmcv's im2col + GEMM). It exists for export
(training uses :class:`~projects.layers.ParallelDCNv2`, whose gradients
follow mmcv's at whole-pixel sample positions): :func:`with_standard_dcn`
returns a copy of a model whose DCNv2 layers (mmcv's or ParallelDCNv2) are
:class:`GridSampleDCNv2` layers sharing nothing with the original.
"""
import copy
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.ops import ModulatedDeformConv2dPack
from torch import Tensor, nn

from projects.layers.deform_conv import sample_positions


def modulated_deform_conv2d_standard(
        x: Tensor, offset: Tensor, mask: Tensor, weight: Tensor,
        bias: Optional[Tensor], stride: Tuple[int, int],
        padding: Tuple[int, int], dilation: Tuple[int, int], groups: int,
        deform_groups: int) -> Tensor:
    """mmcv's ``modulated_deform_conv2d`` with grid sampling, in standard
    ONNX ops, for export (at whole-pixel sample positions its offset
    gradient may differ from mmcv's one-sided one).

    Args and shapes: those of
    :func:`projects.layers.deform_conv.modulated_deform_conv2d_gather`.

    Returns:
        Tensor: shape (B, C_out, Ho, Wo).
    """
    b, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    ho, wo = offset.shape[-2:]
    k, dg = kh * kw, deform_groups
    py, px = sample_positions(offset, (kh, kw), stride, padding, dilation,
                              dg)  # (B, dg, k, Ho, Wo), input pixels
    # pixel centres i -> (2 i + 1) / size - 1 (align_corners=False)
    grid = torch.stack([(2 * px + 1) / w - 1, (2 * py + 1) / h - 1], -1)
    sampled = F.grid_sample(
        x.reshape(b * dg, c // dg, h, w),
        grid.reshape(b * dg, k * ho, wo, 2),
        mode='bilinear', padding_mode='zeros', align_corners=False)
    sampled = sampled.view(b, dg, c // dg, k, ho, wo) * mask.view(
        b, dg, 1, k, ho, wo)
    cols = sampled.reshape(b, groups, (c // groups) * k, ho * wo)
    out = torch.matmul(weight.reshape(groups, c_out // groups, -1), cols)
    out = out.reshape(b, c_out, ho, wo)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


class GridSampleDCNv2(nn.Module):
    """Export stand-in of mmcv's :class:`ModulatedDeformConv2dPack` (DCNv2
    with its own offset/mask conv), same parameters, same outputs up to
    float rounding.

    Args:
        dcn (ModulatedDeformConv2dPack): the layer to copy (its
            ``conv_offset`` and weights are deep-copied).
    """

    def __init__(self, dcn: ModulatedDeformConv2dPack) -> None:
        super().__init__()
        self.conv_offset = copy.deepcopy(dcn.conv_offset)
        self.weight = nn.Parameter(dcn.weight.detach().clone())
        self.bias = None if dcn.bias is None else nn.Parameter(
            dcn.bias.detach().clone())
        self.stride = tuple(dcn.stride)
        self.padding = tuple(dcn.padding)
        self.dilation = tuple(dcn.dilation)
        self.groups = dcn.groups
        self.deform_groups = dcn.deform_groups

    def forward(self, x: Tensor) -> Tensor:
        """As ``ModulatedDeformConv2dPack.forward``.

        Args:
            x (Tensor): shape (B, C, H, W).

        Returns:
            Tensor: shape (B, C_out, Ho, Wo).
        """
        o1, o2, mask = torch.chunk(self.conv_offset(x), 3, dim=1)
        return modulated_deform_conv2d_standard(
            x, torch.cat((o1, o2), dim=1), torch.sigmoid(mask), self.weight,
            self.bias, self.stride, self.padding, self.dilation, self.groups,
            self.deform_groups)


def dcn_layers(model: nn.Module) -> Sequence[str]:
    """Names of the mmcv deformable conv layers of ``model`` (any kind).

    Args:
        model (nn.Module): a detector.

    Returns:
        list[str]: module names, e.g. ``backbone.layer2.0.conv2``.
    """
    from mmcv.ops import DeformConv2d, ModulatedDeformConv2d
    return [
        name for name, m in model.named_modules()
        if isinstance(m, (DeformConv2d, ModulatedDeformConv2d))
    ]


def with_standard_dcn(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose DCNv2 layers are :class:`GridSampleDCNv2`,
    for export; ``model`` is unchanged.

    Args:
        model (nn.Module): a detector, e.g. YOLACT++.

    Returns:
        nn.Module: the copy (in ``model``'s train/eval mode).

    Raises:
        NotImplementedError: a deformable conv other than
            ``ModulatedDeformConv2dPack`` (DCNv1, or DCNv2 with external
            offsets), named.
    """
    out = copy.deepcopy(model)
    for name in dcn_layers(out):
        layer = out.get_submodule(name)
        if not isinstance(layer, ModulatedDeformConv2dPack):
            raise NotImplementedError(
                f'{name}: {type(layer).__name__} has no standard-op '
                'stand-in; only mmcv ModulatedDeformConv2dPack (DCNv2)')
        parent_name, _, child = name.rpartition('.')
        parent = out.get_submodule(parent_name) if parent_name else out
        setattr(parent, child, GridSampleDCNv2(layer).train(layer.training))
    return out
