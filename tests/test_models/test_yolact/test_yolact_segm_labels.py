"""The semantic segmentation target of class c lands in channel c (issue 5023).
"""
import numpy as np
import torch
from mmengine.structures import InstanceData

from mmdet.models.dense_heads import YOLACTProtonet
from mmdet.structures.mask import BitmapMasks
from projects.yolact import ZooYOLACTProtonet

NUM_CLASSES, H = 4, 64


def _targets(head_cls):
    torch.manual_seed(0)
    head = head_cls(num_classes=NUM_CLASSES, in_channels=8,
                    proto_channels=(8, None, 8, 4), proto_kernel_sizes=(3, -2,
                                                                         3, 1),
                    num_protos=4)
    masks = np.zeros((3, H, H), dtype=np.uint8)
    masks[0, :16, :16] = 1   # class 0, top-left
    masks[1, 40:, 40:] = 1   # class 2, bottom-right
    masks[2, :16, 40:] = 1   # class 2, top-right
    gt = InstanceData(
        bboxes=torch.tensor([[0., 0., 16., 16.], [40., 40., 64., 64.],
                             [40., 0., 64., 16.]]),
        labels=torch.tensor([0, 2, 2]),
        masks=BitmapMasks(masks, H, H))
    info = InstanceData(pos_assigned_gt_inds=torch.tensor([0, 1, 2]))
    segm_pred = torch.zeros(NUM_CLASSES, H // 4, H // 4)
    mask_preds = torch.zeros(3, H // 4, H // 4)
    _, _, segm_targets, _, _ = head._get_targets_single(
        mask_preds, segm_pred, gt, info)
    return segm_targets


def test_each_class_in_its_own_channel():
    t = _targets(ZooYOLACTProtonet)
    assert t.shape == (NUM_CLASSES, H // 4, H // 4)
    assert t[0, :4, :4].all() and t[0].sum() == 16  # class 0 only
    assert t[2, 10:, 10:].all() and t[2, :4, 10:].all()
    assert t[2].sum() == 36 + 24
    assert t[1].sum() == 0 and t[3].sum() == 0


def test_mmdet_shifts_targets_by_one_channel():
    """Documents the bug the subclass fixes: mmdet 3.3 puts class 0 in the
    last channel and class 2 in channel 1."""
    t = _targets(YOLACTProtonet)
    assert t[0].sum() == 0 and t[NUM_CLASSES - 1].sum() == 16
    assert t[1].sum() == 36 + 24
