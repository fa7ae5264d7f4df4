"""RoIAlign (He et al., "Mask R-CNN", ICCV 2017, §3) as parallel torch
operations on CPU, and the RoI extractor that lets a config name it.

Why not mmcv's: mmcv's CPU kernel (``roi_align_forward_cpu`` /
``roi_align_backward_cpu``) is a scalar loop on one thread, forward and
backward. In a bf16 Mask R-CNN step on 2 CPU cores it takes about half of
the step while the convolutions use both cores. Here the same sampling is
written as one ``embedding_bag`` (a weighted sum of rows of the features,
channels-last, one bag per output cell), which torch runs on every thread
and differentiates with its own backward. A bin's samples share pixels
(each reads 2 x 2 neighbours); their bilinear weights are summed per pixel
first, so a bag reads each pixel of its bin once: for a bin of g x g
samples, about (g + 1)^2 rows instead of 4 g^2. On CUDA, and for
``pool_mode='max'``, :class:`ParallelRoIAlign` calls mmcv's kernel.

The semantics are mmcv's ``RoIAlign`` (``aligned=True``: Detectron2's
half-pixel offset; ``sampling_ratio=0``: ``ceil(roi size / output size)``
samples per bin side; a sample outside ``[-1, size]`` contributes zero; the
bin is the mean over its samples): tests compare outputs and gradients with
mmcv's kernel.
"""
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv import ops
from mmcv.ops import RoIAlign
from torch import Tensor, nn

from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from mmdet.registry import MODELS


def _axis_taps(start: Tensor, bin_size: Tensor, grid: Tensor, pooled: int,
               max_grid: int, size: int) -> Tuple[Tensor, Tensor]:
    """Bilinear sampling along one axis, as mmcv's ``bilinear_interpolate``,
    with each output cell's samples summed per feature pixel.

    A cell's ``grid`` samples each read two neighbouring pixels (``low``
    and ``low + 1``, or the last pixel twice), so neighbouring samples
    share pixels. Summing their weights per pixel here leaves about
    ``(grid + 1)`` taps per cell instead of ``2 * grid``; the 2-D gather
    then reads each pixel of a bin once.

    Args:
        start (Tensor): shape (R,), the RoIs' first coordinate (feature
            pixels, offset applied).
        bin_size (Tensor): shape (R,), bin size (feature pixels).
        grid (Tensor): shape (R,), int64, samples per bin on this axis.
        pooled (int): output cells on this axis.
        max_grid (int): ``grid.max()``, the padded sample count.
        size (int): the feature map's extent on this axis (pixels).

    Returns:
        tuple: ``pixel`` (int64) and ``weight``, each of shape
        (R, pooled, K): the K consecutive pixels from each cell's first
        one and the summed weight of each (0 for a pixel no sample reads,
        a padded sample or one outside ``[-1, size]``); ``pixel`` is
        clipped to the map, where its weight is 0. Where samples lie more
        than a pixel apart (K would exceed ``2 * max_grid``), each
        sample's two taps instead (K = ``2 * max_grid``).
    """
    cell = torch.arange(pooled, dtype=start.dtype).view(1, -1, 1)
    step = torch.arange(max_grid, dtype=start.dtype).view(1, 1, -1)
    start, bin_size = start.view(-1, 1, 1), bin_size.view(-1, 1, 1)
    count = grid.view(-1, 1, 1)
    pos = start + cell * bin_size + (step + 0.5) * bin_size / count.to(
        start.dtype).clamp(min=1)
    used = (step < count) & (pos >= -1.0) & (pos <= size)
    pos = pos.clamp(min=0)
    low = pos.floor().long()
    at_end = low >= size - 1
    low = torch.where(at_end, torch.full_like(low, size - 1), low)
    frac = torch.where(at_end | ~used, torch.zeros_like(pos),
                       pos - low.to(pos.dtype))
    w_low = torch.where(used, 1 - frac, torch.zeros_like(frac))
    high = torch.where(at_end, low, low + 1)
    # the cell's first pixel read; an unused sample reads it with weight 0
    first = torch.where(used, low, torch.full_like(low, size)).amin(
        -1, keepdim=True).clamp(max=size - 1)
    low = torch.where(used, low - first, torch.zeros_like(low))
    high = torch.where(used, high - first, torch.zeros_like(high))
    taps = int(high.max()) + 1
    if taps > 2 * max_grid:
        # samples more than a pixel apart (a fixed ``sampling_ratio`` on a
        # large bin) share no pixel: keep each sample's two taps
        pixel = torch.cat([low, high], -1) + first
        return pixel, torch.cat([w_low, frac], -1)
    weight = torch.zeros(low.shape[:2] + (taps, ), dtype=pos.dtype)
    weight.scatter_add_(2, low, w_low)
    weight.scatter_add_(2, high, frac)
    pixel = (first + torch.arange(taps).view(1, 1, -1)).clamp(max=size - 1)
    return pixel, weight


def parallel_roi_align(features: Tensor, rois: Tensor,
                       output_size: Union[int, Sequence[int]],
                       spatial_scale: float = 1.0, sampling_ratio: int = 0,
                       aligned: bool = True) -> Tensor:
    """RoIAlign with average pooling, differentiable in ``features``.

    Args:
        features (Tensor): shape (B, C, H, W), float; any memory format
            (channels-last is read without a copy).
        rois (Tensor): shape (R, 5), ``(batch index, x1, y1, x2, y2)`` in
            input pixels; no gradient flows to it (as mmcv's).
        output_size (int | tuple[int, int]): ``(h, w)`` of each output.
        spatial_scale (float): feature pixels per input pixel
            (1 / stride).
        sampling_ratio (int): samples per bin side; 0 takes
            ``ceil(roi size / output size)`` per RoI and axis.
        aligned (bool): shift the RoI by -0.5 feature pixel (Detectron2's
            aligned RoIAlign); False keeps the RoI at least 1 pixel wide.

    Returns:
        Tensor: shape (R, C, h, w), NCHW-contiguous, ``features``' dtype.

    Raises:
        ValueError: ``rois`` is not of shape (R, 5), or, with ``aligned``,
            a RoI has ``x2 < x1`` or ``y2 < y1`` (mmcv's kernel stops there
            too).
    """
    if rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(f'rois must be of shape (R, 5), got '
                         f'{tuple(rois.shape)}')
    out_h, out_w = ((output_size, output_size) if isinstance(
        output_size, int) else tuple(output_size))
    num_imgs, channels, height, width = features.shape
    num_rois = rois.shape[0]
    if num_rois == 0:  # empty, yet in the graph of ``features``
        return features.reshape(-1)[:0].view(0, 1, 1, 1).expand(
            0, channels, out_h, out_w).contiguous()
    with torch.no_grad():
        boxes = rois.detach().float()
        offset = 0.5 if aligned else 0.0
        x1, y1, x2, y2 = (boxes[:, i] * spatial_scale - offset
                          for i in range(1, 5))
        roi_w, roi_h = x2 - x1, y2 - y1
        if not aligned:
            roi_w, roi_h = roi_w.clamp(min=1), roi_h.clamp(min=1)
        elif bool(((roi_w < 0) | (roi_h < 0)).any()):
            bad = int(((roi_w < 0) | (roi_h < 0)).nonzero()[0])
            raise ValueError(f'RoI {bad} {rois[bad].tolist()} has a negative '
                             'width or height (aligned RoIAlign, as '
                             "mmcv's, needs x2 >= x1 and y2 >= y1)")
        bin_w, bin_h = roi_w / out_w, roi_h / out_h
        if sampling_ratio > 0:
            grid_h = torch.full((num_rois, ), sampling_ratio,
                                dtype=torch.long)
            grid_w = grid_h
        else:
            grid_h = torch.ceil(bin_h).long().clamp(min=0)
            grid_w = torch.ceil(bin_w).long().clamp(min=0)
        max_h, max_w = max(int(grid_h.max()), 1), max(int(grid_w.max()), 1)
        rows, w_rows = _axis_taps(y1, bin_h, grid_h, out_h, max_h, height)
        cols, w_cols = _axis_taps(x1, bin_w, grid_w, out_w, max_w, width)
        taps_h, taps_w = rows.shape[2], cols.shape[2]
        # (R, out_h, out_w, taps_h, taps_w): each cell's pixels, read once
        shape_y = (num_rois, out_h, 1, taps_h, 1)
        shape_x = (num_rois, 1, out_w, 1, taps_w)
        img = boxes[:, 0].long().view(num_rois, 1, 1, 1, 1)
        index = (img * height + rows.view(shape_y)) * width + cols.view(
            shape_x)
        count = (grid_h * grid_w).clamp(min=1).float()
        weight = (w_rows.view(shape_y) * w_cols.view(shape_x) /
                  count.view(num_rois, 1, 1, 1, 1))
        keep = weight != 0
        bag_sizes = keep.view(num_rois * out_h * out_w, -1).sum(1)
        offsets = torch.cumsum(bag_sizes, 0) - bag_sizes
        index, weight = index[keep], weight[keep]
    table = features.permute(0, 2, 3, 1).reshape(-1, channels)
    out = F.embedding_bag(index, table, offsets, mode='sum',
                          per_sample_weights=weight.to(table.dtype))
    return out.view(num_rois, out_h, out_w, channels).permute(
        0, 3, 1, 2).contiguous()


@MODELS.register_module()
class ParallelRoIAlign(RoIAlign):
    """mmcv's :class:`mmcv.ops.RoIAlign`, computed on CPU by
    :func:`parallel_roi_align` (every thread, torch's autograd) instead of
    mmcv's one-thread CPU kernel; on other devices, for ``pool_mode='max'``
    or ``use_torchvision=True``, and in ONNX export, mmcv's own path.

    Same arguments, inputs and outputs as mmcv's ``RoIAlign``; it is one
    (``isinstance``), so the bf16 wrappers run it in fp32 as they run
    mmcv's.
    """

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        """Args: input (Tensor): shape (B, C, H, W); rois (Tensor): shape
        (R, 5). Returns: Tensor: shape (R, C, h, w)."""
        if (input.device.type != 'cpu' or self.pool_mode != 'avg'
                or self.use_torchvision or torch.onnx.is_in_onnx_export()):
            return super().forward(input, rois)
        return parallel_roi_align(input, rois, self.output_size,
                                  self.spatial_scale, self.sampling_ratio,
                                  self.aligned)


@MODELS.register_module()
class RegistrySingleRoIExtractor(SingleRoIExtractor):
    """mmdet's :class:`SingleRoIExtractor` whose ``roi_layer.type`` may also
    name a layer registered in MMDetection's ``MODELS`` registry, such as
    ``'ParallelRoIAlign'`` (mmdet's resolves the name in ``mmcv.ops``
    only). Everything else is mmdet's.

    Raises:
        KeyError: ``roi_layer.type`` is in neither ``mmcv.ops`` nor
            ``MODELS``.
    """

    def build_roi_layers(self, layer_cfg: dict,
                         featmap_strides: List[int]) -> nn.ModuleList:
        """One RoI layer per stride, as mmdet's; see the class doc."""
        cfg = dict(layer_cfg)
        name = cfg['type']
        if isinstance(name, str) and not hasattr(ops, name):
            layer = MODELS.get(name)
            if layer is None:
                raise KeyError(f'roi_layer type {name!r} is neither in '
                               'mmcv.ops nor registered in MODELS')
            cfg['type'] = layer
        return super().build_roi_layers(cfg, featmap_strides)
