"""Center-aware target assignment (SAIS §III-B, eq. 2-4) on hand-made boxes.

Large box L = (0, 0, 100, 100), small box S = (40, 40, 70, 70) covering L's
centre. Hand-computed center-ness values (eq. 2):

* (50, 50): L l=r=t=b=50 -> 1;  S l=10 r=20 t=10 b=20 -> sqrt(.5*.5) = 0.5
* (60, 55): L 40/60, 45/55 -> 0.7385;  S 10/20, 15/15 -> 0.7071
* (55, 55): L 45/55, 45/55 -> 0.8182;  S 15/15, 15/15 -> 1
"""
import math

import pytest
import torch
from mmengine.structures import InstanceData

from projects.sais import SAISHead, assign_locations, centerness

L_BOX = [0., 0., 100., 100.]
S_BOX = [40., 40., 70., 70.]
INF = 1e8


def _assign(points, boxes, center_aware, ranges=(-1, INF)):
    pts = torch.tensor(points)
    rr = torch.tensor([ranges], dtype=torch.float).expand(len(points), 2)
    return assign_locations(pts, torch.as_tensor(boxes), rr, center_aware)


def test_centerness_hand_values():
    ltrb = torch.tensor([[50., 50., 50., 50.], [10., 10., 20., 20.],
                         [60., 55., 40., 45.]])
    expected = [1.0, 0.5, math.sqrt(40 / 60 * 45 / 55)]
    assert centerness(ltrb).tolist() == pytest.approx(expected, abs=1e-6)


def test_large_box_keeps_its_centre_when_center_aware():
    points = [[50., 50.], [60., 55.], [55., 55.], [10., 10.], [150., 150.]]
    assigned, targets = _assign(points, [L_BOX, S_BOX], center_aware=True)
    assert assigned.tolist() == [0, 0, 1, 0, -1]
    assert targets[0].tolist() == [50., 50., 50., 50.]
    assert targets[2].tolist() == [15., 15., 15., 15.]
    assert targets[4].tolist() == [0., 0., 0., 0.]


def test_minimal_area_rule_when_off():
    points = [[50., 50.], [60., 55.], [55., 55.], [10., 10.], [150., 150.]]
    assigned, targets = _assign(points, [L_BOX, S_BOX], center_aware=False)
    assert assigned.tolist() == [1, 1, 1, 0, -1]
    assert targets[0].tolist() == [10., 10., 20., 20.]


def test_equal_centerness_goes_to_the_smaller_instance():
    # both boxes are centred on (10, 10): C = 1 for both; the large one is
    # listed first so the area sort, not the list order, decides
    assigned, _ = _assign([[10., 10.]], [[-10., -10., 30., 30.],
                                         [0., 0., 20., 20.]], True)
    assert assigned.tolist() == [1]


def test_regress_range_excludes_candidates():
    # at (50, 50) L's largest distance is 50, S's is 20; a range (0, 30]
    # leaves only S, whatever the rule
    for rule in (True, False):
        assigned, _ = _assign([[50., 50.]], [L_BOX, S_BOX], rule, (0, 30))
        assert assigned.tolist() == [1]


def test_no_gt_is_all_background():
    assigned, targets = _assign([[1., 1.], [2., 2.]], torch.zeros(0, 4),
                                True)
    assert assigned.tolist() == [-1, -1]
    assert targets.shape == (2, 4)


@pytest.mark.parametrize('center_aware,label_at_centre', [(True, 0),
                                                          (False, 2)])
def test_head_labels_follow_the_rule(center_aware, label_at_centre):
    head = SAISHead(
        num_classes=3, in_channels=8, feat_channels=8, stacked_convs=1,
        num_protos=4, strides=[8], regress_ranges=((-1, INF), ),
        center_aware=center_aware,
        norm_cfg=dict(type='GN', num_groups=4))
    gt = InstanceData(
        bboxes=torch.tensor([L_BOX, S_BOX]), labels=torch.tensor([0, 2]))
    # stride-8 locations sit at 8 * i + 4 (MlvlPointGenerator offset 0.5)
    points = head.prior_generator.grid_priors([(16, 16)], device='cpu')
    labels, _, pos_inds, pos_gt_inds = head.get_targets(points, [gt])
    xy = points[0]
    at_centre = ((xy[:, 0] == 52) & (xy[:, 1] == 52)).nonzero()[0, 0]
    # (52, 52): L 48/52, 48/52 -> 0.923; S 12/18, 12/18 -> 0.667
    assert labels[0][at_centre].item() == label_at_centre
    # the GT index handed to the mask head is the one behind the label
    gt_at_centre = pos_gt_inds[0][pos_inds[0] == at_centre]
    assert gt_at_centre.tolist() == [0 if label_at_centre == 0 else 1]
    assert torch.equal(gt.labels[pos_gt_inds[0]], labels[0][pos_inds[0]])
