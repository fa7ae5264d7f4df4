"""ParallelRoIAlign against mmcv's CPU RoIAlign kernel: the same outputs
and the same gradients for the features, on a real photo and on the RoIs
that exercise each branch of mmcv's sampling (outside the map, on its last
row and column, narrower than a pixel, negative size) and of the layer's
own (a bin's samples sharing pixels with ``sampling_ratio=0``, 2 samples
several pixels apart on the wide RoIs with ``sampling_ratio=2``), and the
same Mask R-CNN and YOLO-Mask losses and gradients in a real training
step."""
import os.path as osp

import pytest
import torch
from mmcv.ops import RoIAlign, roi_align
from mmengine.config import Config

from conftest import ROOT, real_dataset, step_with_each_layer
from projects.layers import (ParallelRoIAlign, RegistrySingleRoIExtractor,
                             fp32_only_types, parallel_roi_align)

MASK_RCNN = osp.join(ROOT, 'configs', 'mask_rcnn',
                     'mask-rcnn_r50_fpn_1xb2-200i_fruits-nuts-384.py')
YOLO_MASK = osp.join(ROOT, 'configs', 'yolo_mask',
                     'yolo-mask-step1_d53_1xb2-200i_fruits-nuts-384.py')


def _edge_rois(height: int, width: int, aligned: bool) -> torch.Tensor:
    """(batch, x1, y1, x2, y2) in pixels of a stride-4 map of
    ``height x width`` feature pixels (with a negative-size RoI unless
    ``aligned``, for which mmcv's kernel refuses it)."""
    h, w = 4 * height, 4 * width
    rois = torch.tensor([
        [0, 10.0, 12.0, 90.0, 70.0],         # inside
        [1, 10.0, 12.0, 90.0, 70.0],         # the other image
        [0, -30.0, -20.0, 40.0, 30.0],       # over the top-left corner
        [1, w - 20.0, h - 25.0, w + 60.0, h + 40.0],  # over the bottom-right
        [0, w + 10.0, 5.0, w + 50.0, 40.0],  # wholly right of the map
        [0, 50.0, 50.0, 51.0, 50.5],         # narrower than a feature pixel
        [1, 60.0, 40.0, 20.0, 30.0],         # negative width and height
        [0, 0.0, 0.0, float(w), float(h)],   # the whole map
        [1, 3.0, h - 6.0, 150.0, float(h)],  # on the last row
        [0, 2.0, 2.0, 380.0, 9.0],           # long and flat
    ])
    return rois[rois[:, 3] >= rois[:, 1]] if aligned else rois


def _compare(features, rois, size, scale, ratio, aligned):
    ours_in = features.clone().requires_grad_()
    mmcv_in = features.detach().contiguous().clone().requires_grad_()
    ours = parallel_roi_align(ours_in, rois, size, scale, ratio, aligned)
    theirs = roi_align(mmcv_in, rois, size, scale, ratio, 'avg', aligned)
    assert ours.shape == theirs.shape and ours.is_contiguous()
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    grad = torch.randn_like(theirs)
    ours.backward(grad)
    theirs.backward(grad)
    assert mmcv_in.grad.abs().sum() > 0
    torch.testing.assert_close(ours_in.grad, mmcv_in.grad, atol=1e-5,
                               rtol=1e-5)


@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('ratio', [0, 2])
@pytest.mark.parametrize('size', [7, (14, 10)])
@pytest.mark.parametrize('layout', ['nchw', 'channels_last'])
def test_matches_mmcv_at_the_edges(aligned, ratio, size, layout):
    torch.manual_seed(0)
    features = torch.randn(2, 16, 24, 20)
    if layout == 'channels_last':
        features = features.contiguous(memory_format=torch.channels_last)
    _compare(features, _edge_rois(24, 20, aligned), size, 0.25, ratio,
             aligned)


def test_matches_mmcv_on_a_photo_and_its_boxes(fruits_nuts):
    cfg = Config.fromfile(MASK_RCNN)
    sample = real_dataset(cfg, size=384)[0]
    image = sample['inputs'].float()[None] / 255  # (1, 3, 384, 384)
    boxes = sample['data_samples'].gt_instances.bboxes.tensor
    rois = torch.cat([boxes.new_zeros(len(boxes), 1), boxes], 1)
    assert len(rois) >= 5
    for stride in (1, 4, 16):
        features = torch.nn.functional.avg_pool2d(image, stride)
        _compare(features, rois, 14, 1 / stride, 0, True)


def test_no_rois_give_an_empty_output():
    features = torch.randn(1, 8, 10, 10, requires_grad=True)
    out = parallel_roi_align(features, torch.zeros(0, 5), 7, 0.25)
    assert out.shape == (0, 8, 7, 7)
    out.sum().backward()
    with pytest.raises(ValueError, match=r'\(R, 5\), got \(3, 4\)'):
        parallel_roi_align(features, torch.zeros(3, 4), 7, 0.25)
    flipped = torch.tensor([[0, 1.0, 1.0, 8.0, 8.0], [0, 8.0, 1.0, 1.0, 8.0]])
    with pytest.raises(ValueError, match=r'RoI 1 \[0.0, 8.0, 1.0, 1.0, 8.0\] '
                       'has a negative width'):
        parallel_roi_align(features, flipped, 7, 0.25)
    with pytest.raises(RuntimeError, match='non-negative size'):
        roi_align(features, flipped, 7, 0.25, 0, 'avg', True)  # as mmcv's


def test_the_layer_is_mmcvs_for_the_fp32_wrappers():
    layer = ParallelRoIAlign(7, spatial_scale=0.25, sampling_ratio=0)
    assert isinstance(layer, RoIAlign)
    assert isinstance(layer, fp32_only_types())
    features = torch.randn(2, 16, 24, 20)
    rois = _edge_rois(24, 20, aligned=True)
    torch.testing.assert_close(
        layer(features, rois),
        RoIAlign(7, spatial_scale=0.25, sampling_ratio=0)(features, rois),
        atol=1e-5, rtol=1e-5)


def test_extractor_builds_a_registered_layer_by_name():
    def extractor(name):
        return RegistrySingleRoIExtractor(
            roi_layer=dict(type=name, output_size=7, sampling_ratio=0),
            out_channels=16, featmap_strides=[4, 8])

    layers = extractor('ParallelRoIAlign').roi_layers
    assert [type(m) for m in layers] == [ParallelRoIAlign] * 2
    assert [m.spatial_scale for m in layers] == [0.25, 0.125]
    assert type(extractor('RoIAlign').roi_layers[0]) is RoIAlign
    with pytest.raises(KeyError, match="'RoIAlignn' is neither in mmcv.ops"):
        extractor('RoIAlignn')


@pytest.mark.slow
def test_mask_rcnn_step_is_the_same_with_mmcvs_kernel(fruits_nuts):
    """One fp32 Mask R-CNN training step on two real photos: the losses and
    the gradients of the FPN match those with mmcv's RoIAlign."""
    cfg = Config.fromfile(MASK_RCNN)
    assert cfg.model.roi_head.mask_roi_extractor.roi_layer.type == \
        'ParallelRoIAlign'

    def use_layer(cfg, layer):
        for key in ('bbox_roi_extractor', 'mask_roi_extractor'):
            cfg.model.roi_head[key].roi_layer.type = layer

    def step(model, inputs, layer):
        assert type(model.roi_head.bbox_roi_extractor.roi_layers[0]) is (
            RoIAlign if layer == 'RoIAlign' else ParallelRoIAlign)
        losses = model(**inputs, mode='loss')
        model.parse_losses(losses)[0].backward()
        return losses, model.neck.fpn_convs[0].conv.weight.grad

    (ours, ours_grad), (theirs, theirs_grad) = step_with_each_layer(
        cfg, ('ParallelRoIAlign', 'RoIAlign'), use_layer, step)
    for key in ('loss_cls', 'loss_bbox', 'loss_mask'):
        torch.testing.assert_close(ours[key], theirs[key], atol=1e-4,
                                   rtol=1e-4)
    torch.testing.assert_close(ours_grad, theirs_grad, atol=1e-4, rtol=1e-3)


@pytest.mark.slow
def test_yolo_mask_step_is_the_same_with_mmcvs_kernel(fruits_nuts):
    """One fp32 end-to-end YOLO-Mask training step on two real photos with
    ParallelRoIAlign in its mask branch (its config keeps mmcv's, which is
    no slower there): the mask loss and the gradient of the neck level the
    branch reads match those with mmcv's RoIAlign."""
    cfg = Config.fromfile(YOLO_MASK)
    cfg.model.mask_roi_extractor.type = 'RegistrySingleRoIExtractor'
    cfg.model.train_mode = 'e2e'

    def use_layer(cfg, layer):
        cfg.model.mask_roi_extractor.roi_layer.type = layer

    def step(model, inputs, layer):
        assert type(model.mask_roi_extractor.roi_layers[0]) is (
            RoIAlign if layer == 'RoIAlign' else ParallelRoIAlign)
        losses = model(**inputs, mode='loss')
        losses['loss_mask'].backward()
        neck = model.neck.detect3.conv5.conv.weight.grad
        assert neck is not None and neck.abs().sum() > 0
        return losses['loss_mask'], neck

    (ours, ours_grad), (theirs, theirs_grad) = step_with_each_layer(
        cfg, ('ParallelRoIAlign', 'RoIAlign'), use_layer, step)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    # atol: 0.3% of the largest gradient (0.035); the two kernels sum in
    # other orders, and on an AVX2 CPU one pytest-xdist worker's run was
    # 2.4e-5 apart where another's was 3e-6.
    torch.testing.assert_close(ours_grad, theirs_grad, atol=1e-4, rtol=1e-3)
