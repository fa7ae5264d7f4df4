"""The gather DCNv2 against mmcv's modulated deformable conv: the same
outputs and the same gradients for the input, offsets, mask and weights
(offsets reaching outside the image, and zero offsets, whole-pixel
positions, included); ParallelDCNv2 as a drop-in for mmcv's
ModulatedDeformConv2dPack, and YOLACT++'s training step the same with
either."""
import os.path as osp

import pytest
import torch
from mmcv.ops import ModulatedDeformConv2dPack, modulated_deform_conv2d
from mmengine.config import Config

from conftest import ROOT, step_with_each_layer
from projects.layers import (ParallelDCNv2, fp32_only_types,
                             modulated_deform_conv2d_gather)

YOLACTPP = osp.join(ROOT, 'configs', 'yolact',
                    'yolactpp_r50-dcn_fpn_1xb2-200i_feral-cats-384.py')


@pytest.mark.parametrize('scale', [4.0, 0.0])
@pytest.mark.parametrize('stride,padding,dilation,groups,deform_groups', [
    (1, 1, 1, 1, 1),  # YOLACT++'s layers
    (2, 1, 1, 1, 1),  # YOLACT++'s first C3 block
    (2, 1, 1, 2, 2),
    (1, 2, 2, 1, 1),
])
def test_equals_mmcv_with_gradients(stride, padding, dilation, groups,
                                    deform_groups, scale):
    torch.manual_seed(0)
    c, c_out, h, w = 8, 6, 13, 11
    ho = (h + 2 * padding - 2 * dilation - 1) // stride + 1
    wo = (w + 2 * padding - 2 * dilation - 1) // stride + 1
    # offsets of several pixels (many taps fall outside the image), or
    # none (every tap on a whole pixel: the offset gradient is one-sided)
    inputs = [torch.randn(2, c, h, w),
              torch.randn(2, deform_groups * 18, ho, wo) * scale,
              torch.rand(2, deform_groups * 9, ho, wo),
              torch.randn(c_out, c // groups, 3, 3), torch.randn(c_out)]
    grad = torch.randn(2, c_out, ho, wo)
    ref_in = [t.clone().requires_grad_() for t in inputs]
    ref = modulated_deform_conv2d(*ref_in, stride, padding, dilation, groups,
                                  deform_groups)
    got_in = [t.clone().requires_grad_() for t in inputs]
    got = modulated_deform_conv2d_gather(
        *got_in, (stride, stride), (padding, padding), (dilation, dilation),
        groups, deform_groups)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    ref.backward(grad)
    got.backward(grad)
    for name, a, b in zip(('input', 'offset', 'mask', 'weight', 'bias'),
                          got_in, ref_in):
        assert b.grad.abs().sum() > 0, name
        torch.testing.assert_close(a.grad, b.grad, atol=1e-3, rtol=1e-4,
                                   msg=lambda m: f'{name}: {m}')


def test_layer_is_a_drop_in_for_mmcvs_pack():
    torch.manual_seed(0)
    ours = ParallelDCNv2(8, 16, 3, stride=2, padding=1, bias=False)
    torch.nn.init.normal_(ours.conv_offset.weight, std=0.3)
    theirs = ModulatedDeformConv2dPack(8, 16, 3, stride=2, padding=1,
                                       bias=False)
    theirs.load_state_dict(ours.state_dict())  # the same keys
    assert isinstance(ours, fp32_only_types())
    x = torch.randn(2, 8, 20, 18)
    grads = []
    for layer in (ours, theirs):
        out = layer(x)
        out.square().sum().backward()
        grads.append((out.detach(), layer.weight.grad,
                      layer.conv_offset.weight.grad))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-4)


@pytest.mark.slow
def test_yolactpp_config_builds_parallel_dcnv2():
    from projects.apis import build_model
    model = build_model(Config.fromfile(YOLACTPP), None, 'cpu')
    layers = [n for n, m in model.named_modules()
              if isinstance(m, ModulatedDeformConv2dPack)]
    # blocks 0 and 3 of C3, C4 and C5 (interval 3; C5 has 3 blocks)
    assert len(layers) == 5, layers
    assert all(type(model.get_submodule(n)) is ParallelDCNv2 for n in layers)


@pytest.mark.slow
def test_yolactpp_is_the_same_with_mmcvs_kernel(fruits_nuts):
    """YOLACT++ as built for training (zero offsets, whole-pixel samples)
    on two real photos, with ParallelDCNv2 and with mmcv's DCNv2: the same
    losses, and the same gradients of every deformable layer's weights and
    offset conv through the backbone. (Random offsets are compared op by
    op above: through the model, mmcv's own gradients already move well
    beyond rounding when the input moves by 1e-6, as samples cross pixel
    cells.)"""
    cfg = Config.fromfile(YOLACTPP)

    def use_layer(cfg, layer):
        cfg.model.backbone.dcn.type = layer

    def step(model, inputs, layer):
        dcns = [m for m in model.modules()
                if isinstance(m, ModulatedDeformConv2dPack)]
        assert len(dcns) == 5
        assert all((type(m) is ParallelDCNv2) == (layer == 'ParallelDCNv2')
                   for m in dcns)
        with torch.no_grad():
            losses = model(**inputs, mode='loss')
        feats = model.backbone(inputs['inputs'])
        gen = torch.Generator().manual_seed(2)  # a fixed random projection
        sum((f * torch.randn(f.shape, generator=gen)).sum()
            for f in feats).backward()
        return losses, [g for m in dcns for g in (
            m.weight.grad, m.conv_offset.weight.grad)]

    results = step_with_each_layer(cfg, ('ParallelDCNv2', 'DCNv2'),
                                   use_layer, step)
    (ours, ours_grads), (theirs, theirs_grads) = results
    assert set(ours) == set(theirs)
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], atol=1e-4,
                                   rtol=1e-4, msg=lambda m: f'{key}: {m}')
    for i, (a, b) in enumerate(zip(ours_grads, theirs_grads)):
        assert b.norm() > 0, i
        assert (a - b).norm() < 1e-5 * b.norm(), (
            i, float((a - b).norm() / b.norm()))
