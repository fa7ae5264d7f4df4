"""Modulated deformable convolution (DCNv2; Zhu et al., "Deformable
ConvNets v2", CVPR 2019, Eq. 3) as parallel torch operations on CPU.

Why not mmcv's kernel: on CPU, mmcv's ``modulated_deform_conv`` im2col and
above all its backward (``deformable_col2im``, ``deformable_col2im_coord``)
are scalar loops on one thread. Here the bilinear samples of every kernel
tap are one ``embedding_bag`` over the channels-last input (the four
corner pixels of each sample, weighted by their bilinear weights times the
tap's mask), and the taps are contracted with the weights in one GEMM;
torch runs both on every thread and differentiates them itself.

The corner cell of a sample is ``floor`` of its position, as in mmcv's
``dmcn_im2col_bilinear``, so the offset gradient at whole-pixel positions
(all of them at initialisation, where ``conv_offset`` is zero) is mmcv's
one-sided difference too; ``F.grid_sample`` (the export stand-in,
:mod:`projects.deploy.dcn`) re-derives the position from normalised
coordinates and may pick the cell on the other side there. Tests compare
outputs and gradients with mmcv's.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.ops import ModulatedDeformConv2dPack
from torch import Tensor

from mmdet.registry import MODELS


def sample_positions(offset: Tensor, kernel_size: Tuple[int, int],
                     stride: Tuple[int, int], padding: Tuple[int, int],
                     dilation: Tuple[int, int],
                     deform_groups: int) -> Tuple[Tensor, Tensor]:
    """Where each kernel tap of a deformable conv samples its input.

    Args:
        offset (Tensor): shape (B, dg * 2 * kh * kw, Ho, Wo), per deform
            group and kernel tap (row-major) the (dy, dx) offsets in input
            pixels, mmcv's layout.
        kernel_size, stride, padding, dilation (tuple[int, int]): as the
            conv's.
        deform_groups (int): offset groups ``dg``.

    Returns:
        tuple[Tensor, Tensor]: ``y``, ``x`` of shape (B, dg, kh * kw, Ho,
        Wo), input pixels (tap ``t = i * kw + j``).
    """
    kh, kw = kernel_size
    b, _, ho, wo = offset.shape
    dev, dt = offset.device, offset.dtype
    taps_y = torch.arange(kh, device=dev, dtype=dt).repeat_interleave(kw)
    taps_x = torch.arange(kw, device=dev, dtype=dt).repeat(kh)
    base_y = (torch.arange(ho, device=dev, dtype=dt) * stride[0] -
              padding[0])[None, :, None] + taps_y[:, None, None] * dilation[0]
    base_x = (torch.arange(wo, device=dev, dtype=dt) * stride[1] -
              padding[1])[None, None, :] + taps_x[:, None, None] * dilation[1]
    off = offset.reshape(b, deform_groups, kh * kw, 2, ho, wo)
    return base_y + off[:, :, :, 0], base_x + off[:, :, :, 1]


def modulated_deform_conv2d_gather(
        x: Tensor, offset: Tensor, mask: Tensor, weight: Tensor,
        bias: Optional[Tensor], stride: Tuple[int, int],
        padding: Tuple[int, int], dilation: Tuple[int, int], groups: int,
        deform_groups: int) -> Tensor:
    """mmcv's ``modulated_deform_conv2d``, differentiable in every input.

    Args:
        x (Tensor): input, shape (B, C, H, W), float.
        offset (Tensor): shape (B, dg * 2 * kh * kw, Ho, Wo), per deform
            group and kernel tap (row-major) the (dy, dx) offsets in input
            pixels, mmcv's layout.
        mask (Tensor): shape (B, dg * kh * kw, Ho, Wo), modulation (after
            the sigmoid).
        weight (Tensor): shape (C_out, C / groups, kh, kw).
        bias (Tensor, optional): shape (C_out,).
        stride, padding, dilation (tuple[int, int]): as the conv's.
        groups (int): conv groups.
        deform_groups (int): offset groups ``dg``.

    Returns:
        Tensor: shape (B, C_out, Ho, Wo), NCHW-contiguous.
    """
    b, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    ho, wo = offset.shape[-2:]
    k, dg = kh * kw, deform_groups
    dt = x.dtype
    pos_y, pos_x = sample_positions(offset, (kh, kw), stride, padding,
                                    dilation, dg)
    inside = (pos_y > -1) & (pos_x > -1) & (pos_y < h) & (pos_x < w)
    y0, x0 = pos_y.detach().floor(), pos_x.detach().floor()
    frac_y, frac_x = pos_y - y0, pos_x - x0  # carry the offsets' gradient
    y0, x0 = y0.long(), x0.long()
    image = torch.arange(b * dg).view(b, dg, 1, 1, 1)  # table block
    rows, weights = [], []
    for dy, dx, wy, wx in ((0, 0, 1 - frac_y, 1 - frac_x),
                           (0, 1, 1 - frac_y, frac_x),
                           (1, 0, frac_y, 1 - frac_x),
                           (1, 1, frac_y, frac_x)):
        yy, xx = y0 + dy, x0 + dx
        ok = inside & (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        row = (image * h + yy.clamp(0, h - 1)) * w + xx.clamp(0, w - 1)
        rows.append(torch.where(ok, row, torch.zeros_like(row)))
        weights.append(torch.where(ok, wy * wx, torch.zeros_like(wy)))
    index = torch.stack(rows, -1).view(-1, 4)
    sample_weight = (torch.stack(weights, -1) *
                     mask.reshape(b, dg, k, ho, wo, 1)).view(-1, 4)
    table = x.reshape(b, dg, c // dg, h, w).permute(0, 1, 3, 4, 2).reshape(
        b * dg * h * w, c // dg)
    samples = F.embedding_bag(index, table, mode='sum',
                              per_sample_weights=sample_weight.to(dt))
    # (B, dg, k, Ho * Wo, C / dg) -> (B, Ho * Wo, groups, C / groups * k)
    cols = samples.view(b, dg, k, ho * wo, c // dg).permute(
        0, 3, 1, 4, 2).reshape(b, ho * wo, groups, (c // groups) * k)
    kernel = weight.reshape(groups, c_out // groups, (c // groups) * k)
    out = torch.einsum('bpgi,goi->bpgo', cols, kernel).reshape(
        b, ho, wo, c_out).permute(0, 3, 1, 2)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    # NCHW, as mmcv's: the layers after it then compute exactly as after
    # mmcv's (their kernels differ by memory format)
    return out.contiguous()


@MODELS.register_module()
class ParallelDCNv2(ModulatedDeformConv2dPack):
    """mmcv's ``ModulatedDeformConv2dPack`` (registered as ``'DCNv2'``:
    DCNv2 with its own offset and mask conv), computed on CPU by
    :func:`modulated_deform_conv2d_gather` instead of mmcv's one-thread
    kernel; on other devices and in ONNX export, mmcv's own path. The same
    parameters and state-dict keys, so checkpoints of either load into the
    other; it is one (``isinstance``), so the bf16 wrappers run it in fp32
    as they run mmcv's.

    Config: ``dcn=dict(type='ParallelDCNv2', deform_groups=1,
    fallback_on_stride=False)`` in a ResNet.
    """

    def forward(self, x: Tensor) -> Tensor:
        """As ``ModulatedDeformConv2dPack.forward``.

        Args:
            x (Tensor): shape (B, C, H, W).

        Returns:
            Tensor: shape (B, C_out, Ho, Wo).
        """
        if x.device.type != 'cpu' or torch.onnx.is_in_onnx_export():
            return super().forward(x)
        o1, o2, mask = torch.chunk(self.conv_offset(x), 3, dim=1)
        return modulated_deform_conv2d_gather(
            x, torch.cat((o1, o2), dim=1), torch.sigmoid(mask), self.weight,
            self.bias, self.stride, self.padding, self.dilation, self.groups,
            self.deform_groups)
