"""ZooCondInstBboxHead: the RT recipe's shared tower on P3-P5."""
import pytest
import torch

from mmdet.models.dense_heads import CondInstBboxHead
from projects.condinst import ZooCondInstBboxHead

STRIDES = [8, 16, 32]
IMG = 128


def _head(**kw):
    torch.manual_seed(0)
    head = ZooCondInstBboxHead(
        num_classes=3, in_channels=16, feat_channels=16, strides=STRIDES,
        regress_ranges=((-1, 64), (64, 128), (128, 1e8)), num_params=169,
        norm_cfg=dict(type='GN', num_groups=4), **kw)
    head.init_weights()
    return head


def _feats():
    torch.manual_seed(1)
    return [torch.rand(2, 16, IMG // s, IMG // s) for s in STRIDES]


def test_shared_tower_replaces_the_two_towers():
    head = _head(stacked_convs=0, num_share_convs=3)
    assert len(head.cls_convs) == 0 and len(head.reg_convs) == 0
    assert len(head.share_convs) == 3
    cls, bbox, ctr, params = head(_feats())
    for lvl, s in enumerate(STRIDES):
        assert cls[lvl].shape == (2, 3, IMG // s, IMG // s)
        assert bbox[lvl].shape == (2, 4, IMG // s, IMG // s)
        assert ctr[lvl].shape == (2, 1, IMG // s, IMG // s)
        assert params[lvl].shape == (2, 169, IMG // s, IMG // s)
    # classification and the controller both read the shared tower
    before = [t[0].clone() for t in (cls, params)]
    with torch.no_grad():
        head.share_convs[0].conv.weight.add_(0.5)
    cls2, _, _, params2 = head(_feats())
    assert not torch.allclose(before[0], cls2[0])
    assert not torch.allclose(before[1], params2[0])


def test_without_shared_convs_it_is_mmdets_head():
    torch.manual_seed(0)
    ours = _head(stacked_convs=2)
    torch.manual_seed(0)
    theirs = CondInstBboxHead(
        num_classes=3, in_channels=16, feat_channels=16, strides=STRIDES,
        regress_ranges=((-1, 64), (64, 128), (128, 1e8)), num_params=169,
        norm_cfg=dict(type='GN', num_groups=4), stacked_convs=2)
    theirs.init_weights()
    assert len(ours.share_convs) == 0
    theirs.load_state_dict(ours.state_dict())
    for a, b in zip(ours(_feats()), theirs(_feats())):
        assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_bad_tower_settings_are_named():
    with pytest.raises(ValueError, match='num_share_convs=-1'):
        _head(num_share_convs=-1)
    with pytest.raises(ValueError, match='in_channels == feat_channels'):
        ZooCondInstBboxHead(num_classes=3, in_channels=8, feat_channels=16,
                            strides=STRIDES, stacked_convs=0,
                            norm_cfg=dict(type='GN', num_groups=4))
