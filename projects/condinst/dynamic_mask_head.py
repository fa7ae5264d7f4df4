"""CondInst's dynamic mask head with the width, depth and input switches of
the paper's ablations (slides, CondInst Table 1 and Table 3).

AdelaiDet: ``adet/modeling/condinst/dynamic_mask_head.py``.
"""
from typing import List, Tuple

import torch
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import CondInstMaskHead
from mmdet.models.utils import (aligned_bilinear, multi_apply,
                                relative_coordinate_maps)
from mmdet.registry import MODELS
from projects.layers.graph_ops import register_graph_postprocess
from projects.layers.head_outputs import (SINGLE, HeadOutputs,
                                          register_head_outputs)
from .graph_postprocess import condinst_graph_postprocess


def dynamic_layer_channels(in_channels: int, width: int, depth: int,
                           rel_coords: bool = True) -> List[int]:
    """Input and output channels of every layer of the dynamic mask head.

    Args:
        in_channels (int): Channels of the mask features F_mask (8 in the
            paper).
        width (int): Channels of the hidden layers (Table 1b, 8 in the
            paper).
        depth (int): Number of 1x1 conv layers (Table 1a, 3 in the paper);
            the last one has one output channel, the mask logit.
        rel_coords (bool): Whether the two relative-coordinate maps are
            concatenated to F_mask (Table 3, Fig. 3's F~_mask).

    Returns:
        list[int]: ``depth + 1`` channel counts, the input first, 1 last.

    Raises:
        ValueError: if ``depth``, ``width`` or ``in_channels`` is below 1.
    """
    for name, value in (('in_channels', in_channels), ('width', width),
                        ('depth', depth)):
        if value < 1:
            raise ValueError(f'dynamic mask head: {name}={value}, must be '
                             '>= 1')
    first = in_channels + (2 if rel_coords else 0)
    return [first] + [width] * (depth - 1) + [1]


def dynamic_param_count(in_channels: int = 8, width: int = 8, depth: int = 3,
                        rel_coords: bool = True) -> int:
    """Number of conv. parameters the controller generates per instance.

    The paper's head (8 mask-feature channels + 2 relative coordinates,
    width 8, depth 3) has (10 * 8 + 8) + (8 * 8 + 8) + (8 * 1 + 1) = 169
    (slides: "169 parameters vs. 2.3M in Mask R-CNN").

    Args: as :func:`dynamic_layer_channels`.

    Returns:
        int: weights plus biases of all layers.
    """
    chans = dynamic_layer_channels(in_channels, width, depth, rel_coords)
    return sum(i * o + o for i, o in zip(chans[:-1], chans[1:]))


@register_graph_postprocess(condinst_graph_postprocess)
@register_head_outputs(HeadOutputs((('mask_feats', SINGLE), ), split=True))
@MODELS.register_module()
class ZooCondInstMaskHead(CondInstMaskHead):
    """mmdet's :class:`CondInstMaskHead` with the parameter layout fixed
    and a relative-coordinates switch.

    What differs from mmdet 3.3 and why:

    - ``_init_layers``: the per-layer parameter counts come from
      :func:`dynamic_layer_channels`. mmdet's always gives the first layer
      ``feat_channels`` outputs, so ``num_layers=1`` (Table 1a's depth 1,
      one layer straight to the mask logit) got (C + 2) * 8 + 8 = 88
      parameters instead of C + 2 + 1; and it always adds the two
      coordinate channels.
    - ``parse_dynamic_params``: mmdet reshapes the hidden layers' weights
      and biases with ``self.in_channels`` (the mask-feature channels)
      where the layers have ``feat_channels`` outputs; it works only while
      both are 8 (16 mask-feature channels at width 8 is a shape error).
      Here each layer is reshaped with its own output channels, as
      AdelaiDet's ``parse_dynamic_params`` does.
    - ``forward_single``: ``rel_coords=False`` feeds the mask features
      alone (Table 3's first row, 31.4 vs 35.7 mask AP).
    - ``forward``: mmdet's, written as two explicit steps,
      :meth:`forward_dense` (the mask branch F_mask: network) and
      :meth:`forward_instances` (the dynamic convs of the detections:
      post-processing), so that an ONNX export runs the first and
      post-processing the second (:mod:`projects.deploy`).

    ``dynamic_conv_forward`` (grouped 1x1 convs, ReLU between layers) and
    the losses and post-processing are mmdet's.

    Args:
        rel_coords (bool): Concatenate the relative coordinates of each
            instance's location to the mask features (Fig. 3). Defaults to
            True.
        *args, **kwargs: :class:`CondInstMaskHead`'s (``num_layers`` is
            the depth, ``feat_channels`` the width,
            ``mask_feature_head.out_channels`` the mask-feature channels).

    Raises:
        ValueError: if the depth, width or mask-feature channels are below
            1.
    """

    def __init__(self, *args, rel_coords: bool = True, **kwargs) -> None:
        self.rel_coords = rel_coords
        super().__init__(*args, **kwargs)

    def _init_layers(self) -> None:
        """Set ``weight_nums``, ``bias_nums`` and ``num_params`` from the
        channels of each dynamic layer."""
        chans = dynamic_layer_channels(self.in_channels, self.feat_channels,
                                       self.num_layers, self.rel_coords)
        self.layer_channels = chans
        self.weight_nums = [i * o for i, o in zip(chans[:-1], chans[1:])]
        self.bias_nums = chans[1:]
        self.num_params = sum(self.weight_nums) + sum(self.bias_nums)

    def parse_dynamic_params(
            self, params: Tensor) -> Tuple[List[Tensor], List[Tensor]]:
        """Split each instance's parameters into grouped-conv weights.

        Args:
            params (Tensor): shape (N, num_params), one row per instance.

        Returns:
            tuple[list[Tensor], list[Tensor]]: per layer l with ``c_in``
            inputs and ``c_out`` outputs, weights of shape
            (N * c_out, c_in, 1, 1) and biases of shape (N * c_out, ).

        Raises:
            ValueError: if ``params`` has not ``num_params`` columns (the
                box head's ``num_params`` does not match this head).
        """
        if params.dim() != 2 or params.size(1) != self.num_params:
            raise ValueError(
                f'dynamic params of shape {tuple(params.shape)}; this mask '
                f'head needs (N, {self.num_params}) (bbox_head.num_params)')
        num_insts = params.size(0)
        splits = torch.split_with_sizes(
            params, self.weight_nums + self.bias_nums, dim=1)
        weights = [
            w.reshape(num_insts * c_out, -1, 1, 1)
            for w, c_out in zip(splits[:self.num_layers], self.bias_nums)
        ]
        biases = [
            b.reshape(num_insts * c_out)
            for b, c_out in zip(splits[self.num_layers:], self.bias_nums)
        ]
        return weights, biases

    def forward_dense(self, x: Tuple[Tensor]) -> Tuple[Tensor]:
        """The mask branch, the dense part of mmdet's ``forward``.

        Args:
            x (tuple[Tensor]): FPN levels, each (B, C, H_l, W_l).

        Returns:
            tuple[Tensor]: F_mask, shape (B, C_mask, H, W) at
            ``mask_feat_stride``.
        """
        return (self.mask_feature_head(x), )

    def forward_instances(self, mask_feats: Tensor,
                          positive_infos: List[InstanceData]) -> tuple:
        """The dynamic mask head of every image's instances, the
        per-instance part of mmdet's ``forward``.

        Args:
            mask_feats (Tensor): shape (B, C_mask, H, W), from
                :meth:`forward_dense`.
            positive_infos (list[InstanceData]): per image, see
                :meth:`forward_single`.

        Returns:
            tuple[list[Tensor]]: per image, mask logits of shape
            (N, H * r, W * r).
        """
        return multi_apply(self.forward_single, mask_feats, positive_infos)

    def forward(self, x: Tuple[Tensor],
                positive_infos: List[InstanceData]) -> tuple:
        """mmdet's forward: :meth:`forward_dense`, then
        :meth:`forward_instances`.

        Args:
            x (tuple[Tensor]): FPN levels, each (B, C, H_l, W_l).
            positive_infos (list[InstanceData]): per image, the positives
                (training) or detections (test).

        Returns:
            tuple[list[Tensor]]: see :meth:`forward_instances`.
        """
        return self.forward_instances(*self.forward_dense(x), positive_infos)

    def forward_single(self, mask_feat: Tensor,
                       positive_info: InstanceData) -> Tuple[Tensor]:
        """Masks of one image's instances.

        Args:
            mask_feat (Tensor): F_mask, shape (C, H, W) at
                ``mask_feat_stride``.
            positive_info (InstanceData): ``param_preds`` (N, num_params),
                ``points`` (N, 2) in input pixels and ``strides`` (N, ) of
                the locations that generated them.

        Returns:
            tuple[Tensor]: mask logits of shape (N, H * r, W * r), r =
            mask_feat_stride / mask_out_stride.
        """
        params = positive_info.get('param_preds')
        num_inst = params.shape[0]
        _, H, W = mask_feat.shape
        factor = int(self.mask_feat_stride / self.mask_out_stride)
        if num_inst == 0:
            return (params.new_zeros((0, H * factor, W * factor)), )
        inputs = mask_feat[None].expand(num_inst, -1, -1, -1)
        if self.rel_coords:
            locations = self.prior_generator.single_level_grid_priors(
                (H, W), 0, device=mask_feat.device)
            rel = relative_coordinate_maps(
                locations, positive_info.get('points'),
                positive_info.get('strides'), self.size_of_interest, (H, W))
            inputs = torch.cat([rel, inputs], dim=1)
        inputs = inputs.reshape(1, -1, H, W)
        weights, biases = self.parse_dynamic_params(params)
        mask_preds = self.dynamic_conv_forward(inputs, weights, biases,
                                               num_inst).reshape(-1, H, W)
        mask_preds = aligned_bilinear(mask_preds.unsqueeze(0),
                                      factor).squeeze(0)
        return (mask_preds, )
