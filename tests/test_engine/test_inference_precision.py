"""InferencePrecision on the tiny SAIS and a real fruits_nuts image (256 px):
bf16 runs inside the network only and gives fp32 results close to fp32's,
channels-last converts and restores the conv weights, hooks go away on
exit, and the test-time hook reaches tools/test.py."""
from types import SimpleNamespace

import pytest
import torch
from conftest import TINY_CFG, load_script, real_dataset
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch import nn

from mmdet.structures.bbox import bbox_overlaps
from projects.engine.inference_precision import (InferencePrecision,
                                                 InferencePrecisionHook,
                                                 PrecisionNotSupportedError,
                                                 bf16_unsupported_reason)
from projects.layers.stage_map import StageMap

NO_BF16 = bf16_unsupported_reason('cpu')
needs_bf16 = pytest.mark.skipif(NO_BF16 is not None,
                                reason=f'no bf16 on this CPU: {NO_BF16}')


@pytest.fixture(scope='module')
def sais(fruits_nuts):
    """(model, batch): the tiny SAIS, seeded random init, eval mode, and
    the first fruits_nuts test image at the config's 256x256."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(TINY_CFG)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    batch = pseudo_collate([real_dataset(cfg, 'test_dataloader')[0]])
    return model.eval(), batch


@pytest.fixture(scope='module')
def fp32_reference(sais):
    """(pred_instances, head outputs) of one plain fp32 predict, made once
    for the module: the tests that compare with the fp32 result take this
    one instead of predicting it again (the model is the same: every test
    leaves it as it found it, which test_exit_restores_the_model checks
    against this result)."""
    model, batch = sais
    return predict_with_heads(model, batch)


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks)
               for m in model.modules())


def predict(model, batch):
    with torch.no_grad():
        return model.test_step(batch)[0].pred_instances


def predict_with_heads(model, batch):
    """(pred_instances, what the box head's forward returns) of one
    predict, the head's outputs kept by a forward hook registered before
    any InferencePrecision sees it."""
    kept = []
    handle = model.bbox_head.register_forward_hook(
        lambda m, a, out: kept.append(out))
    try:
        res = predict(model, batch)
    finally:
        handle.remove()
    return res, kept[0]


def head_outputs(model, batch) -> list:
    """What the box head's forward returns, as a forward hook registered
    before any InferencePrecision sees it."""
    return predict_with_heads(model, batch)[1]


def point_boxes(bbox_preds) -> torch.Tensor:
    """Every location's box (-l, -t, r, b) from SAIS's per-level distances
    (1, 4, H, W): the same point for fp32 and bf16, so aligned IoU compares
    the regressions themselves."""
    d = torch.cat([p[0].flatten(1).t() for p in bbox_preds])
    return torch.cat([-d[:, :2], d[:, 2:]], 1)


@needs_bf16
def test_bf16_network_fp32_results(sais):
    model, batch = sais
    inner = []
    probe = model.backbone.conv1.register_forward_hook(
        lambda m, a, out: inner.append(out.dtype))
    try:
        # the fp32 reference, its results and its head's outputs from one
        # predict (the probe sees it run in fp32)
        ref, ref_heads = predict_with_heads(model, batch)
        with InferencePrecision(model, 'bf16'):
            heads = head_outputs(model, batch)
            res = predict(model, batch)
    finally:
        probe.remove()
    assert inner == [torch.float32, torch.bfloat16, torch.bfloat16]
    # the head's outputs reach other hooks and post-processing as fp32
    flat = [t for level in heads for t in level]
    assert flat and all(t.dtype == torch.float32 for t in flat)
    for k in ('bboxes', 'scores'):
        assert res[k].dtype == torch.float32
    assert res.masks.dtype == torch.bool
    assert res.masks.shape[1:] == ref.masks.shape[1:] == (600, 800)
    assert abs(len(res) - len(ref)) <= max(1, len(ref) // 10)
    # every location's box, bf16 regression against fp32's (random
    # weights: boxes of a few pixels, 1364 locations; bf16 keeps 8
    # significant bits, so a box moves by ~1% of its size)
    a, b = point_boxes(ref_heads[1]), point_boxes(heads[1])
    assert (a - b).abs().sum() < 0.02 * a.abs().sum()
    sized = ((a[:, 2:] - a[:, :2]) >= 0.25).all(1)
    assert sized.sum() > 100
    iou = bbox_overlaps(a[sized], b[sized], is_aligned=True)
    assert iou.median() > 0.95 and iou.quantile(0.05) > 0.85
    # the ranked scores agree to bf16's ~0.4% relative precision
    assert torch.allclose(res.scores.sort().values, ref.scores.sort().values,
                          rtol=0.03)


@needs_bf16
def test_exit_restores_the_model(sais, fp32_reference):
    model, batch = sais
    before = fp32_reference[0]  # the module's fp32 predict
    hooks = hook_count(model)
    convs = [m for m in model.modules() if type(m) is nn.Conv2d]
    weights = [m.weight.detach().clone() for m in convs]
    seen = []
    probe = model.backbone.conv1.register_forward_pre_hook(
        lambda m, args: seen.append(
            args[0].is_contiguous(memory_format=torch.channels_last)))
    try:
        with InferencePrecision(model, 'bf16', channels_last=True) as ctx:
            assert ctx.active and hook_count(model) > hooks
            assert all(m.weight.is_contiguous(
                memory_format=torch.channels_last) for m in convs)
            predict(model, batch)
    finally:
        probe.remove()
    assert seen == [True]  # the backbone's input was channels-last
    assert hook_count(model) == hooks and not ctx.active
    for m, w in zip(convs, weights):
        assert m.weight.is_contiguous() and torch.equal(m.weight, w)
    after = predict(model, batch)
    for k in ('bboxes', 'scores', 'labels', 'masks'):
        assert torch.equal(before[k], after[k]), k


@needs_bf16
@pytest.mark.parametrize('channels_last', [False, True])
def test_weights_held_in_bf16_give_autocasts_own_bits(sais, channels_last):
    """Under bf16 the network's conv weights are cast once, on entering:
    the heads' outputs are bit for bit those of plain autocast around the
    whole network (which casts every weight at every call), and a conv
    called with autocast off still computes in fp32."""
    from projects.deploy.split import network_forward
    model, batch = sais
    with torch.no_grad():
        inputs = model.data_preprocessor(batch, False)['inputs']
        if channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        conv = model.bbox_head.cls_convs[0].conv
        fp32_weight = conv.weight
        x = torch.randn(1, conv.in_channels, 8, 8)
        ref_conv = conv(x)
        # the reference: the weights in the layout the context will use
        convs = [m for m in model.modules() if type(m) is nn.Conv2d]
        fmt = torch.channels_last if channels_last else \
            torch.contiguous_format
        for m in convs:
            m.weight.data = m.weight.data.contiguous(memory_format=fmt)
        try:
            with torch.autocast('cpu', dtype=torch.bfloat16):
                ref = network_forward(model, inputs)
        finally:
            for m in convs:
                m.weight.data = m.weight.data.contiguous()
        with InferencePrecision(model, 'bf16', channels_last=channels_last):
            assert model.backbone.conv1.weight.dtype == torch.bfloat16
            assert conv.weight.dtype == torch.bfloat16
            out = network_forward(model, inputs)
            direct = conv(x)  # no network module around it: no autocast
            assert direct.dtype == torch.float32
            # fp32 (bf16 weights would be ~1e-2 off; channels-last
            # weights change fp32's summation order only)
            assert torch.allclose(direct, ref_conv, rtol=1e-5, atol=1e-6)
            assert conv.weight.dtype == torch.bfloat16
    assert len(out) == len(ref)
    for a, b in zip(out, ref):
        assert a.dtype == torch.float32
        assert torch.equal(a, b.float())
    assert conv.weight.dtype == torch.float32
    assert torch.equal(conv.weight, fp32_weight)


def test_fp32_channels_last_close_and_fp32_is_a_no_op(sais,
                                                     fp32_reference):
    model, batch = sais
    hooks = hook_count(model)
    ref = fp32_reference[0]
    with InferencePrecision(model, 'fp32'):
        assert hook_count(model) == hooks
    with InferencePrecision(model, 'fp32', channels_last=True):
        assert hook_count(model) == hooks + 1  # the input's layout only
        res = predict(model, batch)
    assert torch.allclose(res.scores, ref.scores, rtol=1e-4, atol=1e-6)
    assert torch.allclose(res.bboxes, ref.bboxes, atol=1e-2)


@needs_bf16
def test_nested_network_modules_count_once(sais):
    """backbone.layer1 runs inside backbone: only the outer call leaves
    autocast and casts, so layer1's own output stays bf16."""
    model, batch = sais
    dtypes = {}

    def keep(name, out):
        dtypes[name] = out.dtype

    handles = [
        getattr(model.backbone, name).register_forward_hook(
            lambda m, a, out, name=name: keep(name, out))
        for name in ('layer1', 'layer4')
    ] + [model.backbone.register_forward_hook(
        lambda m, a, out: keep('backbone', out[-1]))]
    nested = StageMap(backbone_neck=('backbone', 'backbone.layer1'),
                      head_forward=())
    try:
        with InferencePrecision(model, 'bf16', stage_map=nested):
            predict(model, batch)
    finally:
        for h in handles:
            h.remove()
    assert dtypes == dict(layer1=torch.bfloat16, layer4=torch.bfloat16,
                          backbone=torch.float32)


def test_errors_name_the_value(sais):
    model, _ = sais
    with pytest.raises(ValueError, match="'fp16'"):
        InferencePrecision(model, 'fp16')
    with pytest.raises(ValueError, match="'int8'"):
        InferencePrecisionHook('int8')
    meta = nn.Conv2d(3, 3, 3, device='meta')
    with pytest.raises(PrecisionNotSupportedError, match="'meta'"):
        InferencePrecision(meta, 'bf16')
    ctx = InferencePrecision(model, 'fp32', channels_last=True)
    with ctx:
        with pytest.raises(RuntimeError, match='already entered'):
            ctx.__enter__()


@needs_bf16
def test_test_hook_and_tools_test_option(sais):
    """tools/test.py --precision bf16 --channels-last adds the hook (its
    module imported by the dumped config); the hook enters in before_test
    and leaves in after_test."""
    from mmdet.registry import HOOKS
    model, batch = sais
    tool = load_script('tools/test.py')
    cfg = Config.fromfile(TINY_CFG)
    tool.add_precision_hook(cfg, 'fp32', False)
    assert not cfg.get('custom_hooks')
    tool.add_precision_hook(cfg, 'bf16', True)
    assert 'projects.engine.inference_precision' in cfg.custom_imports.imports
    hook = HOOKS.build(cfg.custom_hooks[-1])  # found from mmdet's scope
    assert isinstance(hook, InferencePrecisionHook)
    assert tool.parse_args(['c.py', 'x.pth', '--precision', 'bf16',
                            '--channels-last']).precision == 'bf16'
    hooks = hook_count(model)
    runner = SimpleNamespace(model=model, logger=SimpleNamespace(
        info=lambda msg: None))
    hook.before_test(runner)
    try:
        assert hook_count(model) > hooks
        assert model.backbone.conv1.weight.is_contiguous(
            memory_format=torch.channels_last)
        assert predict(model, batch).bboxes.dtype == torch.float32
    finally:
        hook.after_test(runner)
    assert hook_count(model) == hooks
    assert model.backbone.conv1.weight.is_contiguous()


@needs_bf16
def test_deformable_convs_get_contiguous_fp32():
    """mmcv's DCNv2 (YOLACT++) has no bf16 CPU kernel and reads its input
    as NCHW: under bf16 and channels-last it gets contiguous fp32 inputs
    with autocast off, between bf16 convs, and computes what it did."""
    from mmcv.ops import ModulatedDeformConv2dPack
    torch.manual_seed(0)
    model = nn.Module()
    model.backbone = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        ModulatedDeformConv2dPack(8, 8, 3, padding=1),
        nn.Conv2d(8, 4, 3, padding=1))
    model.eval()
    x = torch.randn(1, 3, 24, 24)
    seen = {}
    handles = [model.backbone[i].register_forward_hook(
        lambda m, a, out, i=i: seen.__setitem__(i, (a[0].dtype, out.dtype)))
        for i in (2, 3)]
    with torch.no_grad():
        ref = model.backbone(x)
        with InferencePrecision(model, 'fp32', channels_last=True):
            fp32_cl = model.backbone(x)
        with InferencePrecision(model, 'bf16', channels_last=True):
            out = model.backbone(x)
    for h in handles:
        h.remove()
    assert seen[2] == (torch.float32, torch.float32)  # the DCN, in fp32
    assert seen[3] == (torch.float32, torch.bfloat16)  # autocast again
    assert torch.allclose(fp32_cl, ref, rtol=1e-4, atol=1e-5)
    assert out.dtype == torch.float32
    scale = ref.abs().max()
    assert (out - ref).abs().max() < 0.05 * scale
