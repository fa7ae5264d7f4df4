"""Every method of the protocol trains under ``--amp`` on CPU: two bf16
steps of its feral_cats config on real photos (resized to 256 x 256: the
model, heads and wrapper are the config's, only the photos are smaller
than its 384), and tools/train.py --amp with --resume."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, run_tool
from projects.benchmark.protocol import FERAL_CATS
from test_cpu_amp import amp_wrapper, batches, build, needs_bf16


@pytest.mark.slow
@needs_bf16
@pytest.mark.parametrize('method', FERAL_CATS.methods,
                         ids=[m.key for m in FERAL_CATS.methods])
def test_two_amp_steps_of_every_method(method):
    cfg = Config.fromfile(osp.join(ROOT, method.config))
    model = build(cfg)
    wrapper = amp_wrapper(model, cfg)
    before = {k: v.detach().clone() for k, v in model.named_parameters()
              if v.requires_grad}
    for data in batches(cfg, 2, size=256):
        losses = model.train_step(data, wrapper)
        assert not torch.is_autocast_enabled('cpu')
        bad = {k: v for k, v in losses.items()
               if not torch.isfinite(v).all()}
        assert not bad, f'{method.key}: non-finite {bad}'
        assert losses['loss'] > 0
    moved = sum(not torch.equal(v.detach(), before[k])
                for k, v in model.named_parameters() if k in before)
    assert moved > 0.5 * len(before), f'{method.key}: {moved} moved'
    assert {p.dtype for p in model.parameters()} == {torch.float32}


@pytest.mark.slow
@needs_bf16
def test_train_tool_amp_saves_and_resumes(tmp_path, fruits_nuts):
    work = str(tmp_path / 'work')
    common = [osp.join(ROOT, 'tests/configs/sais_tiny_resume_fruits_nuts.py'),
              '--work-dir', work, '--amp']
    first = run_tool('tools/train.py', *common, '--cfg-options',
                     'train_cfg.max_iters=2')
    assert first.returncode == 0, first.stderr[-3000:]
    log = first.stdout + first.stderr
    assert 'CPUBf16OptimWrapper: forward and loss under torch.autocast' \
        in log
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
    second = run_tool('tools/train.py', *common, '--resume')
    assert second.returncode == 0, second.stderr[-3000:]
    log = second.stdout + second.stderr
    assert 'resumed' in log.lower() and 'iter_2.pth' in log
    assert 'CPUBf16OptimWrapper' in log
    assert osp.isfile(osp.join(work, 'iter_6.pth'))
    assert glob.glob(osp.join(work, '*', 'vis_data'))
