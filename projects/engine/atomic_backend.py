"""A local file backend whose writes are atomic: temporary name, then rename.

MMEngine 0.10.7's ``LocalBackend.put`` opens the checkpoint path and writes
into it, so a run killed (SIGKILL, power loss) while a checkpoint is being
written leaves a truncated ``iter_N.pth`` under its final name, one that
``--resume`` may pick. :class:`AtomicLocalBackend` writes to a hidden
temporary file in the same directory, flushes it to disk and renames it over
the target with :func:`os.replace` (atomic on POSIX and Windows), so a
checkpoint name either holds a complete file or does not exist.

It is registered with MMEngine's documented backend registry
(:func:`mmengine.fileio.register_backend`) as ``atomic_local`` and chosen
through the checkpoint hook's ``backend_args`` in
``configs/_base_/default_runtime.py``.
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend


def atomic_write_bytes(obj: bytes, filepath: Union[str, Path]) -> None:
    """Write ``obj`` to ``filepath`` through a temporary file and a rename.

    Args:
        obj (bytes): The content.
        filepath (str | Path): The target; its directory is created.

    Raises:
        OSError: if the directory cannot be created or written; the
            temporary file is removed and ``filepath`` is left as it was.
    """
    filepath = str(filepath)
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(filepath)}.', suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(obj)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """MMEngine's ``LocalBackend`` with atomic :meth:`put` and
    :meth:`put_text`; reading, listing and removing are unchanged."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes atomically (see :func:`atomic_write_bytes`)."""
        atomic_write_bytes(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text atomically (see :func:`atomic_write_bytes`)."""
        atomic_write_bytes(obj.encode(encoding), filepath)
