"""Center-aware ground truth for FCOS-style locations (SAIS §III-B, eq. 2-4).

FCOS gives a location that falls inside several boxes to the box of minimal
area. SAIS instead sorts the candidate instances by area (small first),
scores each with its center-ness ``C_i`` measured from the location,

    C_i = sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b)),

and gives the location to the instance with the largest ``C_i``, so the centre
of a large object stays labelled with that object even when a small object
overlaps it. Ties go to the smaller instance (the area sort). The function
is pure tensor code so it can be tested by hand without a head.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor


def location_gt_distances(points: Tensor, gt_bboxes: Tensor) -> Tensor:
    """Distances from every location to every box's sides.

    Args:
        points (Tensor): shape (N, 2), (x, y) in pixels.
        gt_bboxes (Tensor): shape (G, 4), (x1, y1, x2, y2) in pixels.

    Returns:
        Tensor: shape (N, G, 4), (left, top, right, bottom) in pixels,
        negative where the location is outside the box.
    """
    xs, ys = points[:, 0, None], points[:, 1, None]
    return torch.stack((xs - gt_bboxes[None, :, 0], ys - gt_bboxes[None, :, 1],
                        gt_bboxes[None, :, 2] - xs,
                        gt_bboxes[None, :, 3] - ys), -1)


def centerness(ltrb: Tensor) -> Tensor:
    """FCOS/SAIS center-ness of locations inside boxes (SAIS eq. 2).

    Args:
        ltrb (Tensor): shape (..., 4), positive distances in pixels.

    Returns:
        Tensor: shape (...), values in [0, 1]; 1 at the box centre.
    """
    lr, tb = ltrb[..., [0, 2]].clamp(min=0), ltrb[..., [1, 3]].clamp(min=0)
    ratio_x = lr.min(-1)[0] / lr.max(-1)[0].clamp(min=1e-6)
    ratio_y = tb.min(-1)[0] / tb.max(-1)[0].clamp(min=1e-6)
    return torch.sqrt(ratio_x * ratio_y)


def assign_locations(
        points: Tensor,
        gt_bboxes: Tensor,
        regress_ranges: Tensor,
        center_aware: bool = True,
        center_radii: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Give every location at most one ground-truth instance.

    A location is a candidate for an instance when it lies inside its box (or
    inside the centre region of radius ``center_radii`` pixels, FCOS's centre
    sampling) and its largest side distance is within the location's
    regression range. Among candidates, ``center_aware=True`` picks the
    largest center-ness (SAIS eq. 3-4, small instances first on ties);
    ``center_aware=False`` picks the smallest area (FCOS).

    Args:
        points (Tensor): shape (N, 2), location (x, y) in input pixels.
        gt_bboxes (Tensor): shape (G, 4), boxes (x1, y1, x2, y2) in pixels.
        regress_ranges (Tensor): shape (N, 2), (min, max) of the largest
            side distance each location may regress, in pixels.
        center_aware (bool): SAIS rule if True, FCOS minimal-area if False.
        center_radii (Tensor, optional): shape (N,), radius in pixels of the
            centre region per location (stride x radius); None: whole box.

    Returns:
        tuple[Tensor, Tensor]:

        - assigned (Tensor): shape (N,), int64 index into ``gt_bboxes``,
          -1 for background.
        - bbox_targets (Tensor): shape (N, 4), (l, t, r, b) to the assigned
          box in pixels; zeros for background.
    """
    num_points, num_gts = points.size(0), gt_bboxes.size(0)
    if num_gts == 0:
        return (points.new_full((num_points, ), -1, dtype=torch.long),
                points.new_zeros((num_points, 4)))
    ltrb = location_gt_distances(points, gt_bboxes)  # (N, G, 4)
    if center_radii is None:
        inside = ltrb.min(-1)[0] > 0
    else:
        cx = (gt_bboxes[:, 0] + gt_bboxes[:, 2]) / 2
        cy = (gt_bboxes[:, 1] + gt_bboxes[:, 3]) / 2
        r = center_radii[:, None]
        x1 = torch.maximum(cx[None] - r, gt_bboxes[None, :, 0])
        y1 = torch.maximum(cy[None] - r, gt_bboxes[None, :, 1])
        x2 = torch.minimum(cx[None] + r, gt_bboxes[None, :, 2])
        y2 = torch.minimum(cy[None] + r, gt_bboxes[None, :, 3])
        xs, ys = points[:, 0, None], points[:, 1, None]
        inside = (xs > x1) & (xs < x2) & (ys > y1) & (ys < y2)
    max_dist = ltrb.max(-1)[0]
    in_range = (max_dist >= regress_ranges[:, 0, None]) & (
        max_dist <= regress_ranges[:, 1, None])
    candidate = inside & in_range  # (N, G)

    areas = (gt_bboxes[:, 2] - gt_bboxes[:, 0]) * (
        gt_bboxes[:, 3] - gt_bboxes[:, 1])
    if center_aware:
        # sort small first: argmax returns the first maximum, so ties go to
        # the smaller instance, as the paper's ordering prescribes
        order = torch.argsort(areas, stable=True)
        score = centerness(ltrb[:, order])
        score = torch.where(candidate[:, order], score, score.new_tensor(-1.))
        best_score, best = score.max(dim=1)
        assigned = order[best]
        is_fg = best_score >= 0
    else:
        area = torch.where(candidate, areas[None].expand(num_points, num_gts),
                           areas.new_tensor(float('inf')))
        min_area, assigned = area.min(dim=1)
        is_fg = torch.isfinite(min_area)
    assigned = torch.where(is_fg, assigned, assigned.new_tensor(-1))
    bbox_targets = ltrb[torch.arange(num_points), assigned.clamp(min=0)]
    bbox_targets = bbox_targets * is_fg[:, None]
    return assigned, bbox_targets
