"""A checkpoint that pickles a call (here ``os.system('touch MARKER')``) is
refused with a clear message in every loading path, and the call never
runs; a plain model-zoo checkpoint (state_dict + meta) still loads."""
import os
import os.path as osp

import pytest
import torch

from conftest import ROOT, TINY_CFG, run_tool
from projects.engine.checkpoint import UnsafeCheckpointError

RESUME_CFG = osp.join(ROOT, 'tests', 'configs',
                      'sais_tiny_resume_fruits_nuts.py')


class _Marker:
    """Unpickles as ``os.system('touch <path>')``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f'touch {self.path}', ))


@pytest.fixture
def evil(tmp_path):
    """(checkpoint path, marker path): a model-zoo-like checkpoint whose
    meta carries the pickled call."""
    marker = tmp_path / 'MARKER'
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={'w': torch.ones(1)},
                    meta=dict(iter=2, note=_Marker(marker))), path)
    return path, marker


def _refused(proc, marker, path):
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log[-3000:]
    assert f"refusing checkpoint '{path}'" in log, log[-3000:]
    assert 'system' in log  # names the pickled call
    assert not marker.exists()


@pytest.mark.slow
def test_tools_refuse_pickled_calls(tmp_path, evil, fruits_nuts):
    path, marker = evil
    _refused(run_tool('tools/test.py', TINY_CFG, str(path), '--work-dir',
                      str(tmp_path / 't')), marker, path)
    _refused(run_tool('tools/train.py', TINY_CFG, '--work-dir',
                      str(tmp_path / 'r'), '--resume', str(path)),
             marker, path)
    _refused(run_tool('tools/train.py', TINY_CFG, '--work-dir',
                      str(tmp_path / 'l'), '--cfg-options',
                      f'load_from={path}'), marker, path)
    auto = tmp_path / 'auto'
    auto.mkdir()
    os.link(path, auto / 'iter_2.pth')
    _refused(run_tool('tools/train.py', TINY_CFG, '--work-dir', str(auto),
                      '--resume'), marker, auto / 'iter_2.pth')


def test_benchmark_refuses_pickled_calls(evil):
    from mmengine.config import Config

    from projects.apis import build_model
    path, marker = evil
    with pytest.raises(UnsafeCheckpointError, match='system'):
        build_model(Config.fromfile(TINY_CFG), str(path), 'cpu')
    assert not marker.exists()


@pytest.mark.slow
def test_zoo_checkpoint_loads_in_benchmark_and_load_from(tmp_path,
                                                         fruits_nuts):
    from mmengine.config import Config
    from test_no_detections import zoo_style_checkpoint

    from projects.apis import build_model
    ckpt = str(tmp_path / 'zoo.pth')
    zoo_style_checkpoint(ckpt, seed=3)
    model = build_model(Config.fromfile(TINY_CFG), ckpt, 'cpu', seed=0)
    saved = torch.load(ckpt, weights_only=True)['state_dict']
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k]), k
    proc = run_tool('tools/train.py', RESUME_CFG, '--work-dir',
                    str(tmp_path / 'w'), '--cfg-options',
                    f'load_from={ckpt}', 'train_cfg.max_iters=1')
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    n = len(saved)
    assert f"load_from '{ckpt}': loaded {n} of the checkpoint's {n} " \
        'tensors' in log
