"""The flat-output layout of the heads, the detector dispatch and its
errors, fixed-shape padding and the detection matching used to compare
PyTorch with onnxruntime."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from torch import nn

from conftest import ROOT, TINY_CFG
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
from projects.deploy import (match_detections, network_forward,
                             network_output_names, pad_batch,
                             postprocess_modules)
from projects.deploy.inputs import fixed_input_shape
from projects.deploy.layout import (LEVELS, SINGLE, TRAIN_ONLY, HeadOutputs,
                                    flatten, head_outputs, unflatten)
from projects.deploy.split import detector_split
from projects.sais import SAISMaskHead
from projects.yolact import YOLACTPlusPlusProtonet


def test_flatten_unflatten_round_trip_with_levels_and_train_only():
    box = HeadOutputs((('cls', LEVELS), ('reg', LEVELS)))
    mask = HeadOutputs((('protos', SINGLE), ('sem', TRAIN_ONLY)))
    cls = [torch.full((1, 2, s, s), float(s)) for s in (8, 4, 2)]
    reg = [torch.full((1, 4, s, s), -float(s)) for s in (8, 4, 2)]
    protos = torch.rand(1, 3, 16, 16)
    flat = flatten((cls, reg), box) + flatten((protos, None), mask)
    assert len(flat) == 7
    (cls2, reg2), (protos2, sem2) = unflatten(flat, [box, mask])
    assert all(a is b for a, b in zip(cls + reg, cls2 + reg2))
    assert protos2 is protos and sem2 is None
    with pytest.raises(ValueError, match='only computed in training'):
        flatten((protos, protos), mask)
    with pytest.raises(ValueError, match='do not fit'):
        unflatten(flat[:-1], [box, mask])


def test_head_layout_follows_the_mro_and_unknown_heads_are_named():
    assert head_outputs(SAISMaskHead()).groups == (('prototypes', SINGLE), )

    class Derived(YOLACTPlusPlusProtonet):
        pass

    layout = head_outputs(Derived.__new__(Derived))  # not built: its class
    assert layout.split and layout.post_modules == ('maskiou_net', )
    with pytest.raises(NotImplementedError, match='Linear: no ONNX output'):
        head_outputs(nn.Linear(1, 1))


def test_unsupported_detector_is_refused_by_name():
    with pytest.raises(NotImplementedError,
                       match='Sequential: no network/post-processing split'):
        detector_split(nn.Sequential())


def test_network_outputs_of_the_tiny_sais_are_named_by_head_and_level():
    register_all_modules()
    model = MODELS.build(Config.fromfile(TINY_CFG).model).eval()
    with torch.no_grad():
        outs = network_forward(model, torch.zeros(1, 3, 64, 64))
    names = network_output_names(model, len(outs))
    assert len(names) == len(outs) == 4 * 5 + 1
    shapes = dict(zip(names, (tuple(o.shape) for o in outs)))
    assert shapes['bbox_head.cls_scores.0'] == (1, 3, 8, 8)  # stride 8
    assert shapes['bbox_head.coeff_preds.4'] == (1, 8, 1, 1)  # stride 128
    assert shapes['mask_head.prototypes'] == (1, 8, 16, 16)  # stride 4
    assert postprocess_modules(model) == []


def test_pad_batch_pads_bottom_right_and_records_the_shape():
    x = torch.ones(1, 3, 320, 288)
    sample = DetDataSample(metainfo=dict(batch_input_shape=(320, 288),
                                         img_shape=(320, 280)))
    out, [s] = pad_batch(x, [sample], (384, 384), pad_value=0.)
    assert out.shape == (1, 3, 384, 384)
    assert out[..., :320, :288].eq(1).all() and out[..., 320:, :].eq(0).all()
    assert out[..., 288:].eq(0).all()
    assert s.batch_input_shape == (384, 384) and s.pad_shape == (384, 384)
    assert s.img_shape == (320, 280)
    with pytest.raises(ValueError, match='does not fit the fixed input'):
        pad_batch(torch.ones(1, 3, 416, 384), [sample], (384, 384))


def test_fixed_input_shape_from_the_config():
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py'))
    assert fixed_input_shape(cfg) == (384, 384)
    coco = Config.fromfile(osp.join(
        ROOT, 'configs/sais/sais_r50_fpn_8xb2-1x_coco-1333x800.py'))
    with pytest.raises(ValueError, match='--shape H W'):
        fixed_input_shape(coco)


def _dets(boxes, scores, labels, masks=None):
    d = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float),
                     scores=torch.tensor(scores),
                     labels=torch.tensor(labels))
    if masks is not None:
        d.masks = masks
    return d


def test_match_detections_by_label_and_box_not_by_rank():
    masks = torch.zeros(3, 8, 8, dtype=torch.bool)
    masks[0, :4, :4] = masks[1, 4:, 4:] = True
    masks[2, 0, 0] = True
    ref = _dets([[0, 0, 4, 4], [4, 4, 8, 8], [1, 1, 1, 1]], [.9, .8, .7],
                [0, 1, 1], masks)
    # the same detections, the first two swapped, one mask pixel off
    test_masks = masks[[1, 0, 2]].clone()
    test_masks[1, 0, 0] = False
    test = _dets([[4, 4, 8, 8], [0, 0, 4, 4], [1, 1, 1, 1.0001]],
                 [.8, .9, .7], [1, 0, 1], test_masks)
    agree = match_detections(ref, test)
    assert agree['matched'] == 3
    assert agree['min_box_iou'] > 0.99  # the zero-area box: equal boxes
    assert agree['min_mask_iou'] == pytest.approx(15 / 16)
    # another label or a far box is no match
    test.labels[0] = 0
    test.bboxes[2] += 5
    agree = match_detections(ref, test)
    assert agree['matched'] == 1 and agree['num_test'] == 3
