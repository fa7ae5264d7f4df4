"""Protonet and prototype mask assembly, as in YOLACT (Bolya et al., 2019).

YOLACT §3.1-3.2: a fully convolutional protonet turns the P3 feature map into
``k`` prototypes ``P`` (ReLU, no bound); each detection carries ``k`` mask
coefficients ``C`` (tanh); its mask is ``M = sigmoid(P C^T)`` (YOLACT eq. 1),
cropped by its box.

Why not mmdet's ``YOLACTProtonet``: its ``forward`` couples the protonet with
YOLACT's sampling results, loss and semantic head, so SAIS could reuse neither
the layers nor the assembly without carrying YOLACT's training logic along.
The module and functions here are the method-independent part.
"""
import functools
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.utils import OptConfigType, OptMultiConfig


class Protonet(BaseModule):
    """FCN that predicts ``num_protos`` prototypes from one FPN level.

    Layout of YOLACT Fig. 3: ``num_convs`` 3x3 convs, bilinear upsampling by
    ``upsample_factor``, one more 3x3 conv, a 1x1 conv to ``num_protos``
    channels and a ReLU. On P3 (stride 8) with the default factor 2 the
    prototypes have 1/4 of the input resolution.

    Args:
        in_channels (int): Channels of the input feature map.
        feat_channels (int): Channels of the hidden convs. Defaults to 256.
        num_protos (int): Number of prototypes ``k``. Defaults to 32.
        num_convs (int): 3x3 convs before upsampling. Defaults to 3.
        upsample_factor (int): Spatial upsampling factor. Defaults to 2.
        norm_cfg (dict, optional): Norm layer of the hidden convs.
        proto_norm (bool): Normalise each prototype over its H x W (per
            image, no affine: ``F.instance_norm``) before the ReLU, so that
            about half of every prototype stays active whatever the scale of
            the last conv. Without it the ReLU prototypes can all die
            (docs/results/prototype_collapse). Defaults to False (YOLACT).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 feat_channels: int = 256,
                 num_protos: int = 32,
                 num_convs: int = 3,
                 upsample_factor: int = 2,
                 norm_cfg: OptConfigType = None,
                 proto_norm: bool = False,
                 init_cfg: OptMultiConfig = dict(
                     type='Xavier', distribution='uniform',
                     layer='Conv2d')) -> None:
        super().__init__(init_cfg=init_cfg)
        self.proto_norm = proto_norm
        if num_protos <= 0:
            raise ValueError(f'num_protos must be positive, got {num_protos}')
        self.num_protos = num_protos
        self.upsample_factor = upsample_factor
        layers = []
        for i in range(num_convs):
            layers.append(
                ConvModule(
                    in_channels if i == 0 else feat_channels,
                    feat_channels,
                    3,
                    padding=1,
                    norm_cfg=norm_cfg))
        self.convs = nn.Sequential(*layers)
        self.upsample = nn.Upsample(
            scale_factor=upsample_factor, mode='bilinear', align_corners=False)
        self.conv_after = ConvModule(
            feat_channels if num_convs else in_channels,
            feat_channels,
            3,
            padding=1,
            norm_cfg=norm_cfg)
        self.conv_protos = nn.Conv2d(feat_channels, num_protos, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Predict prototypes.

        Args:
            x (Tensor): shape (B, C, H, W), one FPN level (P3 in SAIS/YOLACT).

        Returns:
            Tensor: shape (B, k, H * f, W * f), non-negative prototypes, where
            ``f`` is ``upsample_factor``.
        """
        x = self.upsample(self.convs(x))
        protos = self.conv_protos(self.conv_after(x))
        if self.proto_norm:
            protos = F.instance_norm(protos)
        return torch.relu(protos)


def assemble_masks(prototypes: Tensor, coeffs: Tensor) -> Tensor:
    """Linear combination of prototypes, YOLACT eq. 1 before the sigmoid.

    Args:
        prototypes (Tensor): shape (k, h, w).
        coeffs (Tensor): shape (n, k), mask coefficients of ``n`` instances.

    Returns:
        Tensor: shape (n, h, w), mask logits ``P C^T`` (apply ``sigmoid`` for
        probabilities; the loss uses the logits for numerical stability).

    Raises:
        ValueError: if the number of prototypes and coefficients differ.
    """
    if prototypes.size(0) != coeffs.size(-1):
        raise ValueError(f'{prototypes.size(0)} prototypes but '
                         f'{coeffs.size(-1)} mask coefficients per instance')
    return torch.einsum('nk,khw->nhw', coeffs, prototypes)


def crop_masks(masks: Tensor,
               boxes: Tensor,
               scale: float = 1.0,
               fill: Optional[float] = 0.0) -> Tensor:
    """Zero everything outside each instance's box (YOLACT §3.2 "Cropping").

    Args:
        masks (Tensor): shape (n, h, w), masks or per-pixel losses.
        boxes (Tensor): shape (n, 4), (x1, y1, x2, y2) in pixels of the image
            the masks were predicted for.
        scale (float): mask pixels per image pixel (0.25 for prototypes at
            1/4 of the input). Defaults to 1.
        fill (float): value written outside the boxes. Defaults to 0.

    Returns:
        Tensor: shape (n, h, w). A pixel is kept when its centre lies inside
        the scaled box; a box smaller than one mask pixel keeps the pixel
        that contains its centre, so no instance loses its whole mask.
    """
    # no branch on n: the ONNX graph traced from this holds for any n
    h, w = masks.shape[-2:]
    b = boxes.to(masks.dtype) * scale
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    # at least one pixel wide/high around the box centre
    x1 = torch.minimum(b[:, 0], cx.floor())
    x2 = torch.maximum(b[:, 2], cx.floor() + 1)
    y1 = torch.minimum(b[:, 1], cy.floor())
    y2 = torch.maximum(b[:, 3], cy.floor() + 1)
    xs = torch.arange(w, device=masks.device, dtype=masks.dtype) + 0.5
    ys = torch.arange(h, device=masks.device, dtype=masks.dtype) + 0.5
    in_x = (xs[None] >= x1[:, None]) & (xs[None] < x2[:, None])  # (n, w)
    in_y = (ys[None] >= y1[:, None]) & (ys[None] < y2[:, None])  # (n, h)
    inside = in_y[:, :, None] & in_x[:, None, :]
    return torch.where(inside, masks, masks.new_tensor(fill))


@functools.lru_cache(maxsize=64)
def _bilinear_taps(in_size: int, out_size: int,
                   device: torch.device) -> Tuple[Tensor, ...]:
    """Source taps of ``F.interpolate(mode='bilinear', align_corners=False)``
    along one axis: for every output pixel the two source indices (n,) and
    their weights (n,), as PyTorch computes them (up to float rounding).
    Cached per sizes and device (read only): the same few sizes recur for
    every image of a test set."""
    ratio = float(torch.tensor(in_size / out_size, dtype=torch.float32))
    real = ((torch.arange(out_size, device=device, dtype=torch.float64) +
             0.5) * ratio - 0.5).clamp(min=0).float()
    i0 = real.long().clamp(max=in_size - 1)
    i1 = (i0 + 1).clamp(max=in_size - 1)
    w1 = (real - i0).clamp(0, 1)
    return i0, i1, 1 - w1, w1


def _support(nonzero: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """First and last True index along the last axis of ``nonzero`` (n, L)
    and whether there is any; (n,) each, on the CPU."""
    nonzero = nonzero.cpu()
    idx = torch.arange(nonzero.size(1))
    first = torch.where(nonzero, idx, nonzero.size(1)).amin(1)
    last = torch.where(nonzero, idx, -1).amax(1)
    return first, last, last >= 0


def paste_masks(masks: Tensor, out_h: int, out_w: int,
                thr: float) -> Tensor:
    """Upsample cropped masks bilinearly to ``(out_h, out_w)`` and binarise,
    computing only the window each mask can reach.

    Equivalent to ``F.interpolate(masks[None], (out_h, out_w),
    mode='bilinear', align_corners=False)[0] > thr`` (what mmdet's YOLACT
    does for the whole image), but masks cropped to their boxes are zero
    outside them, so an output pixel whose two source rows or columns are
    both outside a mask's non-zero support is 0 and cannot pass ``thr >= 0``.
    Only the window inside is interpolated, which on CPU turns a
    (n, H, W)-sized float interpolation into n box-sized ones. The sums are
    the same as PyTorch's up to float rounding (about 1e-7), so a pixel
    within that distance of ``thr`` may flip (tests count them).

    Separable: each window is first interpolated along x on the few source
    rows it needs, then along y by gathering those rows, the same products
    and sums per pixel as interpolating both source rows of every output
    row along x (the earlier formula; a test checks the masks are
    identical) at a fraction of the gathers.

    Args:
        masks (Tensor): shape (n, h, w), non-negative mask probabilities,
            zero outside each instance's crop.
        out_h (int): output height in pixels.
        out_w (int): output width in pixels.
        thr (float): binarisation threshold, at least 0.

    Returns:
        Tensor: shape (n, out_h, out_w), bool.

    Raises:
        ValueError: if ``thr`` is negative (zeros would pass it).
    """
    if thr < 0:
        raise ValueError(f'paste_masks needs thr >= 0, got {thr}')
    n, h, w = masks.shape
    out = torch.zeros((n, out_h, out_w), dtype=torch.bool,
                      device=masks.device)
    if n == 0:
        return out
    y0, y1, wy0, wy1 = _bilinear_taps(h, out_h, masks.device)
    x0, x1, wx0, wx1 = _bilinear_taps(w, out_w, masks.device)
    # rows / columns with a non-zero pixel; amax, not (masks != 0).any():
    # the same for non-negative masks and on CPU ~20x faster
    r_first, r_last, r_any = _support(masks.amax(2) > 0)
    c_first, c_last, c_any = _support(masks.amax(1) > 0)
    # output pixels with a tap in [first, last]; taps are monotone
    ya = torch.searchsorted(y1.cpu(), r_first)
    yb = torch.searchsorted(y0.cpu(), r_last, right=True)
    xa = torch.searchsorted(x1.cpu(), c_first).tolist()
    xb = torch.searchsorted(x0.cpu(), c_last, right=True).tolist()
    keep = r_any & c_any & (ya < yb) & (torch.tensor(xa) < torch.tensor(xb))
    # the source rows each window needs: [lo, hi)
    lo = y0.cpu()[ya.clamp(max=out_h - 1)].tolist()
    hi = (y1.cpu()[(yb - 1).clamp(min=0)] + 1).tolist()
    ya, yb = ya.tolist(), yb.tolist()
    wy0, wy1 = wy0[:, None], wy1[:, None]
    for i in keep.nonzero()[:, 0].tolist():
        a, b, c, d = ya[i], yb[i], xa[i], xb[i]
        # index_select, not advanced indexing: on CPU the latter is a
        # parallel kernel whose thread start-up costs ~1000x these tiny sizes
        m = masks[i, lo[i]:hi[i]]
        along_x = (m.index_select(1, x0[c:d]) * wx0[c:d] +
                   m.index_select(1, x1[c:d]) * wx1[c:d])
        top = along_x.index_select(0, y0[a:b] - lo[i])
        bottom = along_x.index_select(0, y1[a:b] - lo[i])
        out[i, a:b, c:d] = (top * wy0[a:b] + bottom * wy1[a:b]) > thr
    return out
