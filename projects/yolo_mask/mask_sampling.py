"""Which detections train YOLO-Mask's mask head: Mask R-CNN's assignment
and sampling, applied to the YOLO detector's post-NMS detections."""
from typing import List

from mmengine.structures import InstanceData

from mmdet.models.task_modules import SamplingResult
from mmdet.utils import InstanceList, OptInstanceList


def sample_mask_rois(detections: InstanceList,
                     batch_gt_instances: InstanceList,
                     batch_gt_instances_ignore: OptInstanceList,
                     assigner, sampler) -> List[SamplingResult]:
    """Match each image's detections to its GT and sample them, as Mask
    R-CNN's ``StandardRoIHead.loss`` does with RPN proposals.

    With Mask R-CNN's settings (``MaxIoUAssigner`` with ``pos_iou_thr`` =
    ``neg_iou_thr`` = ``min_pos_iou`` = 0.5; ``RandomSampler`` with
    ``num=512``, ``pos_fraction=0.25``, ``add_gt_as_proposals=True``) a
    detection is positive when its IoU with some GT box is at least 0.5,
    the GT boxes themselves join the proposals, and at most 128 positives per
    image are kept. So an image with GT always has positives, even when the
    detector found nothing; an image without GT has none.

    Args:
        detections (list[InstanceData]): per image, ``bboxes`` (n, 4) in
            pixels of the network input (x1, y1, x2, y2); n may be 0. Used
            as fixed proposals (detached here).
        batch_gt_instances (list[InstanceData]): per image, ``bboxes``
            (m, 4), ``labels`` (m,) and ``masks`` (m, H, W) in the same
            frame; m may be 0.
        batch_gt_instances_ignore (list[InstanceData], optional): per
            image, crowd regions (``bboxes``), passed to the assigner.
        assigner (BaseAssigner): e.g. ``MaxIoUAssigner``.
        sampler (BaseSampler): e.g. ``RandomSampler``.

    Returns:
        list[SamplingResult]: per image; ``pos_priors`` (p, 4) are the boxes
        the mask head is trained on, ``pos_assigned_gt_inds`` (p,) and
        ``pos_gt_labels`` (p,) their GT index and class.
    """
    if batch_gt_instances_ignore is None:
        batch_gt_instances_ignore = [None] * len(detections)
    results = []
    for dets, gts, ignore in zip(detections, batch_gt_instances,
                                 batch_gt_instances_ignore):
        proposals = InstanceData(priors=dets.bboxes.detach())
        assign_result = assigner.assign(proposals, gts, ignore)
        results.append(sampler.sample(assign_result, proposals, gts))
    return results
