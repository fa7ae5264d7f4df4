"""Safe checkpoint loading: mmengine's own types only, never arbitrary code."""
import io
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from conftest import ROOT
from projects.engine.checkpoint import allow_mmengine_checkpoints


def _mmengine_like_checkpoint(with_numpy=True):
    hub = MessageHub.get_instance(f'test_checkpoint_{with_numpy}')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', np.float64(0.5) if with_numpy else 0.5)
    hub.update_info('iter', 3)
    meta = dict(iter=3, epoch=0)
    if with_numpy:
        meta['seed'] = np.int64(7)
    buf = io.BytesIO()
    torch.save(
        dict(meta=meta, state_dict={'w': torch.ones(2)},
             message_hub=hub.state_dict()), buf)
    return buf.getvalue()


@pytest.mark.slow
def test_stock_torch_load_refuses_then_allowed_loads():
    data = _mmengine_like_checkpoint(with_numpy=False)
    code = ('import io,sys,torch; d=sys.stdin.buffer.read()\n'
            'try:\n torch.load(io.BytesIO(d), weights_only=True)\n'
            'except Exception as e: print(type(e).__name__, e)')
    proc = subprocess.run([sys.executable, '-c', code], input=data,
                          capture_output=True, cwd=ROOT)
    # the bug this module fixes
    assert b'Unsupported global' in proc.stdout
    assert b'HistoryBuffer' in proc.stdout
    allow_mmengine_checkpoints()
    torch.load(io.BytesIO(data), weights_only=True)
    data = _mmengine_like_checkpoint(with_numpy=True)
    state = torch.load(io.BytesIO(data), weights_only=True)
    scalars = state['message_hub']['log_scalars']
    assert isinstance(scalars['train/loss'], HistoryBuffer)
    assert scalars['train/loss'].current() == pytest.approx(0.5)


class _Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_other_globals_still_refused():
    allow_mmengine_checkpoints()
    buf = io.BytesIO()
    torch.save({'x': _Evil()}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buf, weights_only=True)


def test_getattr_stand_in_refuses_other_attributes():
    allow_mmengine_checkpoints()

    class _Sneaky:
        def __reduce__(self):
            return (getattr, (HistoryBuffer, '__init__'))

    buf = io.BytesIO()
    torch.save({'x': _Sneaky()}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match='only HistoryBuffer'):
        torch.load(buf, weights_only=True)
