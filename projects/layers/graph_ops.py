"""Post-processing in operations that a standard ONNX graph has: the shared
pieces of the end-to-end export (image in, detections out), and the table
in which a method declares its own end-to-end post-processing.

Why our own: mmdet's and the zoo's ``predict_by_feat`` filter candidates
into data-dependent shapes step by step, branch in Python on the number of
detections and call mmcv's NMS, whose ONNX form in mmcv 2.x exists only as
a custom operator; MMDeploy rewrites them into traceable copies but covers
neither YOLACT nor the zoo's heads (docs/deployment.md). The functions here
keep every shape fixed until NMS: candidates below the score threshold are
masked (score 0) rather than dropped, so that a graph traced on any image
(with or without detections) holds for every image. They compute what the
heads' ``predict_by_feat`` computes; tests compare both on real images.

A method declares its post-processing next to its mask head::

    @register_graph_postprocess(sais_graph_postprocess)
    @MODELS.register_module()
    class SAISMaskHead(BaseMaskHead):
        ...

The function takes the detector, the heads' dense outputs of one image
(grouped as :mod:`.head_outputs` declares them, batch 1) and the input size
(H, W), and returns ``boxes`` (N, 4), ``scores`` (N,), ``labels`` (N,) and
``masks`` (N, H, W) (mask probabilities, zero outside each box) at the
input size. A method whose boxes are the tight boxes of its masks (SOLOv2)
declares so (``boxes_from_masks=True``): a runner then takes them from the
masks at the image size, as PyTorch does, instead of scaling the graph's.
"""
from typing import Callable, Dict, List, NamedTuple, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .class_table import ClassTable

#: ``(model, head_outs, (H, W)) -> (boxes, scores, labels, masks)``
GraphPostprocess = Callable[[nn.Module, List[tuple], Tuple[int, int]],
                            Tuple[Tensor, Tensor, Tensor, Tensor]]


class GraphPostprocessEntry(NamedTuple):
    """A mask head's end-to-end post-processing and how a runner reads its
    boxes.

    Args:
        fn (GraphPostprocess): see the module docstring.
        boxes_from_masks (bool): the boxes are the tight boxes of the
            binary masks (mmdet's ``mask2bbox``); PyTorch takes them at the
            image size, so a runner recomputes them from its resized masks.
    """
    fn: GraphPostprocess
    boxes_from_masks: bool = False


#: Each mask head class's end-to-end post-processing, declared by the
#: method's package with :func:`register_graph_postprocess`.
GRAPH_POSTPROCESS: ClassTable[GraphPostprocessEntry] = ClassTable(
    'end-to-end (in-graph) post-processing', dict,
    'A method declares it with register_graph_postprocess '
    '(projects/layers/graph_ops.py).')


def register_graph_postprocess(fn: GraphPostprocess,
                               boxes_from_masks: bool = False
                               ) -> Callable[[type], type]:
    """A class decorator: ``fn`` is the end-to-end post-processing of
    detectors whose mask head is of this class (or a subclass without its
    own entry).

    Args:
        fn (GraphPostprocess): see the module docstring.
        boxes_from_masks (bool): ``fn``'s boxes are the tight boxes of its
            masks (:class:`GraphPostprocessEntry`).

    Returns:
        Callable: the decorator; it returns the class unchanged.
    """
    return GRAPH_POSTPROCESS.register(
        GraphPostprocessEntry(fn, boxes_from_masks))


class NonMaxSuppression(torch.autograd.Function):
    """Single-class NMS that exports as ONNX's standard
    ``NonMaxSuppression`` (mmcv 2.x's ``nms`` exports only as a custom op).

    Eager: :func:`mmcv.ops.nms` (boxes scoring above ``score_thr``, greedy
    by score, IoU strictly above ``iou_thr`` suppressed, the first
    ``max_out`` kept), which is what onnxruntime's operator does.
    """

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor, max_out: int,
                iou_thr: float, score_thr: float) -> Tensor:
        """Args: boxes (Tensor): shape (n, 4), (x1, y1, x2, y2). scores
        (Tensor): shape (n,).

        Returns:
            Tensor: shape (m,), int64, the kept rows, by descending score.
        """
        from mmcv.ops import nms

        # mmcv filters by score only for a threshold above 0
        valid = (scores > score_thr).nonzero()[:, 0]
        if valid.numel() == 0:
            return valid
        _, keep = nms(boxes[valid].float(), scores[valid].float(), iou_thr,
                      max_num=max_out)
        return valid[keep.long()]

    @staticmethod
    def symbolic(g, boxes, scores, max_out: int, iou_thr: float,
                 score_thr: float):
        """ONNX ``NonMaxSuppression`` on a batch of one and one class;
        column 2 of its (m, 3) output is the box row."""
        boxes3 = g.op('Unsqueeze', boxes,
                      g.op('Constant', value_t=torch.tensor([0])))
        scores3 = g.op('Unsqueeze', scores,
                       g.op('Constant', value_t=torch.tensor([0, 1])))
        selected = g.op(
            'NonMaxSuppression', boxes3, scores3,
            g.op('Constant', value_t=torch.tensor([max_out])),
            g.op('Constant', value_t=torch.tensor([iou_thr])),
            g.op('Constant', value_t=torch.tensor([score_thr])))
        return g.op('Gather', selected,
                    g.op('Constant', value_t=torch.tensor(2)), axis_i=1)


class RoIAlignAligned(torch.autograd.Function):
    """RoIAlign with ``aligned=True`` on a batch of one image that exports
    as ONNX's standard ``RoiAlign`` (opset 16, ``half_pixel``).

    Why our own: mmcv 2.1's ``RoIAlign`` symbolic writes opset-10 forms
    (``Squeeze`` with an ``axes`` attribute, the half-pixel shift
    subtracted by hand), which opset 13 and later reject or, with opset
    16's ``half_pixel`` default, shift twice. Eager: :func:`mmcv.ops.
    roi_align`, which computes what onnxruntime's operator does.
    """

    @staticmethod
    def forward(ctx, features: Tensor, boxes: Tensor, size: int,
                spatial_scale: float, sampling_ratio: int) -> Tensor:
        """Args: features (Tensor): shape (1, C, h, w). boxes (Tensor):
        shape (n, 4), (x1, y1, x2, y2) in input pixels.

        Returns:
            Tensor: shape (n, C, size, size).
        """
        from mmcv.ops import roi_align
        rois = torch.cat([boxes.new_zeros((boxes.size(0), 1)), boxes], 1)
        return roi_align(features, rois, (size, size), spatial_scale,
                         sampling_ratio, 'avg', True)

    @staticmethod
    def symbolic(g, features, boxes, size: int, spatial_scale: float,
                 sampling_ratio: int):
        """ONNX ``RoiAlign`` (opset 16) with every box on image 0."""
        first = g.op('Gather', g.op('Shape', boxes),
                     g.op('Constant', value_t=torch.tensor([0])), axis_i=0)
        batch = g.op('ConstantOfShape', first,
                     value_t=torch.tensor([0], dtype=torch.long))
        return g.op('RoiAlign', features, boxes, batch,
                    coordinate_transformation_mode_s='half_pixel',
                    mode_s='avg', output_height_i=size,
                    output_width_i=size, sampling_ratio_i=sampling_ratio,
                    spatial_scale_f=spatial_scale)


def graph_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_thr: float,
              max_out: int) -> Tensor:
    """Per-class NMS as :func:`mmcv.ops.batched_nms` runs it (one NMS on
    boxes shifted apart by class), candidates scoring 0 left out.

    Args:
        boxes (Tensor): shape (n, 4) in pixels.
        scores (Tensor): shape (n,), 0 for masked candidates.
        labels (Tensor): shape (n,), int64.
        iou_thr (float): IoU above which a box is suppressed.
        max_out (int): detections kept at most (``max_per_img``).

    Returns:
        Tensor: shape (m,), int64 rows of the kept detections, m <=
        ``max_out``, by descending score.
    """
    offsets = labels.to(boxes.dtype) * (boxes.max() + 1)
    return NonMaxSuppression.apply(boxes + offsets[:, None], scores,
                                   max_out, iou_thr, 0.0)


def topk_candidates(scores: Tensor, k: int, score_thr: float
                    ) -> Tuple[Tensor, Tensor, Tensor]:
    """The ``k`` best (location, class) pairs of one level, as mmdet's
    ``filter_scores_and_topk`` chooses them, in a fixed shape: pairs at or
    below ``score_thr`` get score 0 instead of being dropped.

    Args:
        scores (Tensor): shape (A, C), per location and class.
        k (int): candidates kept (``nms_pre``); at most A * C are.
        score_thr (float): the test config's ``score_thr``.

    Returns:
        tuple[Tensor, Tensor, Tensor]: scores (k,) (0 where masked),
        locations (k,) and labels (k,), int64.
    """
    num_classes = scores.size(1)
    k = min(k, scores.numel()) if k > 0 else scores.numel()
    top, idx = scores.reshape(-1).topk(k)
    top = torch.where(top > score_thr, top, top.new_zeros(()))
    return top, torch.div(idx, num_classes, rounding_mode='floor'), \
        idx % num_classes


def fcos_candidates(head: nn.Module, cls_scores: Sequence[Tensor],
                    bbox_preds: Sequence[Tensor],
                    centernesses: Sequence[Tensor],
                    extras: Dict[str, Sequence[Tensor]],
                    input_shape: Sequence[int]
                    ) -> Tuple[Tensor, Tensor, Tensor, Dict[str, Tensor]]:
    """An FCOS-style head's candidates before NMS, as mmdet's
    ``FCOSHead`` / ``CondInstBboxHead`` ``_predict_by_feat_single`` and
    ``_bbox_post_process`` choose them (FCOS §3.1, §3.3): per level the
    ``nms_pre`` best (location, class) scores above ``score_thr``, boxes
    decoded from the distances, scores times the sigmoid centerness, boxes
    not wider and higher than ``min_bbox_size`` (when set) masked.

    Args:
        head (nn.Module): the box head (``test_cfg``, ``prior_generator``,
            ``cls_out_channels``).
        cls_scores, bbox_preds, centernesses (Sequence[Tensor]): per level,
            (1, C, h, w), (1, 4, h, w), (1, 1, h, w).
        extras (dict[str, Sequence[Tensor]]): more per-location maps to
            carry along, per level (1, c, h, w) (mask coefficients, dynamic
            mask head parameters, attentions).
        input_shape (Sequence[int]): (H, W) to clip boxes to, pixels.

    Returns:
        tuple: ``boxes`` (n, 4), ``scores`` (n,) (0 for masked
        candidates), ``labels`` (n,) and a dict with each extra (n, c) and
        ``points`` (n, 2), ``strides`` (n,) of the candidates' locations.
    """
    cfg = head.test_cfg
    priors = head.prior_generator.grid_priors(
        [c.shape[-2:] for c in cls_scores], dtype=cls_scores[0].dtype,
        device=cls_scores[0].device, with_stride=True)
    boxes, scores, labels = [], [], []
    carried = {k: [] for k in list(extras) + ['points', 'strides']}
    for level, (cls, box, ctr) in enumerate(zip(cls_scores, bbox_preds,
                                                centernesses)):
        top, loc, lab = topk_candidates(
            cls[0].permute(1, 2, 0).reshape(-1, head.cls_out_channels)
            .sigmoid(), cfg.get('nms_pre', -1), cfg.get('score_thr', 0))
        points = priors[level][loc]
        boxes.append(distance_to_boxes(
            points[:, :2], box[0].permute(1, 2, 0).reshape(-1, 4)[loc],
            input_shape))
        scores.append(top * ctr[0].reshape(-1)[loc].sigmoid())
        labels.append(lab)
        for key, maps in extras.items():
            value = maps[level][0]
            carried[key].append(value.permute(1, 2, 0).reshape(
                -1, value.size(0))[loc])
        carried['points'].append(points[:, :2])
        carried['strides'].append(points[:, 2])
    boxes, scores = torch.cat(boxes), torch.cat(scores)
    min_size = cfg.get('min_bbox_size', -1)
    if min_size >= 0:  # BaseDenseHead._bbox_post_process drops them
        wide = (boxes[:, 2] - boxes[:, 0] > min_size) & \
            (boxes[:, 3] - boxes[:, 1] > min_size)
        scores = torch.where(wide, scores, scores.new_zeros(()))
    return (boxes, scores, torch.cat(labels),
            {k: torch.cat(v) for k, v in carried.items()})


def fcos_detections(head: nn.Module, head_outs: tuple,
                    extra: str, input_shape: Sequence[int]
                    ) -> Tuple[Tensor, Tensor, Tensor, Dict[str, Tensor]]:
    """:func:`fcos_candidates` then :func:`graph_nms`: the detections of a
    CondInst-style box head (``(cls_scores, bbox_preds, centernesses,
    <extra>)``, its ``test_cfg.nms`` of type ``'nms'``).

    Args:
        head (nn.Module): the box head.
        head_outs (tuple): its four groups of per-level (1, ...) tensors.
        extra (str): the name the fourth group is carried under.
        input_shape (Sequence[int]): (H, W) of the input, pixels.

    Returns:
        tuple: ``boxes`` (N, 4), ``scores`` (N,), ``labels`` (N,) and the
        extras of :func:`fcos_candidates`, (N, ...) each, by descending
        score, N at most ``test_cfg.max_per_img``.

    Raises:
        NotImplementedError: ``test_cfg.nms.type`` is not ``'nms'``.
    """
    cfg = head.test_cfg
    if cfg.nms.get('type', 'nms') != 'nms':
        raise NotImplementedError(
            f"test_cfg.nms.type {cfg.nms['type']!r}: the end-to-end graph "
            "of this head has 'nms'")
    cls_scores, bbox_preds, centernesses, extras = head_outs
    boxes, scores, labels, carried = fcos_candidates(
        head, cls_scores, bbox_preds, centernesses, {extra: extras},
        input_shape)
    keep = graph_nms(boxes, scores, labels, cfg.nms.iou_threshold,
                     cfg.max_per_img)
    return boxes[keep], scores[keep], labels[keep], {
        k: v[keep] for k, v in carried.items()}


def graph_fast_nms(boxes: Tensor, scores: Tensor, score_thr: float,
                   iou_thr: float, top_k: int, max_out: int
                   ) -> Tuple[Tensor, Tensor, Tensor]:
    """YOLACT's per-class Fast NMS (SSS §3.3, YOLACT §3.3) as fixed-shape
    matrix operations: what :func:`projects.layers.nms.per_class_fast_nms`
    keeps, then the kept detections with score 0 left out.

    Args:
        boxes (Tensor): shape (n, 4) in pixels.
        scores (Tensor): shape (n, C), class scores (0 for masked rows).
        score_thr (float): detections scoring at most this are dropped.
        iou_thr (float): IoU threshold.
        top_k (int): candidates per class.
        max_out (int): detections kept at most.

    Returns:
        tuple[Tensor, Tensor, Tensor]: rows (m,), labels (m,), scores (m,)
        of the kept detections by descending score, m <= ``max_out``.
    """
    from mmdet.structures.bbox import bbox_overlaps
    num_classes = scores.size(1)
    k = min(top_k, scores.size(0))
    top, rows = scores.t().topk(k, dim=1)  # (C, k), sorted
    cand = boxes[rows.reshape(-1)].reshape(num_classes, k, 4)
    iou = bbox_overlaps(cand, cand).triu(diagonal=1)
    keep = (iou.max(dim=1)[0] <= iou_thr) & (top > score_thr)
    kept = torch.where(keep, top, top.new_zeros(())).reshape(-1)
    best, flat = kept.topk(min(max_out, kept.numel()))
    nonzero = (best > 0).nonzero()[:, 0]
    flat, best = flat[nonzero], best[nonzero]
    return rows.reshape(-1)[flat], torch.div(
        flat, k, rounding_mode='floor'), best


def distance_to_boxes(points: Tensor, distances: Tensor,
                      max_shape: Sequence[int]) -> Tensor:
    """FCOS's box decoding (FCOS §3.1: a location and its distances to the
    four sides), clipped to the input, as mmdet's ``distance2bbox``.

    Why our own: mmdet 3.3's ``distance2bbox`` imports ``mmdet.core``
    (removed in 3.x) while ONNX export is running.

    Args:
        points (Tensor): shape (n, 2), (x, y) in pixels.
        distances (Tensor): shape (n, 4), (left, top, right, bottom) in
            pixels.
        max_shape (Sequence[int]): (H, W) to clip to.

    Returns:
        Tensor: shape (n, 4), (x1, y1, x2, y2).
    """
    x1 = (points[:, 0] - distances[:, 0]).clamp(0, max_shape[1])
    y1 = (points[:, 1] - distances[:, 1]).clamp(0, max_shape[0])
    x2 = (points[:, 0] + distances[:, 2]).clamp(0, max_shape[1])
    y2 = (points[:, 1] + distances[:, 3]).clamp(0, max_shape[0])
    return torch.stack([x1, y1, x2, y2], -1)


def graph_matrix_nms(masks: Tensor, labels: Tensor, scores: Tensor,
                     areas: Tensor, max_out: int, kernel: str = 'gaussian',
                     sigma: float = 2.0, filter_thr: float = -1
                     ) -> Tuple[Tensor, Tensor]:
    """Matrix NMS (SOLOv2 §3.3.3, mmdet's ``mask_matrix_nms``) on a fixed
    number of candidates, those scoring 0 masked out.

    Masked candidates sort last, so they neither decay nor compensate a
    kept one; the union is clamped at 1 pixel so that two empty masks give
    IoU 0, not NaN (a kept mask covers more pixels than its stride).

    Args:
        masks (Tensor): shape (n, h, w), bool.
        labels (Tensor): shape (n,), int64.
        scores (Tensor): shape (n,), 0 for masked candidates.
        areas (Tensor): shape (n,), pixels of each mask.
        max_out (int): detections kept at most (``max_per_img``).
        kernel (str): ``'gaussian'`` or ``'linear'`` decay.
        sigma (float): the Gaussian kernel's sigma.
        filter_thr (float): decayed scores below this are dropped.

    Returns:
        tuple[Tensor, Tensor]: rows (m,) of the kept candidates and their
        decayed scores (m,), by descending score, m <= ``max_out``.

    Raises:
        ValueError: an unknown ``kernel``.
    """
    if kernel not in ('gaussian', 'linear'):
        raise ValueError(f'matrix NMS kernel {kernel!r}: gaussian or linear')
    scores, order = scores.sort(descending=True)
    flat = masks[order].flatten(1).float()
    areas, labels = areas[order], labels[order]
    inter = flat @ flat.t()
    union = (areas[:, None] + areas[None, :] - inter).clamp(min=1)
    same = (labels[:, None] == labels[None, :]).float()
    decay_iou = (inter / union).triu(diagonal=1) * same.triu(diagonal=1)
    compensate = decay_iou.max(0)[0][:, None]  # (n, 1): per row i
    if kernel == 'gaussian':
        coeff = (torch.exp(-sigma * decay_iou**2) /
                 torch.exp(-sigma * compensate**2)).min(0)[0]
    else:
        coeff = ((1 - decay_iou) / (1 - compensate)).min(0)[0]
    scores = scores * coeff
    if filter_thr > 0:
        scores = torch.where(scores >= filter_thr, scores,
                             scores.new_zeros(()))
    best, top = scores.topk(min(max_out, scores.numel()))
    nonzero = (best > 0).nonzero()[:, 0]
    return order[top[nonzero]], best[nonzero]


def mask_boxes(masks: Tensor) -> Tensor:
    """Tight boxes of binary masks, as mmdet's ``mask2bbox`` (all zeros for
    an empty mask), without its Python loop.

    Args:
        masks (Tensor): shape (n, H, W), bool.

    Returns:
        Tensor: shape (n, 4), (x1, y1, x2 + 1, y2 + 1) in pixels.
    """
    h, w = masks.shape[-2:]
    cols = masks.float().amax(1) > 0  # (n, W)
    rows = masks.float().amax(2) > 0  # (n, H)
    xs = torch.arange(w, dtype=torch.float32, device=masks.device)
    ys = torch.arange(h, dtype=torch.float32, device=masks.device)
    big = torch.tensor(1e9, device=masks.device)
    x1 = torch.where(cols, xs, big).amin(1)
    x2 = torch.where(cols, xs + 1, -big).amax(1)
    y1 = torch.where(rows, ys, big).amin(1)
    y2 = torch.where(rows, ys + 1, -big).amax(1)
    boxes = torch.stack([x1, y1, x2, y2], -1)
    return torch.where(cols.any(1, keepdim=True), boxes,
                       boxes.new_zeros(()))


def upsample_probs(probs: Tensor, size: Sequence[int]) -> Tensor:
    """Mask probabilities (n, h, w) to (n, H, W), bilinear with
    ``align_corners=False``, as the heads' ``paste_masks`` and
    ``F.interpolate`` do before binarising.

    Args:
        probs (Tensor): shape (n, h, w).
        size (Sequence[int]): (H, W) in pixels.

    Returns:
        Tensor: shape (n, H, W).
    """
    # instances on the batch axis: torch resizes an empty batch, not an
    # empty channel axis
    return F.interpolate(probs[:, None], tuple(size), mode='bilinear',
                         align_corners=False)[:, 0]
