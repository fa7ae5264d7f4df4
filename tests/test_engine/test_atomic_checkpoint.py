"""Atomic checkpoint writes and ``--resume`` (auto) skipping a broken file."""
import io
import os

import pytest
import torch
from mmengine.fileio import get_file_backend

from projects.engine.atomic_backend import AtomicLocalBackend
from projects.engine.checkpoint import (UnreadableCheckpointError,
                                        UnsafeCheckpointError,
                                        load_safe_checkpoint)
from projects.engine.resume import (checkpoint_candidates,
                                    find_resumable_checkpoint)


def _ckpt_bytes(value: float) -> bytes:
    buf = io.BytesIO()
    torch.save(dict(meta=dict(iter=2), state_dict={'w': torch.full(
        (4, ), value)}), buf)
    return buf.getvalue()


def test_runtime_checkpoint_hook_uses_the_atomic_backend():
    from mmengine.config import Config
    cfg = Config.fromfile(
        os.path.join(os.path.dirname(__file__), '..', '..', 'configs',
                     '_base_', 'default_runtime.py'))
    args = cfg.default_hooks.checkpoint.backend_args
    assert isinstance(get_file_backend('x.pth', backend_args=args),
                      AtomicLocalBackend)


def test_interrupted_write_keeps_the_old_file(tmp_path):
    """A write that dies half-way (here: the content raises while being
    written) leaves the previous checkpoint intact and no temporary file;
    mmengine's LocalBackend truncates the target first."""
    path = tmp_path / 'iter_2.pth'
    backend = AtomicLocalBackend()
    backend.put(_ckpt_bytes(1.0), path)

    with pytest.raises(TypeError):
        backend.put('not bytes', path)  # fails inside the write
    assert torch.equal(load_safe_checkpoint(str(path))['state_dict']['w'],
                       torch.ones(4))
    assert os.listdir(tmp_path) == ['iter_2.pth']
    backend.put(_ckpt_bytes(2.0), path)
    assert torch.equal(load_safe_checkpoint(str(path))['state_dict']['w'],
                       torch.full((4, ), 2.0))
    backend.put_text('iter_2.pth', tmp_path / 'last_checkpoint')
    assert (tmp_path / 'last_checkpoint').read_text() == 'iter_2.pth'


def test_resume_skips_a_truncated_checkpoint(tmp_path):
    (tmp_path / 'iter_2.pth').write_bytes(_ckpt_bytes(2.0))
    (tmp_path / 'iter_10.pth').write_bytes(_ckpt_bytes(10.0))
    (tmp_path / 'iter_12.pth').write_bytes(_ckpt_bytes(12.0)[:300])
    (tmp_path / 'last_checkpoint').write_text('')
    (tmp_path / 'notes.pth').write_bytes(b'x')
    assert [os.path.basename(p) for p in checkpoint_candidates(
        str(tmp_path))] == ['iter_12.pth', 'iter_10.pth', 'iter_2.pth']
    messages = []
    found = find_resumable_checkpoint(str(tmp_path), messages.append)
    assert found == str(tmp_path / 'iter_10.pth')  # iter_10, not iter_2
    assert len(messages) == 1
    assert 'skipping' in messages[0] and 'iter_12.pth' in messages[0]
    with pytest.raises(UnreadableCheckpointError, match='iter_12.pth'):
        load_safe_checkpoint(str(tmp_path / 'iter_12.pth'))


def test_resume_finds_nothing_in_an_empty_dir(tmp_path):
    (tmp_path / 'iter_4.pth').write_bytes(b'')
    assert find_resumable_checkpoint(str(tmp_path), lambda m: None) is None


class _Marker:
    """Pickles as a call that would create a marker file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f'touch {self.path}', ))


def test_resume_refuses_an_unsafe_checkpoint(tmp_path):
    marker = tmp_path / 'marker'
    torch.save(dict(meta=dict(x=_Marker(marker)), state_dict={}),
               tmp_path / 'iter_4.pth')
    (tmp_path / 'iter_2.pth').write_bytes(_ckpt_bytes(2.0))
    with pytest.raises(UnsafeCheckpointError,
                       match=r'refusing checkpoint .*iter_4.pth.*system'):
        find_resumable_checkpoint(str(tmp_path), lambda m: None)
    assert not marker.exists()
