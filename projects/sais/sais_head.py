"""SAIS box head: FCOS plus mask coefficients and center-aware targets."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import Scale
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import FCOSHead
from mmdet.models.dense_heads.anchor_free_head import AnchorFreeHead
from mmdet.models.utils import (filter_scores_and_topk, multi_apply,
                                select_single_mlvl)
from mmdet.registry import MODELS
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import InstanceList, OptInstanceList, reduce_mean
from projects.layers.head_outputs import (FCOS_OUTPUTS, LEVELS, HeadOutputs,
                                          register_head_outputs)
from projects.layers.nms import multiclass_nms
from .center_aware import assign_locations


@register_head_outputs(
    HeadOutputs(FCOS_OUTPUTS + (('coeff_preds', LEVELS), )))
@MODELS.register_module()
class SAISHead(FCOSHead):
    """Box head of SAIS (Xiang et al., "SAIS: Single-stage Anchor-free
    Instance Segmentation").

    Differences from :class:`mmdet.models.dense_heads.FCOSHead`:

    1. Every location also predicts ``num_protos`` mask coefficients: the
       classification and regression tower outputs are summed (§III-A, the
       fusion of Table III), then a 3x3 conv and tanh. ``fuse_towers=False``
       takes the classification tower alone (Table III's baseline).
    2. Targets use the center-aware rule of §III-B (eq. 2-4) instead of
       FCOS's minimal-area rule; ``center_aware=False`` restores FCOS.
    3. As in mmdet's ``CondInstBboxHead``, :meth:`_get_targets_single` and
       :meth:`get_targets` return each image's positive locations and their
       GT indices; :meth:`loss_by_feat` keeps these returned values with the
       coefficients, and :meth:`get_positive_infos` hands them to the mask
       head (mmdet's ``SingleStageInstanceSegmentor`` protocol).
    4. ``predict_by_feat`` carries each detection's coefficients through the
       score filter and NMS (``results.coeffs``).

    Args:
        num_protos (int): Number of prototypes ``k``. Defaults to 32.
        fuse_towers (bool): Coefficients from cls + reg towers (True) or
            from the cls tower only (False, Table III's "w/o"). Defaults to
            True.
        center_aware (bool): Center-aware (True) or minimal-area (False)
            target assignment. Defaults to True.
        **kwargs: Arguments of :class:`FCOSHead`.

    Example:
        >>> head = SAISHead(num_classes=3, in_channels=8, feat_channels=8,
        ...                 stacked_convs=1, num_protos=4,
        ...                 norm_cfg=dict(type='GN', num_groups=4))
        >>> feats = [torch.rand(1, 8, s, s) for s in [16, 8, 4, 2, 1]]
        >>> cls, bbox, ctr, coeff = head(feats)
        >>> coeff[0].shape
        torch.Size([1, 4, 16, 16])
    """

    def __init__(self,
                 *args,
                 num_protos: int = 32,
                 fuse_towers: bool = True,
                 center_aware: bool = True,
                 **kwargs) -> None:
        self.num_protos = num_protos
        self.fuse_towers = fuse_towers
        self.center_aware = center_aware
        super().__init__(*args, **kwargs)

    def _init_layers(self) -> None:
        """Add the mask-coefficient conv to FCOS's layers."""
        super()._init_layers()
        self.conv_coeff = nn.Conv2d(
            self.feat_channels, self.num_protos, 3, padding=1)

    def forward(
        self, x: Tuple[Tensor]
    ) -> Tuple[List[Tensor], List[Tensor], List[Tensor], List[Tensor]]:
        """Forward all FPN levels.

        Args:
            x (tuple[Tensor]): FPN levels, each of shape (B, C, H_l, W_l).

        Returns:
            tuple[list[Tensor]]: per level, class scores (B, num_classes,
            H_l, W_l), box distances (B, 4, H_l, W_l) in pixels (or strides
            with ``norm_on_bbox`` during training), centerness logits
            (B, 1, H_l, W_l) and mask coefficients (B, k, H_l, W_l) in
            [-1, 1].
        """
        return multi_apply(self.forward_single, x, self.scales, self.strides)

    def forward_single(self, x: Tensor, scale: Scale,
                       stride: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """Forward one level; see :meth:`forward` for the shapes.

        FCOSHead.forward_single drops the tower features that the
        coefficients need, so the tower pass comes from AnchorFreeHead and the
        FCOS box scaling is repeated here unchanged.
        """
        cls_score, bbox_pred, cls_feat, reg_feat = \
            AnchorFreeHead.forward_single(self, x)
        centerness = self.conv_centerness(
            reg_feat if self.centerness_on_reg else cls_feat)
        bbox_pred = scale(bbox_pred).float()
        if self.norm_on_bbox:
            bbox_pred = bbox_pred.clamp(min=0)
            if not self.training:
                bbox_pred = bbox_pred * stride
        else:
            bbox_pred = bbox_pred.exp()
        coeff_feat = cls_feat + reg_feat if self.fuse_towers else cls_feat
        coeff_pred = torch.tanh(self.conv_coeff(coeff_feat))
        return cls_score, bbox_pred, centerness, coeff_pred

    # ------------------------------------------------------------- training
    def loss_by_feat(
        self,
        cls_scores: List[Tensor],
        bbox_preds: List[Tensor],
        centernesses: List[Tensor],
        coeff_preds: List[Tensor],
        batch_gt_instances: InstanceList,
        batch_img_metas: List[dict],
        batch_gt_instances_ignore: OptInstanceList = None
    ) -> Dict[str, Tensor]:
        """FCOS losses; keeps the positives for :meth:`get_positive_infos`.

        The losses are :meth:`FCOSHead.loss_by_feat`'s; its body is repeated
        because it unpacks two values from :meth:`get_targets`, which here
        also returns each image's positive locations and their GT indices.
        As in mmdet's ``CondInstBboxHead``, these returned values and
        ``coeff_preds`` are stored in ``self._raw_positive_infos``, the
        state of mmdet's :meth:`get_positive_infos` protocol, read after the
        loss (``SingleStageInstanceSegmentor.loss``).

        Args:
            cls_scores (list[Tensor]): per level, shape (B, num_classes,
                H_l, W_l).
            bbox_preds (list[Tensor]): per level, shape (B, 4, H_l, W_l).
            centernesses (list[Tensor]): per level, shape (B, 1, H_l, W_l).
            coeff_preds (list[Tensor]): per level, shape (B, k, H_l, W_l).
            batch_gt_instances (list[InstanceData]): GT ``bboxes`` (G, 4)
                and ``labels`` (G,) per image.
            batch_img_metas (list[dict]): Image meta information.
            batch_gt_instances_ignore (list[InstanceData], optional): Unused,
                as in FCOS.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_bbox``,
            ``loss_centerness``, scalars.
        """
        assert len(cls_scores) == len(bbox_preds) == len(centernesses)
        points = self.prior_generator.grid_priors(
            [s.size()[-2:] for s in cls_scores],
            dtype=bbox_preds[0].dtype,
            device=bbox_preds[0].device)
        labels, bbox_targets, pos_inds_list, pos_gt_inds_list = \
            self.get_targets(points, batch_gt_instances)
        num_imgs = cls_scores[0].size(0)
        flat_cls_scores = torch.cat([
            s.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
            for s in cls_scores
        ])
        flat_bbox_preds = torch.cat(
            [b.permute(0, 2, 3, 1).reshape(-1, 4) for b in bbox_preds])
        flat_centerness = torch.cat(
            [c.permute(0, 2, 3, 1).reshape(-1) for c in centernesses])
        flat_labels, flat_bbox_targets = torch.cat(labels), torch.cat(
            bbox_targets)
        flat_points = torch.cat([p.repeat(num_imgs, 1) for p in points])

        losses = dict()
        pos_inds = ((flat_labels >= 0) & (flat_labels < self.num_classes)
                    ).nonzero().reshape(-1)
        num_pos = max(
            reduce_mean(
                torch.tensor(len(pos_inds), dtype=torch.float,
                             device=bbox_preds[0].device)), 1.0)
        loss_cls = self.loss_cls(
            flat_cls_scores, flat_labels, avg_factor=num_pos)
        if getattr(self.loss_cls, 'custom_accuracy', False):
            losses.update(
                self.loss_cls.get_accuracy(flat_cls_scores, flat_labels))
        pos_bbox_preds = flat_bbox_preds[pos_inds]
        pos_centerness = flat_centerness[pos_inds]
        pos_bbox_targets = flat_bbox_targets[pos_inds]
        pos_centerness_targets = self.centerness_target(pos_bbox_targets)
        centerness_denorm = max(
            reduce_mean(pos_centerness_targets.sum().detach()), 1e-6)
        if len(pos_inds) > 0:
            pos_points = flat_points[pos_inds]
            loss_bbox = self.loss_bbox(
                self.bbox_coder.decode(pos_points, pos_bbox_preds),
                self.bbox_coder.decode(pos_points, pos_bbox_targets),
                weight=pos_centerness_targets,
                avg_factor=centerness_denorm)
            loss_centerness = self.loss_centerness(
                pos_centerness, pos_centerness_targets, avg_factor=num_pos)
        else:
            loss_bbox = pos_bbox_preds.sum()
            loss_centerness = pos_centerness.sum()
        losses.update(loss_cls=loss_cls, loss_bbox=loss_bbox,
                      loss_centerness=loss_centerness)
        self._raw_positive_infos = dict(
            coeff_preds=coeff_preds,
            pos_inds_list=pos_inds_list,
            pos_gt_inds_list=pos_gt_inds_list)
        return losses

    def get_targets(
        self, points: List[Tensor], batch_gt_instances: InstanceList
    ) -> Tuple[List[Tensor], List[Tensor], List[Tensor], List[Tensor]]:
        """FCOS's targets, plus each image's positives and their GT indices.

        As :meth:`FCOSHead.get_targets` (labels and box targets of all images
        concatenated per level, box targets divided by the stride when
        ``norm_on_bbox``), with the two per-image lists that
        :meth:`_get_targets_single` returns, as in ``CondInstBboxHead``.

        Args:
            points (list[Tensor]): per level, shape (N_l, 2).
            batch_gt_instances (list[InstanceData]): ``bboxes`` (G_i, 4) and
                ``labels`` (G_i,) per image.

        Returns:
            tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:

            - labels: per level, shape (B * N_l,).
            - bbox_targets: per level, shape (B * N_l, 4).
            - pos_inds_list: per image, shape (P_i,), positive locations as
              indices into that image's N = sum(N_l) locations (levels
              concatenated, rows of each level in row-major order).
            - pos_gt_inds_list: per image, shape (P_i,), the GT instance of
              each positive, an index into that image's GT.
        """
        assert len(points) == len(self.regress_ranges)
        num_points = [p.size(0) for p in points]
        regress_ranges = torch.cat([
            p.new_tensor(r)[None].expand_as(p)
            for p, r in zip(points, self.regress_ranges)
        ])
        labels_list, bbox_targets_list, pos_inds_list, pos_gt_inds_list = \
            multi_apply(
                self._get_targets_single,
                batch_gt_instances,
                points=torch.cat(points),
                regress_ranges=regress_ranges,
                num_points_per_lvl=num_points)
        labels_list = [labels.split(num_points) for labels in labels_list]
        bbox_targets_list = [t.split(num_points) for t in bbox_targets_list]
        lvl_labels, lvl_bbox_targets = [], []
        for lvl, stride in enumerate(self.strides[:len(points)]):
            lvl_labels.append(torch.cat([lab[lvl] for lab in labels_list]))
            targets = torch.cat([t[lvl] for t in bbox_targets_list])
            lvl_bbox_targets.append(
                targets / stride if self.norm_on_bbox else targets)
        return lvl_labels, lvl_bbox_targets, pos_inds_list, pos_gt_inds_list

    def _get_targets_single(
            self, gt_instances: InstanceData, points: Tensor,
            regress_ranges: Tensor, num_points_per_lvl: List[int]
    ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """Targets of one image with the center-aware rule (SAIS §III-B).

        A pure function of its arguments: the GT of every location comes
        from :func:`~projects.sais.center_aware.assign_locations` (eq. 2-4,
        or FCOS's minimal area when ``center_aware=False``) and is returned,
        not stored.

        Args:
            gt_instances (InstanceData): ``bboxes`` (G, 4), ``labels`` (G,).
            points (Tensor): shape (N, 2), all levels' locations.
            regress_ranges (Tensor): shape (N, 2), per-location ranges.
            num_points_per_lvl (list[int]): locations per level.

        Returns:
            tuple[Tensor, Tensor, Tensor, Tensor]:

            - labels: shape (N,), ``num_classes`` for background.
            - bbox_targets: shape (N, 4), (l, t, r, b) in pixels.
            - pos_inds: shape (P,), int64, indices of the positive locations
              in ascending order.
            - pos_gt_inds: shape (P,), int64, GT index of each positive.
        """
        radii = None
        if self.center_sampling:
            radii = torch.cat([
                points.new_full((n, ), s * self.center_sample_radius)
                for n, s in zip(num_points_per_lvl, self.strides)
            ])
        assigned, bbox_targets = assign_locations(
            points, gt_instances.bboxes, regress_ranges, self.center_aware,
            radii)
        pos_inds = (assigned >= 0).nonzero().reshape(-1)
        pos_gt_inds = assigned[pos_inds]
        labels = gt_instances.labels.new_full((points.size(0), ),
                                              self.num_classes)
        labels[pos_inds] = gt_instances.labels[pos_gt_inds]
        return labels, bbox_targets, pos_inds, pos_gt_inds

    def get_positive_infos(self) -> InstanceList:
        """Positives of the last :meth:`loss_by_feat`, for the mask head.

        Built from the values :meth:`loss_by_feat` stored; these are the
        locations whose coefficients ``C`` are assembled with the prototypes
        in the mask loss (SAIS §III-A b, eq. 1).

        Returns:
            list[InstanceData]: per image, ``coeffs`` (P, k) with gradient,
            ``pos_assigned_gt_inds`` (P,) into that image's GT and
            ``pos_inds`` (P,) into its N locations.
        """
        assert self._raw_positive_infos, 'call loss_by_feat first'
        coeff_preds = self._raw_positive_infos['coeff_preds']
        num_imgs = coeff_preds[0].size(0)
        flat_coeffs = torch.cat([
            c.permute(0, 2, 3, 1).reshape(num_imgs, -1, self.num_protos)
            for c in coeff_preds
        ], 1)  # (B, N, k), the point order of the targets
        return [
            InstanceData(
                coeffs=coeffs[pos_inds],
                pos_assigned_gt_inds=pos_gt_inds,
                pos_inds=pos_inds)
            for coeffs, pos_inds, pos_gt_inds in zip(
                flat_coeffs, self._raw_positive_infos['pos_inds_list'],
                self._raw_positive_infos['pos_gt_inds_list'])
        ]

    # ------------------------------------------------------------ inference
    def predict_by_feat(self,
                        cls_scores: List[Tensor],
                        bbox_preds: List[Tensor],
                        centernesses: List[Tensor],
                        coeff_preds: List[Tensor],
                        batch_img_metas: Optional[List[dict]] = None,
                        cfg: Optional[ConfigDict] = None,
                        rescale: bool = False,
                        with_nms: bool = True) -> InstanceList:
        """Decode, filter and NMS the detections, keeping coefficients.

        Args:
            cls_scores, bbox_preds, centernesses, coeff_preds (list[Tensor]):
                Outputs of :meth:`forward`.
            batch_img_metas (list[dict]): Image meta information.
            cfg (ConfigDict, optional): Test config (``nms_pre``,
                ``score_thr``, ``nms``, ``max_per_img``); defaults to
                ``self.test_cfg``.
            rescale (bool): Boxes to the original image size if True. The
                zoo's mask head needs input-size boxes, so detectors call it
                with False.
            with_nms (bool): Apply NMS. Defaults to True.

        Returns:
            list[InstanceData]: per image, ``bboxes`` (n, 4), ``scores``
            (n,), ``labels`` (n,) and ``coeffs`` (n, k).
        """
        cfg = self.test_cfg if cfg is None else cfg
        featmap_sizes = [s.shape[-2:] for s in cls_scores]
        mlvl_points = self.prior_generator.grid_priors(
            featmap_sizes, dtype=cls_scores[0].dtype,
            device=cls_scores[0].device)
        results_list = []
        for img_id, img_meta in enumerate(batch_img_metas):
            results = self._predict_single(
                select_single_mlvl(cls_scores, img_id),
                select_single_mlvl(bbox_preds, img_id),
                select_single_mlvl(centernesses, img_id),
                select_single_mlvl(coeff_preds, img_id), mlvl_points, cfg,
                img_meta['img_shape'])
            results_list.append(
                self._bbox_post_process(
                    results, cfg, rescale=rescale, with_nms=with_nms,
                    img_meta=img_meta))
        return results_list

    def _bbox_post_process(self,
                           results: InstanceData,
                           cfg: ConfigDict,
                           rescale: bool = False,
                           with_nms: bool = True,
                           img_meta: Optional[dict] = None) -> InstanceData:
        """mmdet's post-processing, with YOLACT's Fast NMS available too.

        ``cfg.nms.type`` ``'nms'`` (and mmcv's other types) run mmdet's
        ``batched_nms``; ``'fast_nms'`` and ``'cross_class_fast_nms'`` run
        the zoo's shared :func:`projects.layers.nms.multiclass_nms` (SSS §3.3)
        on the same candidates: each (location, class) candidate becomes one
        row of an (m, num_classes) score matrix with its centerness-weighted
        score in its class's column.

        Args:
            results (InstanceData): candidates of one image: ``bboxes``
                (m, 4), ``scores`` (m,), ``labels`` (m,), ``score_factors``
                (m,) and ``coeffs`` (m, k).
            cfg (ConfigDict): test config (``nms``, ``max_per_img``, ...).
            rescale (bool): boxes to the original image size.
            with_nms (bool): apply NMS.
            img_meta (dict, optional): needs ``scale_factor`` to rescale.

        Returns:
            InstanceData: the kept detections, sorted by score, at most
            ``max_per_img``.
        """
        nms_type = cfg.get('nms', {}).get('type', 'nms')
        if not with_nms or nms_type not in ('fast_nms',
                                            'cross_class_fast_nms'):
            return super()._bbox_post_process(
                results, cfg, rescale=rescale, with_nms=with_nms,
                img_meta=img_meta)
        results = super()._bbox_post_process(
            results, cfg, rescale=rescale, with_nms=False, img_meta=img_meta)
        if len(results) == 0:
            return results
        scores = results.scores.new_zeros(len(results), self.num_classes)
        scores.scatter_(1, results.labels[:, None], results.scores[:, None])
        dets, _, inds = multiclass_nms(
            get_box_tensor(results.bboxes), scores,
            dict(cfg.nms, score_thr=0, top_k=len(results),
                 max_per_img=cfg.get('max_per_img', -1)))
        results = results[inds]
        results.scores = dets[:, -1]
        return results

    def _predict_single(self, cls_scores: List[Tensor],
                        bbox_preds: List[Tensor], centernesses: List[Tensor],
                        coeff_preds: List[Tensor], points: List[Tensor],
                        cfg: ConfigDict, img_shape: Tuple[int, int]
                        ) -> InstanceData:
        """Top ``nms_pre`` locations per level of one image, before NMS.

        Written for SAIS because BaseDenseHead's single-image decoder has no
        way to carry per-location mask coefficients with the boxes.
        """
        nms_pre = cfg.get('nms_pre', -1)
        score_thr = cfg.get('score_thr', 0)
        keep = dict(bboxes=[], scores=[], labels=[], score_factors=[],
                    coeffs=[])
        for cls, box, ctr, coeff, pts in zip(cls_scores, bbox_preds,
                                             centernesses, coeff_preds,
                                             points):
            scores = cls.permute(1, 2, 0).reshape(-1, self.cls_out_channels)
            scores = scores.sigmoid()
            scores, labels, _, kept = filter_scores_and_topk(
                scores, score_thr, nms_pre if nms_pre > 0 else scores.numel(),
                dict(
                    box=box.permute(1, 2, 0).reshape(-1, 4),
                    ctr=ctr.reshape(-1).sigmoid(),
                    coeff=coeff.permute(1, 2, 0).reshape(-1, self.num_protos),
                    pts=pts))
            keep['bboxes'].append(
                self.bbox_coder.decode(
                    kept['pts'], kept['box'], max_shape=img_shape))
            keep['scores'].append(scores)
            keep['labels'].append(labels)
            keep['score_factors'].append(kept['ctr'])
            keep['coeffs'].append(kept['coeff'])
        return InstanceData(**{k: torch.cat(v) for k, v in keep.items()})
