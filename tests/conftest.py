"""Shared fixtures: repository paths, the real-image data and a tiny config."""
import copy
import os
import os.path as osp
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
DATA = osp.join(ROOT, 'data')
TINY_CFG = osp.join(ROOT, 'tests', 'configs', 'sais_tiny_fruits_nuts.py')


@pytest.fixture(scope='session')
def fruits_nuts() -> str:
    """Path of the real fruits_nuts images (data/fruits_nuts)."""
    path = osp.join(DATA, 'fruits_nuts')
    if not osp.isfile(osp.join(path, 'train.json')):
        pytest.fail(f'{path} missing: run `bash tools/setup.sh` with '
                    '../shared/data present (see README, Datasets)')
    return path


def run_tool(*args, env=None, cwd=ROOT, timeout=600):
    """Run a python tool of the repository; return the CompletedProcess."""
    full_env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='2')
    full_env.update(env or {})
    return subprocess.run([sys.executable, *args],
                          cwd=cwd,
                          env=full_env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)


def fixed_size_pipeline(pipeline: list, size: int) -> list:
    """A copy of a config's pipeline that resizes to size x size and never
    flips, so tests run on small inputs and two samples of one image match."""
    pipeline = copy.deepcopy(pipeline)
    for t in pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (size, size)
        if t['type'] == 'RandomFlip':
            t['prob'] = 0.
    return pipeline
