"""YOLACT protonet with 0-based semantic segmentation targets and masks
pasted only where their boxes reach."""
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import YOLACTProtonet
from mmdet.models.dense_heads.yolact_head import InterpolateModule
from mmdet.registry import MODELS
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import InstanceList
from projects.layers.graph_ops import register_graph_postprocess
from projects.layers.head_outputs import (PROTONET_OUTPUTS, HeadOutputs,
                                          register_head_outputs)
from projects.layers.prototypes import paste_masks
from .graph_postprocess import yolact_graph_postprocess


MASK_PASTE = ('box', 'image')


@register_graph_postprocess(yolact_graph_postprocess)
@register_head_outputs(HeadOutputs(PROTONET_OUTPUTS, split=True))
@MODELS.register_module()
class ZooYOLACTProtonet(YOLACTProtonet):
    """mmdet's :class:`~mmdet.models.dense_heads.YOLACTProtonet`, with the
    semantic segmentation auxiliary loss (YOLACT §3.2 / SSS's auxiliary
    semantic head) aimed at the right channels.

    What differs: MMDetection 3.3 builds the semantic target of instance
    ``i`` in channel ``gt_labels[i] - 1``, a leftover of 1-based labels, while
    mmdet 3.x labels are 0-based: class ``c``'s target lands in channel
    ``c - 1`` and class 0's in the last channel (MMDetection issue 5023). The
    parent's ``_get_targets_single`` uses the labels only there, so this
    subclass hands it labels shifted by one and reuses the rest unchanged.

    At test, ``test_cfg.mask_paste`` chooses how masks reach the image size:
    ``'image'`` is mmdet's (every mask bilinearly upsampled over the whole
    image, then thresholded); ``'box'`` (default) upsamples each cropped mask
    only over the window its box can reach (:func:`projects.layers.prototypes.
    paste_masks`), the same masks up to pixels within float rounding of the
    threshold, and on CPU the difference between post-processing that costs
    more than the network and post-processing that costs little.

    GT boxes under one prototype pixel wide or high take no part in the mask
    loss (they still train boxes, classes and the semantic map): at
    prototype resolution such an object has vanished, its thresholded
    target is empty, and mmdet weighs that loss by one over the box area
    in prototype pixels, so one such box can dominate a batch's loss
    (measured: configs/yolact/README.md). Original YOLACT never trains on
    these boxes: it discards boxes under 4/550 of the input, about one
    prototype pixel, after augmentation, while mmdet's pipeline filters
    before Expand/crop/resize.

    ``proto_norm=True`` normalises each prototype over its H x W before the
    last ReLU (see :class:`projects.layers.prototypes.Protonet`), so that the
    prototypes cannot all die (docs/results/prototype_collapse).

    ``forward`` is mmdet's, written as two explicit steps,
    :meth:`forward_dense` (prototypes: network) and
    :meth:`forward_instances` (per-detection masks: post-processing), so
    that an ONNX export runs the first and post-processing the second
    (:mod:`projects.deploy`); mmdet's single ``forward`` needs the
    detections before it can compute the prototypes.

    Everything else (protonet, the mask loss of the other positives,
    prediction) is mmdet's.

    Args:
        *args: Arguments of :class:`YOLACTProtonet`.
        proto_norm (bool): Defaults to False (YOLACT).
        **kwargs: Arguments of :class:`YOLACTProtonet`.
    """

    def __init__(self, *args, proto_norm: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.proto_norm = proto_norm
        if proto_norm:
            if not self.include_last_relu:
                raise ValueError('proto_norm needs include_last_relu=True: '
                                 'it normalises right before that ReLU')
            # no parameters or buffers: state dict keys are unchanged
            layers = list(self.protonet)
            self.protonet = nn.Sequential(
                *layers[:-1], nn.InstanceNorm2d(self.num_protos),
                layers[-1])
        # mmdet puts a ReLU after every layer, the bilinear upsampling too,
        # whose input is a ReLU's output already: the upsampled map is >= 0
        # and that ReLU returns it unchanged at the cost of one pass over
        # the largest feature map (256 x 96 x 96 at 384 px). An Identity in
        # its place keeps the layer indices and so the state dict keys.
        layers = list(self.protonet)
        for i in range(1, len(layers) - 1):
            if (isinstance(layers[i], InterpolateModule)
                    and isinstance(layers[i - 1], nn.ReLU)
                    and isinstance(layers[i + 1], nn.ReLU)):
                self.protonet[i + 1] = nn.Identity()

    def forward_dense(self, x: Tuple[Tensor]) -> Tuple[Tensor, Optional[
            Tensor]]:
        """The dense part of mmdet's :meth:`YOLACTProtonet.forward`: the
        prototypes (and, in training, the semantic logits), which need no
        detection, so that an ONNX export can stop here
        (:mod:`projects.deploy`).

        Args:
            x (tuple[Tensor]): FPN levels, each (B, C, H_l, W_l); the first
                (P3) is read.

        Returns:
            tuple[Tensor, Tensor | None]: prototypes of shape (B, h, w, k)
            (channels last, as mmdet combines them) and the semantic logits
            (B, num_classes, h', w') while training with a segmentation
            branch, else None.
        """
        single_x = x[0]
        segm_preds = None
        if self.segm_branch is not None and self.training:
            segm_preds = self.segm_branch(single_x)
        prototypes = self.protonet(single_x).permute(0, 2, 3, 1).contiguous()
        return prototypes, segm_preds

    def forward_instances(self, prototypes: Tensor,
                          segm_preds: Optional[Tensor],
                          positive_infos: InstanceList) -> tuple:
        """The per-instance part of mmdet's :meth:`YOLACTProtonet.forward`:
        each instance's soft mask ``sigmoid(P C^T)`` (YOLACT eq. 1).

        Args:
            prototypes (Tensor): shape (B, h, w, k), from
                :meth:`forward_dense`.
            segm_preds (Tensor, optional): passed through.
            positive_infos (list[InstanceData]): per image, ``coeffs``
                (n, k) of the positives (training) or detections (test).

        Returns:
            tuple[list[Tensor], Tensor | None]: per image, soft masks of
            shape (h, w, n), and ``segm_preds``.
        """
        mask_pred_list = [
            torch.sigmoid(protos @ info.coeffs.t())
            for protos, info in zip(prototypes, positive_infos)
        ]
        return mask_pred_list, segm_preds

    def forward(self, x: Tuple[Tensor],
                positive_infos: InstanceList) -> tuple:
        """mmdet's forward, as :meth:`forward_dense` then
        :meth:`forward_instances` (the same operations in the same order).

        Args:
            x (tuple[Tensor]): FPN levels, each (B, C, H_l, W_l).
            positive_infos (list[InstanceData]): per image, ``coeffs``
                (n, k).

        Returns:
            tuple[list[Tensor], Tensor | None]: see
            :meth:`forward_instances`.
        """
        return self.forward_instances(*self.forward_dense(x), positive_infos)

    def crop_single(self, masks: Tensor, boxes: Tensor,
                    padding: int = 1) -> Tensor:
        """mmdet's crop (zero each mask outside its box, widened by
        ``padding`` prototype pixels, YOLACT §3.2), built from one row and
        one column test per instance instead of four tests over the whole
        (h, w, n) grid: the same kept pixels and the same product
        ``masks * crop.float()`` (so the same values and gradients; a test
        checks it against mmdet's), about 3x faster on CPU.

        Args:
            masks (Tensor): shape (h, w, n), soft masks.
            boxes (Tensor): shape (n, 4), (x1, y1, x2, y2) relative to the
                input size (0..1).
            padding (int): prototype pixels added on every side.

        Returns:
            Tensor: shape (h, w, n).
        """
        h, w, _ = masks.size()
        x1, x2 = self.sanitize_coordinates(
            boxes[:, 0], boxes[:, 2], w, padding, cast=False)
        y1, y2 = self.sanitize_coordinates(
            boxes[:, 1], boxes[:, 3], h, padding, cast=False)
        cols = torch.arange(w, device=masks.device, dtype=x1.dtype)[:, None]
        rows = torch.arange(h, device=masks.device, dtype=y1.dtype)[:, None]
        in_x = (cols >= x1) & (cols < x2)  # (w, n)
        in_y = (rows >= y1) & (rows < y2)  # (h, n)
        return masks * (in_y[:, None, :] & in_x[None, :, :]).float()

    def _get_targets_single(self, mask_preds: Tensor, segm_pred: Tensor,
                            gt_instances: InstanceData,
                            positive_info: InstanceData) -> tuple:
        """Targets of one image; see the parent. ``segm_targets`` (C, h, w)
        holds class ``c``'s downsampled GT masks in channel ``c``.
        """
        shifted = gt_instances.clone()
        shifted.labels = gt_instances.labels + 1  # parent subtracts 1
        return super()._get_targets_single(mask_preds, segm_pred, shifted,
                                           positive_info)

    def loss_by_feat(self, mask_preds: List[Tensor], segm_preds: Tensor,
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict], positive_infos: InstanceList,
                     **kwargs) -> dict:
        """mmdet's mask and semantic losses over the positives whose GT box
        is at least one prototype pixel wide and high (see the class
        docstring), averaged over those positives as mmdet averages over
        all of them.

        Args:
            mask_preds (list[Tensor]): per image, shape (h, w, num_pos),
                soft masks at prototype resolution.
            segm_preds (Tensor): shape (N, num_classes, h', w').
            batch_gt_instances (list[InstanceData]): ``bboxes``, ``labels``,
                ``masks`` of each image.
            batch_img_metas (list[dict]): need ``img_shape``.
            positive_infos (list[InstanceData]): per image, ``bboxes``
                (num_pos, 4), the GT box assigned to each positive, and the
                parent's other per-positive fields.

        Returns:
            dict[str, list[Tensor]]: ``loss_mask`` and ``loss_segm``.
        """
        proto_h, proto_w = mask_preds[0].shape[:2]
        kept_preds, kept_infos = [], []
        for preds, info, meta in zip(mask_preds, positive_infos,
                                     batch_img_metas):
            img_h, img_w = meta['img_shape'][:2]
            boxes = get_box_tensor(info.bboxes)  # the assigned GT boxes
            keep = ((boxes[:, 2] - boxes[:, 0]) * proto_w >= img_w) & (
                (boxes[:, 3] - boxes[:, 1]) * proto_h >= img_h)
            kept_preds.append(preds[..., keep])
            kept_infos.append(info[keep])
        return super().loss_by_feat(kept_preds, segm_preds,
                                    batch_gt_instances, batch_img_metas,
                                    kept_infos, **kwargs)

    def _predict_by_feat_single(self,
                                mask_preds: Tensor,
                                bboxes: Tensor,
                                img_meta: dict,
                                rescale: bool,
                                cfg: Optional[dict] = None) -> Tensor:
        """Binary masks of one image at the output size.

        Args:
            mask_preds (Tensor): shape (n, h, w), cropped mask probabilities
                at prototype resolution.
            bboxes (Tensor): shape (n, 4), boxes in input pixels; rescaled in
                place to the original image when ``rescale`` (as mmdet).
            img_meta (dict): needs ``ori_shape`` and ``scale_factor``.
            rescale (bool): masks at the original image size if True, else
                at the network input size.
            cfg (dict, optional): ``test_cfg``; ``mask_thr`` and
                ``mask_paste`` (``'box'`` or ``'image'``).

        Returns:
            Tensor: shape (n, H, W), bool (uint8 0/255 when
            ``mask_thr_binary < 0``, as mmdet).

        Raises:
            ValueError: for an unknown ``mask_paste``.
        """
        cfg = self.test_cfg if cfg is None else cfg
        paste = cfg.get('mask_paste', 'box')
        if paste not in MASK_PASTE:
            raise ValueError(f'test_cfg.mask_paste={paste!r}; allowed: '
                             f'{", ".join(MASK_PASTE)}')
        scale_factor = bboxes.new_tensor(img_meta['scale_factor']).repeat(
            (1, 2))
        img_h, img_w = img_meta['ori_shape'][:2]
        if rescale:
            bboxes /= scale_factor
        else:
            img_h = int(np.round(img_h * scale_factor[0, 1].item()))
            img_w = int(np.round(img_w * scale_factor[0, 0].item()))
        if paste == 'box' and cfg.mask_thr >= 0:
            masks = paste_masks(mask_preds, img_h, img_w, cfg.mask_thr)
        else:
            masks = F.interpolate(
                mask_preds.unsqueeze(0), (img_h, img_w),
                mode='bilinear',
                align_corners=False).squeeze(0) > cfg.mask_thr
        if cfg.mask_thr_binary < 0:
            masks = (masks * 255).to(dtype=torch.uint8)
        return masks
