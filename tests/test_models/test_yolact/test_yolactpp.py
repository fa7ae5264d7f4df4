"""YOLACT++: the mask re-scoring branch, its loss and test-time re-scoring,
the DCN-interval ResNet, the anchors, and the full fruits_nuts model."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv.ops import ModulatedDeformConv2d
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData

from mmdet.registry import MODELS
from mmdet.structures.mask import BitmapMasks
from mmdet.utils import register_all_modules
from projects.yolact import FastMaskIoUNet, YOLACTPlusPlusProtonet
from projects.yolact.mask_rescoring import binary_mask_iou
from conftest import ROOT, model_inputs, real_dataset

P = 64  # prototype side of the unit tests (a 256x256 input)


def _cfg(name):
    register_all_modules()
    return Config.fromfile(osp.join(ROOT, 'configs', name))


def test_maskiou_net_layers_and_shape():
    net = FastMaskIoUNet(num_classes=3)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64, 128, 3]
    assert [c.stride for c in convs] == [(2, 2)] * 5 + [(1, 1)]
    assert all(c.padding == (0, 0) for c in convs)
    assert sum(isinstance(m, torch.nn.ReLU) for m in net.modules()) == 6
    out = net(torch.rand(5, P, P))
    assert out.shape == (5, 3) and (out >= 0).all()
    assert net(torch.rand(0, P, P)).shape == (0, 3)
    assert net.min_size == 63
    with pytest.raises(ValueError, match='at least 63x63'):
        net(torch.rand(1, 62, 80))


def test_binary_mask_iou():
    gt = torch.zeros(3, 8, 8)
    gt[:, :4, :4] = 1  # 16 pixels
    pred = torch.zeros(3, 8, 8)
    pred[0, :4, :4] = 0.9  # same mask
    pred[1, :4, :2] = 0.6  # half of it
    pred[1, :4, 2:4] = 0.5  # not above the threshold
    pred[2, 4:, 4:] = 1.0  # disjoint
    torch.testing.assert_close(binary_mask_iou(pred, gt),
                               torch.tensor([1.0, 0.5, 0.0]))
    assert binary_mask_iou(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4)) == 0


class _FixedIoU(torch.nn.Module):
    """Predicts IoU ``0.1 * (c + 1)`` for class c; records its input, and
    keeps it in the graph (with a zero weight)."""

    def __init__(self, num_classes):
        super().__init__()
        self.num_classes = num_classes
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.inputs = []

    def forward(self, masks):
        self.inputs.append(masks)
        ious = 0.1 * torch.arange(1., self.num_classes + 1)
        return self.scale * ious.expand(len(masks), -1) + \
            0 * masks.mean(dim=(1, 2))[:, None]


def _head(**kw):
    torch.manual_seed(0)
    head = YOLACTPlusPlusProtonet(
        num_classes=3, in_channels=8, proto_channels=(8, 4),
        proto_kernel_sizes=(3, 1), num_protos=4, **kw)
    head.test_cfg = ConfigDict(mask_thr=0.5, mask_thr_binary=0.5)
    return head


def _meta():
    return dict(img_shape=(4 * P, 4 * P), ori_shape=(300, 400),
                scale_factor=(4 * P / 400, 4 * P / 300))


def test_predicted_scores_are_multiplied_by_predicted_iou():
    head = _head()
    head.maskiou_net = _FixedIoU(3)
    masks = torch.full((P, P, 3), 0.9)
    results = InstanceData(
        bboxes=torch.tensor([[0., 0., 128., 128.], [64., 64., 256., 256.],
                             [0., 0., 256., 256.]]),
        scores=torch.tensor([0.9, 0.8, 0.5]),
        labels=torch.tensor([2, 0, 1]))
    out = head.predict_by_feat([masks], None, [results], [_meta()])[0]
    torch.testing.assert_close(out.mask_ious, torch.tensor([0.3, 0.1, 0.2]))
    torch.testing.assert_close(out.scores,
                               torch.tensor([0.9 * 0.3, 0.8 * 0.1, 0.5 * 0.2]))
    assert out.masks.shape == (3, 300, 400)
    # the branch saw the masks cropped by their boxes, at prototype size
    seen = head.maskiou_net.inputs[0]
    assert seen.shape == (3, P, P)
    assert seen[0, :33, :33].min() == 0.9 and seen[0, 40:].max() == 0
    assert seen[1, :15].max() == 0 and seen[1, 20:, 20:].min() == 0.9


def test_no_detection_keeps_empty_results():
    head = _head()
    results = InstanceData(bboxes=torch.zeros(0, 4), scores=torch.zeros(0),
                           labels=torch.zeros(0, dtype=torch.long))
    out = head.predict_by_feat([torch.zeros(P, P, 0)], None, [results],
                               [_meta()])[0]
    assert len(out) == 0 and out.masks.shape[-2:] == (300, 400)


def _gt():
    masks = np.zeros((2, 4 * P, 4 * P), dtype=np.uint8)
    masks[0, :128, :128] = 1  # 32x32 = 1024 prototype pixels
    masks[1, 200:216, 200:216] = 1  # 4x4 = 16 <= 25: left out
    return InstanceData(
        bboxes=torch.tensor([[0., 0., 128., 128.], [200., 200., 216., 216.]]),
        labels=torch.tensor([1, 2]),
        masks=BitmapMasks(masks, 4 * P, 4 * P))


def test_maskiou_loss_targets_and_value():
    head = _head()
    head.maskiou_net = _FixedIoU(3)
    # 3 positives: GT 0 predicted exactly, GT 0 half, GT 1 (small)
    pred = torch.zeros(P, P, 3)
    pred[:32, :32, 0] = 0.9
    pred[:32, :16, 1] = 0.9
    pred[50:54, 50:54, 2] = 0.9
    info = InstanceData(pos_assigned_gt_inds=torch.tensor([0, 0, 1]),
                        bboxes=_gt().bboxes[[0, 0, 1]])
    pred.requires_grad_(True)
    segm = torch.zeros(1, 3, P // 2, P // 2, requires_grad=True)
    losses = head.loss_by_feat([pred], segm, [_gt()], [_meta()], [info])
    # kept: the two masks of GT 0 (class 1, predicted IoU 0.2); targets
    # 1 and 0.5; smooth L1 (beta 1) summed, x25, / 3 positives
    expected = 25 * (0.5 * 0.8**2 + 0.5 * 0.3**2) / 3
    torch.testing.assert_close(losses['loss_maskiou'],
                               torch.tensor(expected))
    assert len(head.maskiou_net.inputs[0]) == 2
    # detached input: the re-scoring loss trains the branch only
    losses['loss_maskiou'].backward()
    assert head.maskiou_net.scale.grad is not None and pred.grad is None


def test_maskiou_loss_without_kept_masks_is_zero_with_graph():
    head = _head(discard_mask_area=10**6)
    info = InstanceData(pos_assigned_gt_inds=torch.tensor([0]),
                        bboxes=_gt().bboxes[:1])
    segm = torch.zeros(1, 3, P // 2, P // 2)
    losses = head.loss_by_feat([torch.rand(P, P, 1)], segm, [_gt()],
                               [_meta()], [info])
    assert losses['loss_maskiou'] == 0
    losses['loss_maskiou'].backward()  # every parameter stays in the graph


def _dcn_blocks(backbone):
    return [[i for i, block in enumerate(getattr(backbone, name))
             if isinstance(block.conv2, ModulatedDeformConv2d)]
            for name in backbone.res_layers]


@pytest.mark.parametrize('depth,expected', [
    (50, [[], [0, 3], [0, 3], [0]]),
    (101, [[], [0, 3], [0, 3, 6, 9, 12, 15, 18, 21], [0]]),
])
def test_dcn_in_every_third_block_of_c3_to_c5(depth, expected):
    register_all_modules()
    backbone = dict(_cfg('yolactpp_r50.py').model.backbone, depth=depth,
                    init_cfg=None)
    model = MODELS.build(backbone)
    assert _dcn_blocks(model) == expected
    # a plain ResNet's weights load: same keys and shapes, plus the offsets
    backbone.pop('dcn_interval')
    plain = MODELS.build(dict(backbone, type='ResNet', dcn=None))
    ours, theirs = model.state_dict(), plain.state_dict()
    assert all(ours[k].shape == v.shape for k, v in theirs.items())
    extra = {k.split('.conv2.')[1] for k in set(ours) - set(theirs)}
    assert extra == {'conv_offset.weight', 'conv_offset.bias'}


def test_dcn_interval_one_is_mmdet_resnet():
    register_all_modules()
    backbone = dict(_cfg('yolactpp_r50.py').model.backbone, dcn_interval=1,
                    init_cfg=None)
    assert _dcn_blocks(MODELS.build(backbone)) == [[], [0, 1, 2, 3],
                                                   [0, 1, 2, 3, 4, 5],
                                                   [0, 1, 2]]


def test_anchors_three_scales_per_level():
    yolact = MODELS.build(_cfg('yolact_r50.py').model.bbox_head)
    head = MODELS.build(_cfg('yolactpp_r50.py').model.bbox_head)
    assert yolact.num_base_priors == 3
    assert head.num_base_priors == 15  # 5 ratios x 3 scales
    assert head.conv_cls.out_channels == 15 * 81
    assert head.conv_reg.out_channels == 15 * 4
    assert head.conv_coeff.out_channels == 15 * 32
    torch.testing.assert_close(
        head.prior_generator.ratios, torch.tensor([1, 0.5, 2, 1 / 3, 3]))
    gen = head.prior_generator
    torch.testing.assert_close(
        gen.scales, 3 * torch.tensor([1, 2**(1 / 3), 2**(2 / 3)]))
    # square anchors of level 0: 24, 24 * 2^(1/3), 24 * 2^(2/3) px
    base = gen.base_anchors[0]
    wh = base[:, 2:] - base[:, :2]
    sides = sorted(wh[(wh[:, 0] - wh[:, 1]).abs() < 1e-3, 0].tolist())
    assert sides == pytest.approx([24, 24 * 2**(1 / 3), 24 * 2**(2 / 3)],
                                  abs=1e-3)


@pytest.fixture(scope='module')
def fruits_model(fruits_nuts):
    """The YOLACT++ fruits_nuts model (random weights, 256x256 input)
    and its train and val datasets."""
    cfg = _cfg('yolact/yolactpp_r50-dcn_fpn_1xb2-200i_fruits-nuts-384.py')
    cfg.model.backbone.init_cfg = None
    datasets = [real_dataset(cfg, split, 256)
                for split in ('train_dataloader', 'val_dataloader')]
    torch.manual_seed(0)
    return MODELS.build(cfg.model), datasets


def test_full_model_trains_the_rescoring_branch(fruits_model):
    model, (train, _) = fruits_model
    model.train()
    data = model_inputs(model, [train[0]], True)
    losses = model(**data, mode='loss')
    assert {'loss_cls', 'loss_bbox', 'loss_mask', 'loss_segm',
            'loss_maskiou'} <= set(losses)
    loss = losses['loss_maskiou']
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    grad = model.mask_head.maskiou_net.convs[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert model.mask_head.protonet[0].weight.grad is None  # detached


def test_full_model_predicts_rescored_masks_at_image_size(fruits_model):
    model, (_, val) = fruits_model
    model.eval()
    batch = pseudo_collate([val[0]])
    with torch.no_grad():
        sample = model.test_step(batch)[0]
    pred = sample.pred_instances
    assert len(pred) > 0
    assert pred.masks.shape == (len(pred), *sample.ori_shape)
    assert pred.mask_ious.shape == pred.scores.shape
    assert (pred.scores <= pred.mask_ious + 1e-6).all()  # class score <= 1
