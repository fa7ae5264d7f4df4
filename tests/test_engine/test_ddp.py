"""Two-process DDP (torchrun, gloo backend, CPU) through tools/dist_train.sh."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, TINY_CFG

# every test here runs a tool in a subprocess: the slow tier
pytestmark = pytest.mark.slow


def test_two_process_gloo_training(tmp_path, fruits_nuts):
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               PORT='29533')
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', TINY_CFG, '2', '--work-dir',
         str(tmp_path), '--cfg-options', 'env_cfg.dist_cfg.backend=gloo'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log
    assert 'MMDistributedDataParallel' in log
    assert (tmp_path / 'iter_2.pth').is_file()
