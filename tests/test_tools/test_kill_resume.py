"""kill -9 at a random iteration, then ``--resume``: the run reaches
max_iters with exactly the weights of an uninterrupted run, single-process
and 2-process gloo DDP (tests/configs/sais_tiny_resume_fruits_nuts.py: 6
iterations, a checkpoint every 2, deterministic settings, 1 thread).

The SIGKILL lands right after iteration K is logged, which is also the
moment the checkpoint of an even K is being written; the resumed run starts
from the newest checkpoint that is complete.
"""
import os
import random
import re
import signal
import socket
import subprocess
import sys

import pytest
import torch

from conftest import ROOT

pytestmark = pytest.mark.slow

CFG = os.path.join(ROOT, 'tests', 'configs',
                   'sais_tiny_resume_fruits_nuts.py')
MAX_ITERS = 6
_ITER = re.compile(r'Iter\(train\) \[\s*(\d+)/')


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def _descendants(pid: int) -> list:
    """Process ids under ``pid`` (torchrun starts each worker in a session
    of its own, so killing torchrun's process group misses them)."""
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def _kill9(pid: int) -> None:
    """SIGKILL ``pid`` and every process under it, workers first."""
    for p in _descendants(pid)[::-1] + [pid]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _train(work_dir, nproc: int, *extra, kill_after=None):
    """Run tools/train.py (nproc=1) or tools/dist_train.sh; with
    ``kill_after`` SIGKILL the whole process group once that iteration is
    logged (the training processes, then the launcher). Returns
    (returncode, log)."""
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1',
               PYTHON=sys.executable, PORT=_free_port())
    if nproc == 1:
        cmd = [sys.executable, 'tools/train.py', CFG]
    else:
        cmd = ['bash', 'tools/dist_train.sh', CFG, str(nproc),
               '--cfg-options', 'env_cfg.dist_cfg.backend=gloo']
    cmd += ['--work-dir', str(work_dir), *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            m = _ITER.search(line)
            if kill_after and m and int(m.group(1)) >= kill_after:
                _kill9(proc.pid)
                break
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            _kill9(proc.pid)
            proc.wait()
    return proc.returncode, ''.join(lines)


def _weights(path) -> dict:
    return torch.load(path, map_location='cpu',
                      weights_only=False)['state_dict']


@pytest.mark.parametrize('nproc', [1, 2])
def test_kill9_then_resume_matches_uninterrupted(tmp_path, fruits_nuts,
                                                 nproc):
    kill_after = random.randint(3, MAX_ITERS - 1)
    msg = f'(killed after iteration {kill_after}, {nproc} process(es))'
    rc, log = _train(tmp_path / 'full', nproc)
    assert rc == 0, log[-3000:]

    work = tmp_path / 'killed'
    rc, log = _train(work, nproc, kill_after=kill_after)
    assert rc == -signal.SIGKILL, f'{msg} {log[-3000:]}'
    assert not (work / f'iter_{MAX_ITERS}.pth').exists(), msg
    rc, log = _train(work, nproc, '--resume')
    assert rc == 0, f'{msg} {log[-3000:]}'
    resumed = re.search(r'resumed epoch: \d+, iter: (\d+)', log)
    assert resumed, f'{msg} did not resume: {log[-3000:]}'
    start = int(resumed.group(1))
    assert start % 2 == 0 and kill_after - 2 <= start <= kill_after, msg
    assert f'Iter(train) [{MAX_ITERS}/{MAX_ITERS}]' in log, msg

    full = _weights(tmp_path / 'full' / f'iter_{MAX_ITERS}.pth')
    again = _weights(work / f'iter_{MAX_ITERS}.pth')
    assert full.keys() == again.keys()
    differ = [k for k in full if not torch.equal(full[k], again[k])]
    assert not differ, f'{msg} weights differ: {differ[:5]}'
    # no temporary file of the atomic writes is left behind
    assert not [p for p in os.listdir(work) if p.endswith('.tmp')], msg
