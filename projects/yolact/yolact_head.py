"""YOLACT box/coefficient head whose NMS is chosen in ``test_cfg``."""
from typing import Optional

from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import YOLACTHead
from mmdet.registry import MODELS
from projects.layers.nms import multiclass_nms


@MODELS.register_module()
class ZooYOLACTHead(YOLACTHead):
    """mmdet's :class:`~mmdet.models.dense_heads.YOLACTHead` with the NMS of
    SSS §3.3 / YOLACT §3.3 selectable from the config.

    What differs: mmdet 3.3 hard-codes its per-class ``fast_nms``. Here
    ``test_cfg.nms`` picks one of the zoo's :func:`projects.layers.nms.
    multiclass_nms` types, shared with SAIS:

    * ``dict(type='fast_nms', iou_threshold=0.5)``: per-class Fast NMS; the
      same detections as mmdet's (the mmdet-compatible setting, and the
      default when ``test_cfg`` only has mmdet's ``iou_thr``);
    * ``dict(type='cross_class_fast_nms', iou_threshold=0.5)``: one Fast NMS
      over each detection's best class, as SSS and YOLACT's
      ``cross_class_nms`` option;
    * ``dict(type='nms', iou_threshold=0.5)``: standard NMS (mmcv).

    ``score_thr``, ``top_k`` and ``max_per_img`` keep mmdet's meaning.

    Also: OHEM takes ``neg_pos_ratio`` x (positives of the image) negatives,
    so an image with no positive anchor (no GT, or only crowd regions) adds
    none, as dbolya/yolact's ``MultiBoxLoss`` does. mmdet takes *all* its
    negatives then: with one such image ``loss_cls`` was about 10,600
    against about 100 for a normal batch (256x256 input), a spike that
    unclipped training does not survive.
    The anchors, the forward pass and the rest of training are the parent's.
    """

    def OHEMloss_by_feat_single(self, cls_score: Tensor, bbox_pred: Tensor,
                                anchors: Tensor, labels: Tensor,
                                label_weights: Tensor, bbox_targets: Tensor,
                                bbox_weights: Tensor,
                                avg_factor: int) -> tuple:
        """Classification (OHEM) and box loss of one image; zero, with the
        graph kept, for an image without positives (see the class docstring).

        Args:
            cls_score (Tensor): shape (num_anchors, num_classes + 1).
            bbox_pred (Tensor): shape (num_anchors, 4).
            anchors (Tensor): shape (num_anchors, 4).
            labels (Tensor): shape (num_anchors,), ``num_classes`` for
                background.
            label_weights (Tensor): shape (num_anchors,).
            bbox_targets (Tensor): shape (num_anchors, 4).
            bbox_weights (Tensor): shape (num_anchors, 4).
            avg_factor (int): positives of the batch.

        Returns:
            tuple[Tensor, Tensor]: ``loss_cls`` shape (1,), ``loss_bbox``
            shape ().
        """
        if ((labels >= 0) & (labels < self.num_classes)).any():
            return super().OHEMloss_by_feat_single(
                cls_score, bbox_pred, anchors, labels, label_weights,
                bbox_targets, bbox_weights, avg_factor)
        return (cls_score.sum() * 0)[None], bbox_pred.sum() * 0

    def _bbox_post_process(self,
                           multi_bboxes: Tensor,
                           multi_scores: Tensor,
                           multi_coeffs: Tensor,
                           cfg: ConfigDict,
                           rescale: bool = False,
                           img_meta: Optional[dict] = None,
                           **kwargs) -> InstanceData:
        """NMS over one image's decoded candidates.

        Args:
            multi_bboxes (Tensor): shape (n, 4), (x1, y1, x2, y2) in pixels
                of the network input.
            multi_scores (Tensor): shape (n, C + 1) with softmax (the last
                column is background) or (n, C) with sigmoid scores.
            multi_coeffs (Tensor): shape (n, num_protos), mask coefficients.
            cfg (ConfigDict): ``test_cfg``; see the class docstring.
            rescale (bool): map boxes back to the original image.
            img_meta (dict, optional): needs ``scale_factor`` to rescale.

        Returns:
            InstanceData: ``bboxes`` (k, 4), ``scores`` (k,), ``labels`` (k,)
            and ``coeffs`` (k, num_protos), sorted by score.

        Raises:
            ValueError: if ``test_cfg.nms.type`` is not a known NMS.
        """
        if rescale:
            multi_bboxes = multi_bboxes / multi_bboxes.new_tensor(
                img_meta['scale_factor']).repeat((1, 2))
        if not self.use_sigmoid_cls:
            multi_scores = multi_scores[:, :-1]  # drop background
        nms_cfg = dict(cfg.get('nms', dict(type='fast_nms')))
        nms_cfg.setdefault('iou_threshold', cfg.get('iou_thr', 0.5))
        nms_cfg.update(score_thr=cfg.score_thr, top_k=cfg.top_k,
                       max_per_img=cfg.max_per_img)
        dets, labels, inds = multiclass_nms(multi_bboxes, multi_scores,
                                            nms_cfg)
        results = InstanceData()
        results.bboxes = dets[:, :4]
        results.scores = dets[:, -1]
        results.labels = labels
        results.coeffs = multi_coeffs[inds]
        return results
