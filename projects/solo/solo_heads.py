"""SOLO and Decoupled SOLO heads with bounded post-processing.

Training (targets, dice loss, focal loss) is mmdet 3.3's, unchanged; only
``_predict_by_feat_single`` differs, delegating to
:func:`~projects.solo.grid_postprocess.grid_predict`, which caps the
candidates before it builds their masks (see that module for why).
"""
from typing import Sequence

import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import (DecoupledSOLOHead,
                                      DecoupledSOLOLightHead, SOLOHead)
from mmdet.registry import MODELS
from .grid_postprocess import cell_strides, grid_predict


def check_grid_cfg(head: str, num_grids: Sequence[int],
                   strides: Sequence[int], scale_ranges: Sequence) -> None:
    """Check that the grid settings give one value per FPN level.

    mmdet only asserts this, without saying which key is wrong.

    Raises:
        ValueError: ``num_grids``, ``strides`` and ``scale_ranges`` differ in
            length, or a grid number is not a positive int.
    """
    lengths = dict(
        num_grids=len(num_grids),
        strides=len(strides),
        scale_ranges=len(scale_ranges))
    if len(set(lengths.values())) != 1:
        raise ValueError(f'{head}: model.mask_head needs one value per FPN '
                         f'level in num_grids, strides and scale_ranges, '
                         f'got lengths {lengths}')
    bad = [s for s in num_grids if not isinstance(s, int) or s < 1]
    if bad:
        raise ValueError(f'{head}: model.mask_head.num_grids must be '
                         f'positive ints (S of each S x S grid), got {bad}')


class GridCheckMixin:
    """Runs :func:`check_grid_cfg` on the head's arguments before mmdet's
    ``__init__`` (mmdet's defaults: 5 levels)."""

    def __init__(self, *args, **kwargs) -> None:
        check_grid_cfg(
            type(self).__name__, kwargs.get('num_grids', [40, 36, 24, 16,
                                                          12]),
            kwargs.get('strides', (4, 8, 16, 32, 64)),
            kwargs.get('scale_ranges', ((8, 32), ) * 5))
        super().__init__(*args, **kwargs)


@MODELS.register_module()
class ZooSOLOHead(GridCheckMixin, SOLOHead):
    """SOLO head (Wang et al., "SOLO: Segmenting Objects by Locations",
    ECCV 2020, §3): an S x S category grid and one mask per grid cell.

    Differs from mmdet's ``SOLOHead`` in post-processing only: candidates
    are capped to ``test_cfg.nms_pre`` before their masks are gathered, so
    memory no longer grows with cells x classes x H x W; boxes are the tight
    boxes of the masks (mmdet's are zeros); an empty result has long labels
    and bool masks. The grid (``num_grids``, default [40, 36, 24, 16, 12])
    is a constructor argument, checked against ``strides`` and
    ``scale_ranges``.

    Raises:
        ValueError: See :func:`check_grid_cfg`.
    """

    def _predict_by_feat_single(self,
                                cls_scores: Tensor,
                                mask_preds: Tensor,
                                img_meta: dict,
                                cfg: ConfigDict = None) -> InstanceData:
        """Masks, labels and scores of one image.

        Args:
            cls_scores (Tensor): shape (num_cells, num_classes), after
                sigmoid and point NMS.
            mask_preds (Tensor): Mask probabilities of every cell, shape
                (num_cells, h, w), 1/4 of the padded input.
            img_meta (dict): Meta information of the image.
            cfg (ConfigDict, optional): Test config; the head's by default.

        Returns:
            InstanceData: See :func:`grid_predict`.
        """
        cfg = self.test_cfg if cfg is None else cfg
        h, w = mask_preds.shape[-2:]
        return grid_predict(
            cls_scores,
            lambda cells: mask_preds.index_select(0, cells),
            cell_strides(self.num_grids, self.strides, cls_scores.device),
            (h * 4, w * 4), img_meta, cfg)


class _DecoupledPredictMixin:
    """Post-processing shared by the two decoupled heads: the mask of cell
    (i, j) is the product of X-branch mask j and Y-branch mask i (SOLO
    paper §3.4, Decoupled SOLO)."""

    def _predict_by_feat_single(self,
                                cls_scores: Tensor,
                                mask_preds_x: Tensor,
                                mask_preds_y: Tensor,
                                img_meta: dict,
                                cfg: ConfigDict = None) -> InstanceData:
        """Masks, labels and scores of one image.

        Args:
            cls_scores (Tensor): shape (num_cells, num_classes).
            mask_preds_x (Tensor): X-branch probabilities, shape
                (sum S, h, w), levels concatenated.
            mask_preds_y (Tensor): Y-branch probabilities, shape
                (sum S, h, w).
            img_meta (dict): Meta information of the image.
            cfg (ConfigDict, optional): Test config; the head's by default.

        Returns:
            InstanceData: See :func:`grid_predict`.
        """
        cfg = self.test_cfg if cfg is None else cfg
        device = cls_scores.device
        x_inds, y_inds = [], []
        offset = 0
        for s in self.num_grids:
            local = torch.arange(s * s, device=device)
            x_inds.append(offset + local % s)
            y_inds.append(offset + local // s)
            offset += s
        x_inds, y_inds = torch.cat(x_inds), torch.cat(y_inds)

        def cell_masks(cells: Tensor) -> Tensor:
            return (mask_preds_x.index_select(0, x_inds.index_select(0, cells))
                    * mask_preds_y.index_select(0,
                                                y_inds.index_select(0, cells)))

        h, w = mask_preds_x.shape[-2:]
        return grid_predict(cls_scores, cell_masks,
                            cell_strides(self.num_grids, self.strides,
                                         device), (h * 4, w * 4), img_meta,
                            cfg)


@MODELS.register_module()
class ZooDecoupledSOLOHead(GridCheckMixin, _DecoupledPredictMixin,
                           DecoupledSOLOHead):
    """Decoupled SOLO head (SOLO paper §3.4): X and Y mask branches of S
    masks each instead of S^2 masks, so far less memory.

    Differs from mmdet's ``DecoupledSOLOHead`` as :class:`ZooSOLOHead`
    differs from ``SOLOHead``: bounded post-processing, boxes from masks,
    typed empty results, checked grid settings.
    """


@MODELS.register_module()
class ZooDecoupledSOLOLightHead(GridCheckMixin, _DecoupledPredictMixin,
                                DecoupledSOLOLightHead):
    """Decoupled SOLO light head (SOLO paper §4.4, the real-time variant:
    shared mask convs, 4 stacked convs), with :class:`ZooDecoupledSOLOHead`'s
    post-processing."""
