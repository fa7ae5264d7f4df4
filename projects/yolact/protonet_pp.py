"""YOLACT++ protonet: YOLACT's mask head plus the fast mask re-scoring
branch (YOLACT++, TPAMI 2020, §4.1)."""
import copy
from typing import List

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.registry import MODELS
from mmdet.utils import InstanceList
from projects.layers.head_outputs import (PROTONET_OUTPUTS, HeadOutputs,
                                          register_head_outputs)
from .mask_rescoring import binary_mask_iou
from .protonet import ZooYOLACTProtonet


@register_head_outputs(HeadOutputs(PROTONET_OUTPUTS, split=True,
                                   post_modules=('maskiou_net', )))
@MODELS.register_module()
class YOLACTPlusPlusProtonet(ZooYOLACTProtonet):
    """:class:`ZooYOLACTProtonet` with YOLACT++'s mask re-scoring.

    What differs from the parent, and why (dbolya/yolact,
    ``yolact_plus_base_config`` and ``MultiBoxLoss.lincomb_mask_loss``):

    * a :class:`~projects.yolact.mask_rescoring.FastMaskIoUNet`
      (``self.maskiou_net``) maps each cropped soft mask at prototype
      resolution to a mask IoU per class;
    * training (``loss_by_feat``) adds ``loss_maskiou``: for every positive
      anchor (at most ``max_masks_to_train`` per image, drawn at random as
      the parent does for ``loss_mask``) whose downsampled binary GT mask
      covers more than ``discard_mask_area`` prototype pixels (dbolya's
      ``discard_mask_area = 5*5``), the branch's prediction for the GT class
      regresses the IoU between the mask thresholded at 0.5 and the GT mask.
      As dbolya, masks are cropped by their GT boxes, the loss is a
      smooth L1 (beta 1) summed over samples, weighted by 25
      (``maskiou_alpha``) and divided by the number of positives of the
      batch. Unlike dbolya, the branch's input is detached by default
      (``detach_maskiou_input``), so the re-scoring loss trains the branch
      only and does not pull the masks towards what it finds easy to score;
      dbolya back-propagates it into the prototypes and coefficients;
    * prediction (``predict_by_feat``) multiplies each detection's score by
      the predicted IoU of its class (dbolya ``rescore_mask``), computed on
      its cropped mask at prototype resolution before upsampling, and keeps
      that IoU in ``results.mask_ious``. mmdet has one score per detection,
      so the rescored score also ranks the boxes, whereas dbolya keeps the
      class score for box AP (``rescore_bbox=False``).

    The loss and prediction reuse the parent's code and add to it; the
    masks are cropped a second time (cheap) rather than overriding the
    parent's cropping.

    Args:
        maskiou_net (dict): config of the re-scoring branch;
            ``num_classes`` defaults to the head's.
        loss_maskiou (dict): config of the re-scoring loss, called with
            ``avg_factor`` = number of positives of the batch.
        discard_mask_area (float): GT masks with at most this many pixels at
            prototype resolution are left out of ``loss_maskiou``.
        detach_maskiou_input (bool): stop the re-scoring loss's gradient at
            the branch's input masks.
        *args, **kwargs: the parent's arguments.
    """

    def __init__(self,
                 *args,
                 maskiou_net: dict = dict(
                     type='FastMaskIoUNet', channels=(8, 16, 32, 64, 128)),
                 loss_maskiou: dict = dict(
                     type='SmoothL1Loss', beta=1.0, loss_weight=25.0),
                 discard_mask_area: float = 25,
                 detach_maskiou_input: bool = True,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        maskiou_net = copy.deepcopy(dict(maskiou_net))
        maskiou_net.setdefault('num_classes', self.num_classes)
        self.maskiou_net = MODELS.build(maskiou_net)
        self.loss_maskiou = MODELS.build(loss_maskiou)
        self.discard_mask_area = discard_mask_area
        self.detach_maskiou_input = detach_maskiou_input

    def predict_mask_ious(self, masks: Tensor, labels: Tensor) -> Tensor:
        """The branch's predicted IoU of each mask for its own class.

        Args:
            masks (Tensor): shape (N, h, w), cropped soft masks at prototype
                resolution.
            labels (Tensor): shape (N,), class of each mask.

        Returns:
            Tensor: shape (N,), predicted mask IoUs.
        """
        ious = self.maskiou_net(masks)
        return ious.gather(1, labels[:, None].long()).squeeze(1)

    def loss_by_feat(self, mask_preds: List[Tensor], segm_preds: Tensor,
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict], positive_infos: InstanceList,
                     **kwargs) -> dict:
        """The parent's ``loss_mask``/``loss_segm`` plus ``loss_maskiou``.

        Args:
            mask_preds (list[Tensor]): per image, shape (h, w, num_pos),
                soft masks at prototype resolution (uncropped).
            segm_preds (Tensor): shape (N, num_classes, h', w').
            batch_gt_instances (list[InstanceData]): ``bboxes``, ``labels``,
                ``masks`` of each image.
            batch_img_metas (list[dict]): needs ``img_shape``.
            positive_infos (list[InstanceData]): per image,
                ``pos_assigned_gt_inds`` (num_pos,) and ``bboxes``
                (num_pos, 4), the assigned GT boxes used for cropping.

        Returns:
            dict[str, Tensor]: the parent's losses and ``loss_maskiou``.
        """
        losses = super().loss_by_feat(mask_preds, segm_preds,
                                      batch_gt_instances, batch_img_metas,
                                      positive_infos, **kwargs)
        if self.detach_maskiou_input:
            mask_preds = [m.detach() for m in mask_preds]
        cropped = self.crop_mask_preds(mask_preds, batch_img_metas,
                                       positive_infos)
        inputs, targets, labels = [], [], []
        for masks, gt, info in zip(cropped, batch_gt_instances,
                                   positive_infos):
            sample = self._maskiou_targets_single(masks, gt, info)
            for out, item in zip((inputs, targets, labels), sample):
                out.append(item)
        num_pos = sum(
            len(info.pos_assigned_gt_inds) for info in positive_infos)
        pred = self.predict_mask_ious(torch.cat(inputs), torch.cat(labels))
        losses['loss_maskiou'] = self.loss_maskiou(
            pred, torch.cat(targets), avg_factor=max(num_pos, 1))
        return losses

    def _maskiou_targets_single(self, masks: Tensor, gt: InstanceData,
                                info: InstanceData) -> tuple:
        """Inputs and targets of the re-scoring loss for one image.

        Args:
            masks (Tensor): shape (num_pos, h, w), cropped soft masks.
            gt (InstanceData): the image's GT ``masks`` and ``labels``.
            info (InstanceData): ``pos_assigned_gt_inds`` (num_pos,).

        Returns:
            tuple: ``masks`` (k, h, w), the kept input masks; ``ious`` (k,),
            their IoU with the GT mask; ``labels`` (k,), the GT classes.
        """
        gt_inds = info.pos_assigned_gt_inds
        if len(gt_inds) > self.max_masks_to_train:
            select = torch.randperm(len(gt_inds), device=gt_inds.device)
            select = select[:self.max_masks_to_train]
            masks, gt_inds = masks[select], gt_inds[select]
        if len(gt_inds) == 0:
            return masks, masks.new_zeros(0), gt.labels[gt_inds]
        with torch.no_grad():
            gt_masks = gt.masks.to_tensor(
                dtype=torch.float, device=masks.device)
            gt_masks = F.interpolate(
                gt_masks[None], masks.shape[-2:], mode='bilinear',
                align_corners=False)[0].gt(0.5).float()[gt_inds]
            keep = gt_masks.sum(dim=(1, 2)) > self.discard_mask_area
            ious = binary_mask_iou(masks[keep], gt_masks[keep])
        return masks[keep], ious, gt.labels[gt_inds][keep]

    def predict_by_feat(self,
                        mask_preds: List[Tensor],
                        segm_preds: Tensor,
                        results_list: InstanceList,
                        batch_img_metas: List[dict],
                        rescale: bool = True,
                        **kwargs) -> InstanceList:
        """Re-score the detections, then the parent's mask prediction.

        Args:
            mask_preds (list[Tensor]): per image, shape (h, w, n), soft
                masks at prototype resolution.
            segm_preds (Tensor): unused at test time (None).
            results_list (list[InstanceData]): detections with ``bboxes``
                (n, 4) in network-input pixels, ``scores`` (n,), ``labels``
                (n,).
            batch_img_metas (list[dict]): meta of each image.
            rescale (bool): return masks at the original image size.

        Returns:
            list[InstanceData]: the parent's results with ``scores`` (n,)
            multiplied by ``mask_ious`` (n,), the predicted mask IoUs, and
            ``masks`` (n, H, W).
        """
        cropped = self.crop_mask_preds(mask_preds, batch_img_metas,
                                       results_list)
        for results, masks in zip(results_list, cropped):
            if len(results) == 0:
                continue
            results.mask_ious = self.predict_mask_ious(masks, results.labels)
            results.scores = results.scores * results.mask_ious
        return super().predict_by_feat(mask_preds, segm_preds, results_list,
                                       batch_img_metas, rescale, **kwargs)
