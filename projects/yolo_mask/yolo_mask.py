"""YOLO-Mask (Zheng et al.): YOLOv3 plus a Mask R-CNN mask branch on its
post-NMS detections, trained in two steps or end to end (§4)."""
from typing import List, Tuple

import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

from mmdet.models.detectors import SingleStageDetector
from mmdet.models.utils import empty_instances, unpack_gt_instances
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import ConfigType, InstanceList, OptConfigType
from .mask_sampling import sample_mask_rois

TRAIN_MODES = ('detector', 'mask', 'e2e')


def clip_to_image(results: InstanceData, img_shape: tuple) -> InstanceData:
    """One image's detections with boxes clipped to the image; those not
    finite or without area inside it are dropped.

    mmdet's ``YOLOV3Head`` neither clips its boxes nor bounds ``exp`` of
    the size offsets, so an untrained or diverging head gives boxes of
    1e24 pixels or ``inf``. mmcv's RoIAlign (``sampling_ratio=0``) samples
    in proportion to box area: one 1e4 x 1e6 box took 56 s on this CPU,
    and the five detections of a random Darknet (boxes up to 1e24 px)
    took 200 s. Mask R-CNN
    never meets this: its proposals are clipped when decoded.

    Args:
        results (InstanceData): ``bboxes`` (n, 4), (x1, y1, x2, y2) in
            pixels of the network input, and per-detection fields.
        img_shape (tuple): (h, w) of the input image, before padding.

    Returns:
        InstanceData: the kept detections, ``bboxes`` (k, 4) inside
        [0, w] x [0, h].
    """
    boxes = results.bboxes
    results = results[torch.isfinite(boxes).all(dim=1)]
    h, w = img_shape[:2]
    boxes = results.bboxes
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
    return results[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]


@MODELS.register_module()
class YOLOMask(SingleStageDetector):
    """YOLOv3 (Darknet-53, ``YOLOV3Neck``, ``YOLOV3Head``) whose detections
    that survive NMS get a mask from mmdet's Mask R-CNN branch
    (``SingleRoIExtractor`` + ``FCNMaskHead``) on one neck level.

    Why a detector of our own: mmdet's ``TwoStageDetector`` takes the
    first stage as an RPN and sets every proposal's label to 0, so a
    class-aware YOLO head cannot be its first stage; and
    ``StandardRoIHead.loss`` assumes a box head that classifies and refines
    the proposals, which YOLO-Mask does not have (its classes and boxes are
    the YOLO head's). Everything else is mmdet's: the YOLOv3 losses and
    post-processing, Mask R-CNN's assigner/sampler (``train_cfg.mask``),
    mask targets and loss, and the paste of each mask into the original
    image (bilinear, ``FCNMaskHead.predict_by_feat``).

    Training (the paper's §4), chosen by ``train_mode``:

    * ``'detector'`` (step 1): the YOLOv3 losses only; the mask branch is
      frozen (``requires_grad=False``), so no parameter goes without a
      gradient (DDP).
    * ``'mask'`` (step 2, after loading step 1's checkpoint): the backbone,
      neck and YOLO head are frozen and kept in eval mode (their BN
      statistics do not move); they run without grad to give the post-NMS
      detections (``test_cfg``, boxes in the input-image frame), which are
      matched to the GT and sampled as Mask R-CNN's proposals
      (:func:`sample_mask_rois`, GT boxes added); the mask head learns on
      the positives (``loss_mask``).
    * ``'e2e'``: both losses summed; the detections are detached before
      they become proposals, the mask loss still reaches the backbone
      through RoIAlign, as in Mask R-CNN.

    Unlike mmdet's ``YOLOV3``, detections are clipped to the image and
    non-finite ones dropped (:func:`clip_to_image`), in training and test.
    ``train_mode`` and the freezing are fixed when the model is built.
    ``mode='tensor'`` returns the YOLO head's raw maps only, as mmdet's
    ``YOLOV3``: the mask branch needs post-processed boxes.

    Args:
        backbone, neck, bbox_head (dict): as mmdet's ``YOLOV3``.
        mask_roi_extractor (dict): a one-level ``SingleRoIExtractor``;
            ``featmap_strides`` must be ``[stride of mask_feat_level]``.
        mask_head (dict): ``FCNMaskHead``; 14x14 RoIs with a x2 deconv give
            28x28 masks, 7x7 RoIs with ``upsample_cfg=dict(type=None)`` 7x7.
        mask_feat_level (int): the neck output the RoIs are pooled from:
            0 is stride 32 (13x13 at 416), 1 stride 16, 2 stride 8.
        train_mode (str): ``'detector'``, ``'mask'`` or ``'e2e'``.
        train_cfg (dict, optional): the YOLO head's (``assigner``) plus
            ``mask``: ``assigner``, ``sampler`` and ``mask_size`` (int, the
            side of the mask targets, equal to the mask head's output).
        test_cfg (dict, optional): the YOLO head's post-processing plus
            ``mask_thr_binary`` (float).
        data_preprocessor, init_cfg (dict, optional): as mmdet's detectors.

    Raises:
        ValueError: for an unknown ``train_mode``, a ``mask_feat_level`` the
            neck does not have, a RoI extractor stride or channel count that
            does not match that level, a ``mask_size`` other than the mask
            head's output, or a ``test_cfg`` without ``mask_thr_binary``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 bbox_head: ConfigType,
                 mask_roi_extractor: ConfigType,
                 mask_head: ConfigType,
                 mask_feat_level: int = 2,
                 train_mode: str = 'detector',
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        if train_mode not in TRAIN_MODES:
            raise ValueError(f'train_mode={train_mode!r}; allowed: '
                             f'{", ".join(TRAIN_MODES)}')
        if test_cfg is not None and 'mask_thr_binary' not in test_cfg:
            raise ValueError('test_cfg needs mask_thr_binary (e.g. 0.5)')
        super().__init__(
            backbone=backbone,
            neck=neck,
            bbox_head=bbox_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.mask_roi_extractor = MODELS.build(mask_roi_extractor)
        self.mask_head = MODELS.build(mask_head)
        self.mask_feat_level = mask_feat_level
        self.train_mode = train_mode
        self._check_mask_branch()
        mask_cfg = (train_cfg or {}).get('mask')
        if mask_cfg is not None:
            self.mask_assigner = TASK_UTILS.build(mask_cfg['assigner'])
            self.mask_sampler = TASK_UTILS.build(
                mask_cfg['sampler'], default_args=dict(context=self))
        for module in self.frozen_modules():
            module.requires_grad_(False)

    @property
    def mask_size(self) -> Tuple[int, int]:
        """(h, w) of the mask head's logits: the RoI size times the
        upsampling factor (1 without upsampling)."""
        roi = _pair(self.mask_roi_extractor.roi_layers[0].output_size)
        scale = 1
        if self.mask_head.upsample is not None:
            scale = self.mask_head.scale_factor or 1
        return roi[0] * scale, roi[1] * scale

    def _check_mask_branch(self) -> None:
        """Raise ValueError if the mask branch does not fit the neck level
        or ``train_cfg.mask.mask_size`` (see the class docstring)."""
        strides = self.bbox_head.featmap_strides
        level = self.mask_feat_level
        if not 0 <= level < len(strides):
            raise ValueError(f'mask_feat_level={level}: the neck has '
                             f'{len(strides)} levels (strides {strides})')
        extractor = self.mask_roi_extractor
        if list(extractor.featmap_strides) != [strides[level]]:
            raise ValueError(
                f'mask_roi_extractor.featmap_strides='
                f'{list(extractor.featmap_strides)}; mask_feat_level={level} '
                f'needs [{strides[level]}]')
        channels = self.bbox_head.in_channels[level]
        if extractor.out_channels != channels or \
                self.mask_head.in_channels != channels:
            raise ValueError(
                f'neck level {level} has {channels} channels; '
                f'mask_roi_extractor.out_channels={extractor.out_channels}, '
                f'mask_head.in_channels={self.mask_head.in_channels}')
        mask_cfg = (self.train_cfg or {}).get('mask')
        if mask_cfg is not None and \
                _pair(mask_cfg['mask_size']) != self.mask_size:
            raise ValueError(
                f'train_cfg.mask.mask_size={mask_cfg["mask_size"]}, but the '
                f'mask head predicts {self.mask_size[0]}x{self.mask_size[1]}')

    def frozen_modules(self) -> List[nn.Module]:
        """The modules ``train_mode`` does not train: the detector in
        ``'mask'`` mode, the mask branch in ``'detector'`` mode."""
        if self.train_mode == 'mask':
            return [self.backbone, self.neck, self.bbox_head]
        if self.train_mode == 'detector':
            return [self.mask_roi_extractor, self.mask_head]
        return []

    def train(self, mode: bool = True) -> 'YOLOMask':
        """Set the training mode; frozen modules stay in eval mode, so their
        BN statistics do not move."""
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """Losses of ``train_mode`` (see the class docstring).

        Args:
            batch_inputs (Tensor): shape (N, 3, H, W), normalised images.
            batch_data_samples (list[DetDataSample]): ``gt_instances`` with
                ``bboxes``, ``labels`` and (except in ``'detector'`` mode)
                ``masks``.

        Returns:
            dict[str, Tensor | list[Tensor]]: ``loss_cls``, ``loss_conf``,
            ``loss_xy``, ``loss_wh`` (one per level) unless ``'mask'``;
            ``loss_mask`` (shape (1,), or () when the batch has no positive,
            then 0 but connected to the mask head) unless ``'detector'``.

        Raises:
            ValueError: in ``'mask'``/``'e2e'`` mode without
                ``train_cfg.mask``.
        """
        if self.train_mode == 'detector':
            return super().loss(batch_inputs, batch_data_samples)
        if not hasattr(self, 'mask_assigner'):
            raise ValueError(f'train_mode={self.train_mode!r} needs '
                             'train_cfg.mask (assigner, sampler, mask_size)')
        gts, ignores, metas = unpack_gt_instances(batch_data_samples)
        losses = dict()
        if self.train_mode == 'mask':
            with torch.no_grad():
                x = self.extract_feat(batch_inputs)
                pred_maps = self.bbox_head(x)[0]
        else:
            x = self.extract_feat(batch_inputs)
            pred_maps = self.bbox_head(x)[0]
            losses.update(
                self.bbox_head.loss_by_feat(pred_maps, gts, metas, ignores))
        detections = self.detect(pred_maps, metas)
        losses.update(self.mask_loss(x, detections, gts, ignores))
        return losses

    def detect(self, pred_maps: List[Tensor],
               batch_img_metas: List[dict]) -> InstanceList:
        """Post-NMS detections (``test_cfg``) of the YOLO head's outputs,
        without gradient, in the input-image frame, clipped to the image
        (:func:`clip_to_image`).

        Args:
            pred_maps (list[Tensor]): per level, shape
                (N, 3 * (5 + num_classes), H_l, W_l).
            batch_img_metas (list[dict]): meta of each image.

        Returns:
            list[InstanceData]: per image, ``bboxes`` (n, 4) in input
            pixels, ``scores`` (n,), ``labels`` (n,).
        """
        with torch.no_grad():
            # YOLOV3Head.predict_by_feat applies sigmoid_ in place to what
            # may be a view of its input: give it copies
            results_list = self.bbox_head.predict_by_feat(
                [p.detach().clone() for p in pred_maps],
                batch_img_metas=batch_img_metas,
                cfg=self.test_cfg,
                rescale=False)
        return [clip_to_image(res, meta['img_shape'])
                for res, meta in zip(results_list, batch_img_metas)]

    def mask_logits(self, x: Tuple[Tensor], rois: Tensor) -> Tensor:
        """Mask logits of RoIs pooled from neck level ``mask_feat_level``.

        Args:
            x (tuple[Tensor]): neck outputs, stride 32 first.
            rois (Tensor): shape (k, 5), (image index, x1, y1, x2, y2) in
                input pixels.

        Returns:
            Tensor: shape (k, num_classes, h, w), ``(h, w) = mask_size``.
        """
        feats = self.mask_roi_extractor((x[self.mask_feat_level], ), rois)
        return self.mask_head(feats)

    def mask_loss(self, x: Tuple[Tensor], detections: InstanceList,
                  batch_gt_instances: InstanceList,
                  batch_gt_instances_ignore: InstanceList) -> dict:
        """Mask R-CNN's mask loss on the positives among the detections and
        the GT boxes (:func:`sample_mask_rois`).

        Args:
            x (tuple[Tensor]): neck outputs.
            detections (list[InstanceData]): per image, ``bboxes`` (n, 4).
            batch_gt_instances (list[InstanceData]): per image, ``bboxes``,
                ``labels``, ``masks``.
            batch_gt_instances_ignore (list[InstanceData]): crowd regions.

        Returns:
            dict[str, Tensor]: ``loss_mask``, the mean per-pixel BCE of each
            positive's GT-class mask against its ``mask_size`` target; 0,
            connected to the mask head, when no image has a positive.
        """
        sampling_results = sample_mask_rois(
            detections, batch_gt_instances, batch_gt_instances_ignore,
            self.mask_assigner, self.mask_sampler)
        rois = bbox2roi([res.pos_priors for res in sampling_results])
        logits = self.mask_logits(x, rois)
        return self.mask_head.loss_and_target(
            logits, sampling_results, batch_gt_instances,
            rcnn_train_cfg=ConfigDict(self.train_cfg['mask']))['loss_mask']

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Detections with masks.

        Args:
            batch_inputs (Tensor): shape (N, 3, H, W).
            batch_data_samples (list[DetDataSample]): need ``img_shape``,
                ``ori_shape`` and ``scale_factor`` in their meta.
            rescale (bool): boxes and masks in the original image if True,
                else in the network input.

        Returns:
            list[DetDataSample]: ``pred_instances`` with ``bboxes`` (n, 4),
            clipped to the image (unlike mmdet's YOLOv3, see
            :func:`clip_to_image`), ``scores`` (n,), ``labels`` (n,) and
            ``masks`` (n, H, W), bool (H, W the original image size when
            ``rescale``); n may be 0.
        """
        x = self.extract_feat(batch_inputs)
        metas = [ds.metainfo for ds in batch_data_samples]
        results_list = self.detect(self.bbox_head(x)[0], metas)
        results_list = self.predict_masks(x, results_list, metas, rescale)
        return self.add_pred_to_datasample(batch_data_samples, results_list)

    def predict_masks(self, x: Tuple[Tensor], results_list: InstanceList,
                      batch_img_metas: List[dict],
                      rescale: bool) -> InstanceList:
        """Masks of the detections, pasted into the image (mmdet's
        ``FCNMaskHead.predict_by_feat``: bilinear, then ``mask_thr_binary``).

        Args:
            x (tuple[Tensor]): neck outputs.
            results_list (list[InstanceData]): per image, ``bboxes`` (n, 4)
                in input pixels (rescaled in place when ``rescale``),
                ``scores``, ``labels``.
            batch_img_metas (list[dict]): meta of each image.
            rescale (bool): paste at ``ori_shape`` if True.

        Returns:
            list[InstanceData]: the same results with ``masks`` (n, H, W);
            (0, H, W) at ``ori_shape`` for an image without detections.
        """
        cfg = ConfigDict(self.test_cfg)
        rois = bbox2roi([res.bboxes for res in results_list])
        if rois.shape[0] == 0:
            return empty_instances(
                batch_img_metas, rois.device, task_type='mask',
                instance_results=results_list,
                mask_thr_binary=cfg.mask_thr_binary)
        logits = self.mask_logits(x, rois)
        logits = logits.split([len(res) for res in results_list], 0)
        return self.mask_head.predict_by_feat(
            logits, results_list, batch_img_metas, rcnn_test_cfg=cfg,
            rescale=rescale)
