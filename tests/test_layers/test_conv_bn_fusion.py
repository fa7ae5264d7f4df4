"""Conv + BN folding (projects/layers/conv_bn_fusion.py) on the tiny SAIS (a
ResNet-18 with BN statistics made non-trivial) and a real fruits_nuts
image: the folded model predicts what the model does, leaving restores it
bit for bit, only BNs that follow their conv are folded (mmcv's
``fuse_conv_bn`` folds a ConvModule's post-activation BN too), and the
option reaches InferencePrecision, its test hook and tools/test.py."""
import copy

import pytest
import torch
from conftest import TINY_CFG, load_script, real_dataset
from mmcv.cnn import ConvModule, fuse_conv_bn
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from projects.layers.conv_bn_fusion import FusedConvBN, conv_bn_pairs
from projects.engine.inference_precision import (InferencePrecision,
                                                 bf16_unsupported_reason)


def randomise_bn(model: nn.Module, seed: int = 0) -> None:
    """Trained-looking BN statistics and affine parameters (random init
    has mean 0, var 1, weight 1, bias 0: folding would barely change
    anything)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


@pytest.fixture(scope='module')
def sais(fruits_nuts):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(TINY_CFG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    randomise_bn(model)
    batch = pseudo_collate([real_dataset(cfg, 'test_dataloader')[0]])
    return model.eval(), batch


def predict(model, batch):
    with torch.no_grad():
        return model.test_step(batch)[0].pred_instances


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_folded_model_predicts_the_same_and_exit_restores(sais):
    model, batch = sais
    state, ref = snapshot(model), predict(model, batch)
    bns = [m for m in model.backbone.modules() if isinstance(m, _BatchNorm)]
    assert len(bns) == 20  # ResNet-18: stem, 16 in the blocks, 3 shortcuts
    with FusedConvBN(model) as fused:
        assert fused.num_folded == 20
        assert not any(isinstance(m, _BatchNorm) for m in model.modules())
        assert model.backbone.conv1.bias is not None
        out = predict(model, batch)
    assert fused.num_folded == 0 and not fused.active
    assert model.backbone.conv1.bias is None
    assert [m for m in model.backbone.modules()
            if isinstance(m, _BatchNorm)] == bns
    after = snapshot(model)
    assert after.keys() == state.keys()
    assert all(torch.equal(after[k], state[k]) for k in state)
    assert len(ref.bboxes) == len(out.bboxes) > 0
    assert torch.allclose(out.scores, ref.scores, atol=1e-4)
    assert torch.allclose(out.bboxes, ref.bboxes, atol=1e-2)
    assert torch.equal(out.labels, ref.labels)
    assert (out.masks != ref.masks).float().mean() < 1e-3
    again = predict(model, batch)
    for k in ('bboxes', 'scores', 'masks'):
        assert torch.equal(again[k], ref[k]), k


@pytest.mark.parametrize('order,folds', [
    (('conv', 'norm', 'act'), True),
    (('conv', 'act', 'norm'), False),
    (('norm', 'conv', 'act'), False),
])
def test_only_a_bn_right_after_its_conv_is_folded(order, folds):
    torch.manual_seed(0)
    block = ConvModule(8, 8, 3, padding=1, norm_cfg=dict(type='BN'),
                       order=order)
    randomise_bn(block)
    block.eval()
    x = torch.randn(2, 8, 12, 12)
    with torch.no_grad():
        ref = block(x)
        assert len(conv_bn_pairs(block)) == int(folds)
        with FusedConvBN(block):
            ours = block(x)
        mmcv_out = fuse_conv_bn(copy.deepcopy(block))(x)
    assert torch.allclose(ours, ref, atol=1e-5)
    # mmcv pairs the conv with the BN registered after it whatever the order
    assert torch.allclose(mmcv_out, ref, atol=1e-5) == folds


def test_skips_training_bns_and_non_adjacent_pairs():
    seq = nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU(), nn.BatchNorm2d(4),
                        nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4))
    assert [(p, c, b) for p, c, b in conv_bn_pairs(seq.eval())] == [
        (seq, '3', '4')]
    seq.train()
    assert conv_bn_pairs(seq) == []
    with FusedConvBN(seq) as fused:
        assert fused.num_folded == 0
    with pytest.raises(RuntimeError, match='already entered'):
        with fused:
            fused.__enter__()


@pytest.mark.skipif(bf16_unsupported_reason('cpu') is not None,
                    reason='no bf16 on this CPU')
def test_inference_precision_folds_and_unfolds(sais):
    model, batch = sais
    state, ref = snapshot(model), predict(model, batch)
    with InferencePrecision(model, 'bf16', channels_last=True,
                            fuse_conv_bn=True):
        assert not any(isinstance(m, _BatchNorm)
                       for m in model.backbone.modules())
        # the folded weight is the one held in bf16, channels-last
        w = model.backbone.conv1.weight
        assert w.dtype == torch.bfloat16
        assert w.is_contiguous(memory_format=torch.channels_last)
        out = predict(model, batch)
    after = snapshot(model)
    assert all(torch.equal(after[k], state[k]) for k in state)
    assert model.backbone.conv1.weight.is_contiguous()
    assert out.bboxes.dtype == torch.float32 and len(out.bboxes) > 0
    # bf16's 8-bit significand: scores agree to about 1%
    assert torch.allclose(out.scores.sort().values,
                          ref.scores.sort().values, rtol=0.03, atol=1e-3)


def test_test_tool_option_reaches_the_hook():
    from mmdet.registry import HOOKS
    tool = load_script('tools/test.py')
    args = tool.parse_args(['c.py', 'x.pth', '--fuse-conv-bn'])
    assert args.fuse_conv_bn
    cfg = Config.fromfile(TINY_CFG)
    tool.add_precision_hook(cfg, 'fp32', False, fuse_conv_bn=True)
    hook = HOOKS.build(cfg.custom_hooks[-1])
    assert hook.fuse_conv_bn and hook.precision == 'fp32'
    with pytest.raises(SystemExit):
        tool.parse_args(['c.py', 'x.pth', '--fuse-conv-bn', '--onnx',
                         'm.onnx'])
