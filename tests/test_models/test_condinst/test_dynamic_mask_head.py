"""ZooCondInstMaskHead against mmdet's CondInstMaskHead: the parameter
layout when the mask-feature channels differ from the width, the
parameter counts of the Table 1/3 settings and the rel-coords switch."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData

from mmdet.models.dense_heads import CondInstMaskHead
from mmdet.models.utils import relative_coordinate_maps
from projects.condinst import (ZooCondInstMaskHead, dynamic_layer_channels,
                               dynamic_param_count)

H = W = 12  # mask-feature map at stride 8 of a 96x96 input


def _head(cls=ZooCondInstMaskHead, mask_channels=8, **kw):
    return cls(
        mask_feature_head=dict(
            in_channels=16, feat_channels=16, start_level=0, end_level=2,
            out_channels=mask_channels, mask_stride=8, num_stacked_convs=1),
        loss_mask=dict(type='DiceLoss', use_sigmoid=True, activate=True,
                       eps=5e-6, loss_weight=1.0),
        **kw)


def _positives(num_params, n=3):
    torch.manual_seed(0)
    return InstanceData(
        param_preds=torch.randn(n, num_params),
        points=torch.tensor([[12., 20.], [60., 44.], [84., 84.]])[:n],
        strides=torch.tensor([8., 16., 32.])[:n])


def _reference_masks(head, mask_feat, pos):
    """Each instance's mask head run on its own with plain matrix products
    (layer l: W_l of shape (c_out, c_in) from the flat parameter row,
    row-major, as AdelaiDet lays it out), at stride 8."""
    chans = head.layer_channels
    out = []
    for i in range(len(pos)):
        row = pos.param_preds[i]
        ws, bs, at = [], [], 0
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            ws.append(row[at:at + c_in * c_out].reshape(c_out, c_in))
            at += c_in * c_out
        for c_out in chans[1:]:
            bs.append(row[at:at + c_out])
            at += c_out
        x = mask_feat
        if head.rel_coords:
            loc = head.prior_generator.single_level_grid_priors(
                (H, W), 0, device='cpu')
            rel = relative_coordinate_maps(loc, pos.points[i:i + 1],
                                           pos.strides[i:i + 1],
                                           head.size_of_interest, (H, W))[0]
            x = torch.cat([rel, x])
        x = x.reshape(x.shape[0], -1)
        for j, (w, b) in enumerate(zip(ws, bs)):
            x = w @ x + b[:, None]
            if j < len(ws) - 1:
                x = F.relu(x)
        out.append(x.reshape(H, W))
    return torch.stack(out)


def test_mmdet_head_breaks_when_mask_channels_differ_from_width():
    """16 mask-feature channels, width 8: mmdet reshapes the first layer's
    8 biases per instance into 16 (``self.in_channels``)."""
    head = _head(CondInstMaskHead, mask_channels=16, feat_channels=8)
    pos = _positives(head.num_params)
    with pytest.raises(RuntimeError, match='shape'):
        head.forward_single(torch.rand(16, H, W), pos)


@pytest.mark.parametrize('mask_channels, width, depth, rel',
                         [(16, 8, 3, True), (8, 16, 3, True),
                          (8, 8, 3, True), (8, 8, 1, True), (8, 4, 4, False)])
def test_zoo_head_equals_per_instance_reference(mask_channels, width, depth,
                                                rel):
    head = _head(mask_channels=mask_channels, feat_channels=width,
                 num_layers=depth, rel_coords=rel, mask_out_stride=8)
    pos = _positives(head.num_params)
    torch.manual_seed(1)
    mask_feat = torch.randn(mask_channels, H, W)
    masks, = head.forward_single(mask_feat, pos)
    assert masks.shape == (3, H, W)
    ref = _reference_masks(head, mask_feat, pos)
    assert torch.allclose(masks, ref, atol=1e-5)


def test_upsampled_to_mask_out_stride():
    head = _head(mask_channels=16, feat_channels=8)  # mask_out_stride 4
    masks, = head.forward_single(torch.rand(16, H, W),
                                 _positives(head.num_params))
    assert masks.shape == (3, 2 * H, 2 * W)
    empty, = head.forward_single(torch.rand(16, H, W),
                                 _positives(head.num_params, n=0))
    assert empty.shape == (0, 2 * H, 2 * W)


def test_mmdet_head_breaks_at_depth_one():
    """Table 1a's depth 1: mmdet gives the only layer 8 outputs (88
    parameters) and then cannot run it; ours has 10 + 1."""
    mm = _head(CondInstMaskHead, num_layers=1)
    assert mm.num_params == 88
    with pytest.raises(RuntimeError):
        mm.forward_single(torch.rand(8, H, W), _positives(mm.num_params))
    assert _head(num_layers=1).num_params == 11


def test_default_is_condinsts_169_parameters():
    assert dynamic_param_count() == 169
    assert _head().num_params == 169
    assert _head().weight_nums == [80, 64, 8]
    assert _head().bias_nums == [8, 8, 1]


@pytest.mark.parametrize('kw, count', [
    # (C + 2) * w + w + (depth - 2) * (w * w + w) + w + 1
    (dict(feat_channels=16), 10 * 16 + 16 + 16 * 16 + 16 + 16 + 1),  # 465
    (dict(feat_channels=2), 10 * 2 + 2 + 2 * 2 + 2 + 2 + 1),  # 31
    (dict(num_layers=2), 10 * 8 + 8 + 8 + 1),  # 97
    (dict(num_layers=4), 169 + 8 * 8 + 8),  # 241
    (dict(rel_coords=False), 8 * 8 + 8 + 8 * 8 + 8 + 8 + 1),  # 153
    (dict(mask_channels=16), 18 * 8 + 8 + 8 * 8 + 8 + 8 + 1),  # 233
])
def test_parameter_count_follows_depth_width_and_coords(kw, count):
    assert _head(**kw).num_params == count
    assert dynamic_param_count(kw.get('mask_channels', 8),
                               kw.get('feat_channels', 8),
                               kw.get('num_layers', 3),
                               kw.get('rel_coords', True)) == count


def test_rel_coords_off_changes_first_layer_and_ignores_locations():
    on, off = _head(), _head(rel_coords=False)
    assert dynamic_layer_channels(8, 8, 3, True)[0] == 10
    assert on.layer_channels[0] == 10 and off.layer_channels[0] == 8
    assert off.weight_nums[0] == 8 * 8
    mask_feat = torch.rand(8, H, W)
    pos = _positives(off.num_params)
    moved = pos.clone()
    moved.points = moved.points + 40.
    assert torch.equal(off.forward_single(mask_feat, pos)[0],
                       off.forward_single(mask_feat, moved)[0])
    pos_on = _positives(on.num_params)
    moved_on = pos_on.clone()
    moved_on.points = moved_on.points + 40.
    assert not torch.allclose(on.forward_single(mask_feat, pos_on)[0],
                              on.forward_single(mask_feat, moved_on)[0])


def test_bad_settings_and_params_are_named():
    with pytest.raises(ValueError, match='depth=0'):
        _head(num_layers=0)
    with pytest.raises(ValueError, match='width=0'):
        _head(feat_channels=0)
    head = _head()
    with pytest.raises(ValueError, match=r'\(N, 169\)'):
        head.parse_dynamic_params(torch.rand(2, 168))
