"""BlendMaskBboxHead + BlendMaskMaskHead: shapes, losses, hand-off, caps."""
import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from mmdet.structures.mask import BitmapMasks
from projects.blendmask import BlendMaskBboxHead, BlendMaskMaskHead

K, A, R = 4, 7, 28
STRIDES = [8, 16, 32]
IMG = 256  # padded input size in pixels


def _heads(**mask_kw):
    torch.manual_seed(0)
    bbox_head = BlendMaskBboxHead(
        num_classes=3, in_channels=16, feat_channels=16, stacked_convs=1,
        strides=STRIDES, regress_ranges=((-1, 64), (64, 128), (128, 1e8)),
        num_bases=K, attn_size=A, norm_cfg=dict(type='GN', num_groups=4),
        center_sampling=True, center_sample_radius=1.5, norm_on_bbox=True,
        centerness_on_reg=True,
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        test_cfg=dict(nms_pre=100, score_thr=0.0,
                      nms=dict(type='nms', iou_threshold=0.6),
                      max_per_img=10))
    kw = dict(in_channels=16, feat_channels=16, num_bases=K, num_convs=1,
              attn_size=A, pooler_resolution=R, num_classes=3)
    kw.update(mask_kw)
    mask_head = BlendMaskMaskHead(**kw)
    bbox_head.init_weights()
    mask_head.init_weights()
    return bbox_head, mask_head


def _feats(batch=1):
    torch.manual_seed(1)
    return [torch.rand(batch, 16, IMG // s, IMG // s) for s in STRIDES]


def _meta():
    return dict(img_shape=(IMG, IMG), pad_shape=(IMG, IMG),
                batch_input_shape=(IMG, IMG), ori_shape=(600, 800),
                scale_factor=(IMG / 800, IMG / 600))


def _gt(n):
    bboxes = torch.tensor([[20., 30., 120., 110.], [130., 60., 230., 200.],
                           [40., 150., 90., 240.]])[:n]
    masks = np.zeros((n, IMG, IMG), dtype=np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(bboxes.int().tolist()):
        masks[i, y1 + 5:y2 - 5, x1 + 5:x2 - 5] = 1
    return InstanceData(bboxes=bboxes, labels=torch.tensor([0, 1, 2])[:n],
                        masks=BitmapMasks(masks, IMG, IMG))


def _losses(bbox_head, mask_head, gt):
    feats = _feats()
    losses = bbox_head.loss_by_feat(*bbox_head(feats), [gt], [_meta()])
    infos = bbox_head.get_positive_infos()
    losses.update(mask_head.loss_by_feat(
        *mask_head(feats), batch_gt_instances=[gt],
        batch_img_metas=[_meta()], positive_infos=infos))
    return losses, infos


def test_forward_shapes():
    bbox_head, mask_head = _heads()
    cls, bbox, ctr, attn = bbox_head(_feats(batch=2))
    for lvl, s in enumerate(STRIDES):
        assert cls[lvl].shape == (2, 3, IMG // s, IMG // s)
        assert attn[lvl].shape == (2, K * A * A, IMG // s, IMG // s)
    bases, sem = mask_head(_feats(batch=2))
    assert bases.shape == (2, K, IMG // 4, IMG // 4)
    assert sem.shape == (2, 4, IMG // 8, IMG // 8)  # 3 classes + bg


def test_loss_empty_gt():
    bbox_head, mask_head = _heads()
    empty = InstanceData(
        bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long),
        masks=BitmapMasks(np.zeros((0, IMG, IMG), np.uint8), IMG, IMG))
    losses, infos = _losses(bbox_head, mask_head, empty)
    assert len(infos[0]) == 0
    assert losses['loss_cls'].item() > 0
    assert losses['loss_bbox'].item() == 0
    assert losses['loss_mask'].item() == 0
    assert losses['loss_mask'].requires_grad
    assert torch.isfinite(losses['loss_basis_sem'])
    assert losses['loss_basis_sem'].item() > 0  # all-background target
    sum(losses.values()).backward()


def test_loss_non_empty_gt_trains_every_branch():
    bbox_head, mask_head = _heads()
    losses, infos = _losses(bbox_head, mask_head, _gt(3))
    assert len(infos[0]) > 0
    assert set(infos[0].pos_assigned_gt_inds.tolist()) == {0, 1, 2}
    assert infos[0].param_preds.shape == (len(infos[0]), K * A * A)
    for key, value in losses.items():
        assert torch.isfinite(value) and value.item() > 0, key
    sum(losses.values()).backward()
    for module in (bbox_head.controller, mask_head.basis_module.tower,
                   mask_head.basis_module.seg_head,
                   mask_head.basis_module.refine):
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None and g.abs().sum() > 0 for g in grads)


def test_no_semantic_head_without_num_classes():
    bbox_head, mask_head = _heads(num_classes=None)
    losses, _ = _losses(bbox_head, mask_head, _gt(2))
    assert 'loss_basis_sem' not in losses and losses['loss_mask'] > 0


def _blended_per_call(mask_head):
    seen = []
    mask_head.blender.register_forward_hook(
        lambda m, a, out: seen.append(out.shape[0]))
    return seen


@pytest.mark.parametrize('cap', [-1, 3])
def test_max_masks_to_train(cap):
    bbox_head, mask_head = _heads(max_masks_to_train=cap)
    seen = _blended_per_call(mask_head)
    _, infos = _losses(bbox_head, mask_head, _gt(3))
    assert len(infos[0]) > 3
    assert seen == [len(infos[0]) if cap == -1 else 3]


def test_mask_loss_is_centerness_weighted():
    """All positives blend the same constant mask logit 0 when the bases
    are 0, so each BCE is ln 2 and the weighted mean is exactly ln 2."""
    bbox_head, mask_head = _heads(num_classes=None)
    feats = _feats()
    bbox_head.loss_by_feat(*bbox_head(feats), [_gt(3)], [_meta()])
    bases = torch.zeros(1, K, IMG // 4, IMG // 4, requires_grad=True)
    loss = mask_head.loss_by_feat(
        bases, None, batch_gt_instances=[_gt(3)], batch_img_metas=[_meta()],
        positive_infos=bbox_head.get_positive_infos())['loss_mask']
    assert loss.item() == pytest.approx(np.log(2), rel=1e-5)


def test_mask_head_needs_positive_infos():
    _, mask_head = _heads()
    with pytest.raises(ValueError, match='positive_infos'):
        mask_head.loss_by_feat(*mask_head(_feats()),
                               batch_gt_instances=[_gt(1)],
                               batch_img_metas=[_meta()])


def test_bbox_head_rejects_num_params():
    with pytest.raises(ValueError, match='num_params'):
        BlendMaskBboxHead(num_classes=3, in_channels=16, num_params=10)


def test_box_centre_sampling_not_mask_centroid():
    """A GT whose mask sits in the box's left corner: CondInst would sample
    around the mask centroid, BlendMask (AdelaiDet FCOS) around the box
    centre, so the positives are the same with and without the mask."""
    bbox_head, _ = _heads()
    gt = _gt(1)
    gt.bboxes = torch.tensor([[0., 0., 200., 200.]])
    masks = np.zeros((1, IMG, IMG), np.uint8)
    masks[0, :40, :40] = 1
    gt.masks = BitmapMasks(masks, IMG, IMG)
    no_mask = InstanceData(bboxes=gt.bboxes, labels=gt.labels)
    points = bbox_head.prior_generator.grid_priors(
        [(IMG // s, IMG // s) for s in STRIDES], device='cpu')
    with_mask = bbox_head.get_targets(points, [gt])[2][0]
    without = bbox_head.get_targets(points, [no_mask])[2][0]
    assert torch.equal(with_mask, without)
    # within 1.5 strides (at most 48 px) of the box centre (100, 100), far
    # from the mask centroid (20, 20)
    pts = torch.cat(points)[with_mask]
    assert len(pts) > 0 and (pts - 100).abs().max() <= 48


def test_shared_tower():
    """BlendMask-RT: 3 shared convs and no separate towers."""
    head = BlendMaskBboxHead(
        num_classes=3, in_channels=16, feat_channels=16, stacked_convs=0,
        num_share_convs=3, strides=STRIDES,
        regress_ranges=((-1, 64), (64, 128), (128, 1e8)), num_bases=K,
        attn_size=A, norm_cfg=dict(type='GN', num_groups=4))
    assert len(head.share_convs) == 3
    assert len(head.cls_convs) == 0 and len(head.reg_convs) == 0
    cls, _, _, attn = head(_feats())
    assert cls[0].shape == (1, 3, IMG // 8, IMG // 8)
    assert attn[2].shape == (1, K * A * A, IMG // 32, IMG // 32)


def _predict(score_thr):
    bbox_head, mask_head = _heads()
    bbox_head.eval()
    mask_head.eval()
    feats = _feats()
    cfg = ConfigDict(bbox_head.test_cfg, score_thr=score_thr)
    with torch.no_grad():
        results = bbox_head.predict_by_feat(
            *bbox_head(feats), batch_img_metas=[_meta()], cfg=cfg,
            rescale=False)
        return mask_head.predict_by_feat(
            *mask_head(feats), results_list=results,
            batch_img_metas=[_meta()], rescale=True)[0]


def test_predict_masks_at_original_size_inside_boxes():
    res = _predict(score_thr=0.0)
    n = len(res)
    assert 0 < n <= 10
    assert res.masks.shape == (n, 600, 800) and res.masks.dtype == torch.bool
    assert res.bboxes[:, 0::2].max() <= 800 + 1e-3
    assert 'param_preds' not in res and 'points' not in res
    assert res.masks.any()  # the check below is not vacuous
    for box, mask in zip(res.bboxes, res.masks):
        ys, xs = torch.nonzero(mask, as_tuple=True)
        if len(xs):
            assert xs.min() >= box[0].floor() - 1 and xs.max() <= box[2] + 1
            assert ys.min() >= box[1].floor() - 1 and ys.max() <= box[3] + 1


def test_predict_no_detection_is_well_formed():
    res = _predict(score_thr=1.0)
    assert len(res) == 0
    assert res.bboxes.shape == (0, 4)
    assert res.masks.shape == (0, 600, 800)
    assert res.masks.dtype == torch.bool
