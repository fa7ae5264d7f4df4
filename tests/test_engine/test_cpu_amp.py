"""bf16 mixed-precision training on CPU (``CPUBf16OptimWrapper``,
``tools/train.py --amp``) and fp32 channels-last training
(``CPUChannelsLastOptimWrapper``, ``--channels-last``): real optimisation
steps of zoo detectors on real photos."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from conftest import ROOT, TINY_CFG, real_dataset
from projects.layers.fp32_modules import Fp32Modules
from projects.engine.inference_precision import bf16_unsupported_reason
from projects.engine import (CPUBf16OptimWrapper, CPUChannelsLastOptimWrapper,
                             enable_amp, enable_channels_last)

NO_BF16 = bf16_unsupported_reason('cpu')
needs_bf16 = pytest.mark.skipif(NO_BF16 is not None,
                                reason=f'no native bf16: {NO_BF16}')


def build(cfg):
    from projects.apis import build_model
    return build_model(cfg, None, 'cpu').train()


def amp_wrapper(model, cfg, precision='bf16'):
    """The ``tools/train.py --amp`` wrapper (bf16), or the ``--channels-last``
    one (fp32)."""
    from mmengine.optim import build_optim_wrapper
    cfg = copy.deepcopy(cfg)
    if precision == 'bf16':
        assert enable_amp(cfg, 'cpu') == 'CPUBf16OptimWrapper'
    else:
        assert (enable_channels_last(cfg, 'cpu') ==
                'CPUChannelsLastOptimWrapper')
    return build_optim_wrapper(model, cfg.optim_wrapper)


def batches(cfg, n, size=None):
    ds = real_dataset(cfg, size=size)
    return [pseudo_collate([ds[2 * i], ds[2 * i + 1]]) for i in range(n)]


def step_losses(model, wrapper, data, channels_last):
    """The losses of one ``train_step`` per batch, as floats; checks that
    the conv weights are channels-last after them or not."""
    losses = [{k: float(v.detach())
               for k, v in model.train_step(d, wrapper).items()}
              for d in data]
    assert model.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last) == channels_last
    return losses


@pytest.mark.slow
@needs_bf16
def test_bf16_steps_train_in_bf16_with_fp32_state(fruits_nuts):
    cfg = Config.fromfile(TINY_CFG)
    model = build(cfg)
    wrapper = amp_wrapper(model, cfg)
    assert isinstance(wrapper, CPUBf16OptimWrapper)
    assert wrapper.clip_grad_kwargs == dict(max_norm=35, norm_type=2)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    conv_out, grad_dtypes = [], set()
    hook = model.backbone.conv1.register_forward_hook(
        lambda m, a, out: conv_out.append(out.dtype))
    # the gradients as the optimizer steps with them (zeroed after)
    wrapper.optimizer.register_step_pre_hook(
        lambda opt, args, kwargs: grad_dtypes.update(
            p.grad.dtype for g in opt.param_groups for p in g['params']
            if p.grad is not None))
    for data in batches(cfg, 3, size=256):
        losses = model.train_step(data, wrapper)
        assert not torch.is_autocast_enabled('cpu')
        assert all(torch.isfinite(v).all() for v in losses.values())
    hook.remove()
    # the convolutions ran in bf16, under the wrapper's autocast
    assert conv_out == [torch.bfloat16] * 3
    moved = [k for k, v in model.named_parameters()
             if not torch.equal(v.detach(), before[k])]
    assert len(moved) > 0.9 * len(before)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert model.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    assert grad_dtypes == {torch.float32}
    state = wrapper.optimizer.state_dict()['state']
    assert state and {s['momentum_buffer'].dtype
                      for s in state.values()} == {torch.float32}


@pytest.mark.slow
@needs_bf16
def test_channels_last_steps_compute_what_nchw_steps_compute(fruits_nuts):
    cfg = Config.fromfile(TINY_CFG)
    data = batches(cfg, 2, size=256)
    losses = {}
    for channels_last in (False, True):
        model = build(cfg)  # seeded: the same init both times
        c = copy.deepcopy(cfg)
        c.optim_wrapper.channels_last = channels_last
        losses[channels_last] = step_losses(
            model, amp_wrapper(model, c), data, channels_last)
    for nchw, nhwc in zip(losses[False], losses[True]):
        for key in nchw:
            assert nhwc[key] == pytest.approx(nchw[key], rel=0.02, abs=1e-3)


@pytest.mark.slow
def test_fp32_channels_last_steps_compute_what_plain_steps_compute(
        fruits_nuts):
    """``--channels-last`` without ``--amp``: fp32 arithmetic in another
    memory layout, so the same losses step after step (only the order of
    each convolution's sums differs), fp32 gradients, channels-last
    weights after."""
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(TINY_CFG)
    data = batches(cfg, 3, size=256)
    losses = {}
    for channels_last in (False, True):
        model = build(cfg)  # seeded: the same init both times
        wrapper = (amp_wrapper(model, cfg, 'fp32') if channels_last else
                   build_optim_wrapper(model, cfg.optim_wrapper))
        assert isinstance(wrapper, CPUChannelsLastOptimWrapper) == \
            channels_last
        losses[channels_last] = step_losses(model, wrapper, data,
                                            channels_last)
        assert {p.dtype for p in model.parameters()} == {torch.float32}
    for plain, nhwc in zip(losses[False], losses[True]):
        assert plain.keys() == nhwc.keys()
        for key in plain:
            assert nhwc[key] == pytest.approx(plain[key], rel=1e-3,
                                              abs=1e-5), key


def test_enable_channels_last_picks_the_fp32_wrapper_on_cpu_only():
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/sais/sais_r50_fpn_1xb2-200i_feral-cats-384.py'))
    cpu = copy.deepcopy(cfg)
    assert enable_channels_last(cpu, 'cpu') == 'CPUChannelsLastOptimWrapper'
    assert cpu.optim_wrapper.clip_grad == cfg.optim_wrapper.clip_grad
    assert cpu.optim_wrapper.optimizer == cfg.optim_wrapper.optimizer
    with pytest.raises(ValueError, match="CPU training only.*'cuda'"):
        enable_channels_last(copy.deepcopy(cfg), 'cuda')
    bf16 = copy.deepcopy(cfg)
    bf16.optim_wrapper.type = 'CPUBf16OptimWrapper'
    bf16.optim_wrapper.channels_last = False
    assert enable_channels_last(bf16, 'cpu') == 'CPUBf16OptimWrapper'
    assert bf16.optim_wrapper.channels_last
    other = copy.deepcopy(cfg)
    other.optim_wrapper.type = 'AmpOptimWrapper'
    with pytest.raises(ValueError, match='AmpOptimWrapper'):
        enable_channels_last(other, 'cpu')


def test_fp32_modules_run_roi_align_in_bf16_region():
    from mmcv.ops import RoIAlign
    torch.manual_seed(0)
    roi_align = RoIAlign((7, 7), spatial_scale=0.25, sampling_ratio=2,
                         aligned=True)
    conv = torch.nn.Conv2d(8, 8, 3, padding=1)
    x = torch.randn(2, 8, 32, 32)
    rois = torch.tensor([[0, 4., 4., 60., 60.], [1, 10., 20., 90., 100.]])
    with torch.autocast('cpu', dtype=torch.bfloat16):
        feats = conv(x)
        assert feats.dtype == torch.bfloat16
        with pytest.raises((RuntimeError, NotImplementedError)):
            roi_align(feats, rois)
        with Fp32Modules(roi_align, 'cpu') as islands:
            assert islands.modules == [roi_align]
            out = roi_align(feats, rois)
            # autocast is back on after the module
            assert torch.is_autocast_enabled('cpu')
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, roi_align(feats.float(), rois))
    # hooks are gone on leaving: bf16 input fails again
    with torch.autocast('cpu', dtype=torch.bfloat16), pytest.raises(
            (RuntimeError, NotImplementedError)):
        roi_align(conv(x), rois)


def test_enable_amp_picks_the_wrapper_per_device():
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/sais/sais_r50_fpn_1xb2-200i_feral-cats-384.py'))
    gpu = copy.deepcopy(cfg)
    assert enable_amp(gpu, 'cuda') == 'AmpOptimWrapper'
    assert gpu.optim_wrapper.loss_scale == 'dynamic'
    assert gpu.optim_wrapper.optimizer.lr == 0.001
    if NO_BF16 is None:
        cpu = copy.deepcopy(cfg)
        cpu.optim_wrapper.loss_scale = 'dynamic'
        assert enable_amp(cpu, 'cpu') == 'CPUBf16OptimWrapper'
        assert 'loss_scale' not in cpu.optim_wrapper
        assert cpu.optim_wrapper.clip_grad == dict(max_norm=35, norm_type=2)
        assert cpu.optim_wrapper.optimizer == cfg.optim_wrapper.optimizer
    other = copy.deepcopy(cfg)
    other.optim_wrapper.type = 'ApexOptimWrapper'
    with pytest.raises(ValueError, match='ApexOptimWrapper'):
        enable_amp(other, 'cpu')


def test_wrapper_refuses_float16():
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match='float16'):
        CPUBf16OptimWrapper(
            dtype='float16', optimizer=torch.optim.SGD(model.parameters(),
                                                       lr=0.1))


@pytest.mark.slow
@pytest.mark.parametrize('precision', [
    pytest.param('bf16', marks=needs_bf16), 'fp32'])
def test_model_predicts_after_channels_last_steps_as_a_fresh_copy(
        fruits_nuts, precision):
    """The wrappers leave the conv weights channels-last after a step;
    the same process's validation must still predict what the checkpoint
    predicts in a fresh model. BlendMask's blender runs mmcv's RoIAlign on
    the bases, whose CPU kernel reads a channels-last tensor as NCHW
    (before the fix, in-training val mask AP 0.0 where tools/test.py on
    the same weights gave 6.2)."""
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/blendmask/blendmask_r50_fpn_1xb2-200i_fruits-nuts-384.py'))
    cfg.model.test_cfg.score_thr = 0.0  # detections from a 1-step model
    model = build(cfg)
    wrapper = amp_wrapper(model, cfg, precision)
    data = batches(cfg, 1, size=256)[0]
    model.train_step(data, wrapper)
    assert model.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    from projects.engine.cpu_amp_optim_wrapper import keep_nchw_inputs
    assert keep_nchw_inputs(model) == 0  # the step gave each its hook
    fresh = build(cfg)
    fresh.load_state_dict(model.state_dict())
    assert fresh.backbone.conv1.weight.is_contiguous()
    from projects.layers.fp32_modules import fp32_only_types
    results, pooled = [], []
    for m in (model, fresh):
        m.eval()
        outs = []  # what mmcv's RoIAlign hands the blender
        hooks = [r.register_forward_hook(lambda mod, a, out: outs.append(out))
                 for r in m.modules() if isinstance(r, fp32_only_types())]
        with torch.no_grad():
            results.append(m.test_step(data)[0].pred_instances)
        for h in hooks:
            h.remove()
        pooled.append(outs)
    ours, theirs = results
    assert len(theirs) > 0 and len(pooled[1]) > 0
    for a, b in zip(*pooled):
        assert torch.allclose(a, b, atol=1e-4), float((a - b).abs().max())
    assert torch.equal(ours.labels, theirs.labels)
    assert torch.allclose(ours.scores, theirs.scores, atol=1e-4)
    assert (ours.masks != theirs.masks).float().mean() < 1e-3
