"""The standard-op DCNv2 stand-in equals mmcv's modulated deformable conv
(offsets reaching outside the image included) and exports to a graph that
onnxruntime runs without custom ops."""
import pytest
import torch
from mmcv.ops import ModulatedDeformConv2dPack, modulated_deform_conv2d
from torch import nn

from projects.deploy.dcn import (GridSampleDCNv2, dcn_layers,
                                 modulated_deform_conv2d_standard,
                                 with_standard_dcn)
from projects.layers import ParallelDCNv2


@pytest.mark.parametrize('stride,padding,dilation,groups,deform_groups', [
    (1, 1, 1, 1, 1),  # YOLACT++'s layers
    (2, 1, 1, 2, 2),
    (1, 2, 2, 1, 1),
])
def test_equals_mmcv(stride, padding, dilation, groups, deform_groups):
    torch.manual_seed(0)
    c, c_out, h, w = 8, 6, 13, 11
    x = torch.randn(2, c, h, w)
    ho = (h + 2 * padding - 2 * dilation - 1) // stride + 1
    wo = (w + 2 * padding - 2 * dilation - 1) // stride + 1
    # offsets of several pixels: many taps fall outside the image
    offset = torch.randn(2, deform_groups * 18, ho, wo) * 4
    mask = torch.rand(2, deform_groups * 9, ho, wo)
    weight = torch.randn(c_out, c // groups, 3, 3)
    bias = torch.randn(c_out)
    ref = modulated_deform_conv2d(x, offset, mask, weight, bias, stride,
                                  padding, dilation, groups, deform_groups)
    got = modulated_deform_conv2d_standard(
        x, offset, mask, weight, bias, (stride, stride), (padding, padding),
        (dilation, dilation), groups, deform_groups)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)


def test_swap_copies_the_model_and_exports_standard_ops(tmp_path):
    import onnx
    import onnxruntime as ort
    torch.manual_seed(0)
    dcn = ModulatedDeformConv2dPack(4, 8, 3, padding=1, bias=False)
    nn.init.normal_(dcn.conv_offset.weight, std=0.5)  # non-zero offsets
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), dcn).eval()
    swapped = with_standard_dcn(model)
    assert dcn_layers(model) == ['1'] and dcn_layers(swapped) == []
    assert isinstance(swapped[1], GridSampleDCNv2) and model[1] is dcn
    x = torch.randn(1, 3, 20, 24)
    with torch.no_grad():
        ref = model(x)
        torch.testing.assert_close(swapped(x), ref, atol=1e-5, rtol=1e-4)
    path = str(tmp_path / 'dcn.onnx')
    torch.onnx.export(swapped, (x, ), path, opset_version=16, dynamo=False)
    ops = {(n.domain or 'ai.onnx', n.op_type)
           for n in onnx.load(path).graph.node}
    assert ('ai.onnx', 'GridSample') in ops
    assert {d for d, _ in ops} == {'ai.onnx'}
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    out = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    torch.testing.assert_close(torch.from_numpy(out[0]), ref, atol=1e-4,
                               rtol=1e-4)


def test_swap_takes_the_zoos_parallel_dcnv2_too():
    """YOLACT++'s layers are ParallelDCNv2 (an mmcv
    ModulatedDeformConv2dPack): export swaps them as it swaps mmcv's."""
    torch.manual_seed(0)
    dcn = ParallelDCNv2(4, 8, 3, padding=1, bias=False)
    nn.init.normal_(dcn.conv_offset.weight, std=0.5)
    model = nn.Sequential(dcn).eval()
    assert dcn_layers(model) == ['0']
    swapped = with_standard_dcn(model)
    assert isinstance(swapped[0], GridSampleDCNv2) and dcn_layers(swapped) == []
    x = torch.randn(1, 4, 12, 10)
    with torch.no_grad():
        torch.testing.assert_close(swapped(x), model(x), atol=1e-5,
                                   rtol=1e-4)
