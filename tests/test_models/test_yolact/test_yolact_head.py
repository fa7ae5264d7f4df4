"""ZooYOLACTHead: NMS chosen in test_cfg, and the peer check against mmdet's
YOLACT on the same random weights and the same real image."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from projects.yolact.mmdet_peer import mmdet_yolact_model
from conftest import ROOT, real_dataset

CFG = osp.join(ROOT, 'configs', 'yolact',
               'yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py')


def _cfg():
    register_all_modules()
    cfg = Config.fromfile(CFG)
    cfg.model.backbone.init_cfg = None
    return cfg


@pytest.fixture(scope='module')
def peers(fruits_nuts):
    """(ours, mmdet's, batch): one set of random weights, one real image;
    YOLACT as the paper's (no ``proto_norm``, which mmdet does not have)."""
    cfg = _cfg()
    cfg.model.mask_head.proto_norm = False
    torch.manual_seed(0)
    ours = MODELS.build(cfg.model).eval()
    theirs = MODELS.build(mmdet_yolact_model(cfg.model)).eval()
    theirs.load_state_dict(ours.state_dict())
    dataset = real_dataset(cfg, 'val_dataloader')
    return ours, theirs, pseudo_collate([dataset[0]])


def _predict(model, batch, **test_cfg):
    """pred_instances under a temporarily changed test_cfg (both heads)."""
    heads = (model.bbox_head, model.mask_head)
    olds = [copy.deepcopy(h.test_cfg) for h in heads]
    for h in heads:
        h.test_cfg.update(test_cfg)
    try:
        with torch.no_grad():
            return model.test_step(batch)[0].pred_instances
    finally:
        for h, old in zip(heads, olds):
            h.test_cfg = old


@pytest.fixture(scope='module')
def predicted(peers):
    """``predicted(model, **test_cfg)``: :func:`_predict` on the peers'
    image, each (model, test_cfg) predicted once per module (the models
    are in eval mode and never change: the same call gives the same
    result); the tests only read the results."""
    _, _, batch = peers
    cache = {}

    def get(model, **test_cfg):
        key = (id(model), repr(sorted(test_cfg.items())))
        if key not in cache:
            cache[key] = _predict(model, batch, **test_cfg)
        return cache[key]

    return get


def test_same_boxes_scores_masks_as_mmdet(peers, predicted):
    """mmdet-compatible setting: fast_nms and whole-image mask upsampling."""
    ours, theirs, batch = peers
    a = predicted(ours, mask_paste='image')
    b = predicted(theirs)
    assert len(a) > 10  # random weights, 3 classes: plenty of detections
    torch.testing.assert_close(a.bboxes, b.bboxes)
    torch.testing.assert_close(a.scores, b.scores)
    assert torch.equal(a.labels, b.labels)
    assert torch.equal(a.masks, b.masks)
    h, w = batch['data_samples'][0].ori_shape
    assert a.masks.shape == (len(a), h, w)


def test_box_paste_gives_mmdets_masks(peers, predicted):
    """The default paste computes only box windows; pixels may differ only
    where the upsampled value is within float rounding of mask_thr."""
    ours, theirs, _ = peers
    a, b = predicted(ours), predicted(theirs)
    assert a.masks.shape == b.masks.shape and a.masks.dtype == torch.bool
    assert b.masks.sum() > 1000
    assert (a.masks != b.masks).sum() <= 1e-6 * b.masks.numel()


def test_unknown_mask_paste_is_named(peers):
    ours, _, batch = peers
    with pytest.raises(ValueError, match="'roi'"):
        _predict(ours, batch, mask_paste='roi')


def test_cross_class_fast_nms_keeps_one_box_per_place(peers, predicted):
    ours, _, _ = peers
    per_class = predicted(ours, max_per_img=1000)
    cross = predicted(ours, max_per_img=1000,
                      nms=dict(type='cross_class_fast_nms', iou_threshold=0.5))
    assert 0 < len(cross) < len(per_class)
    from mmdet.structures.bbox import bbox_overlaps
    iou = bbox_overlaps(cross.bboxes, cross.bboxes).triu(1)
    assert iou.max() <= 0.5  # across classes too
    assert cross.masks.shape[1:] == per_class.masks.shape[1:]


def test_standard_nms_overlaps_fast_nms(peers, predicted):
    ours, _, _ = peers
    fast = predicted(ours, max_per_img=1000)
    std = predicted(ours, max_per_img=1000,
                    nms=dict(type='nms', iou_threshold=0.5))
    # Fast NMS may suppress more (through suppressed boxes), never less
    assert 0 < len(fast) <= len(std)
    same = {(tuple(b.tolist()), int(l)) for b, l in
            zip(std.bboxes.round(decimals=2), std.labels)}
    shared = sum((tuple(b.tolist()), int(l)) in same for b, l in
                 zip(fast.bboxes.round(decimals=2), fast.labels))
    assert shared >= 0.9 * len(fast)


def test_unknown_nms_type_is_named(peers):
    ours, _, batch = peers
    with pytest.raises(ValueError, match="'soft_nms'"):
        _predict(ours, batch, nms=dict(type='soft_nms', iou_threshold=0.5))


def test_the_mmdet_peer_of_a_proto_norm_model_is_refused_by_name():
    """mmdet's YOLACTProtonet has no ``proto_norm``: the small-data configs
    switch it on, so the peer is built from the paper's setting and a
    config that keeps it on is named, not passed on to mmdet."""
    cfg = _cfg()
    assert cfg.model.mask_head.proto_norm is True
    with pytest.raises(ValueError, match='mask_head.proto_norm'):
        mmdet_yolact_model(cfg.model)
    cfg.model.mask_head.proto_norm = False
    peer = mmdet_yolact_model(cfg.model)
    assert 'proto_norm' not in peer.mask_head
    MODELS.build(peer)
