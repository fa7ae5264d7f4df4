"""Pick the checkpoint ``--resume`` (auto) continues from, skipping broken
files.

MMEngine 0.10.7 resumes from the path written in ``<work_dir>/
last_checkpoint``. That pointer is written with a plain ``open``, after the
old checkpoints beyond ``max_keep_ckpts`` are removed, so a kill can leave it
empty or naming a removed file; and a checkpoint written before
:mod:`projects.engine.atomic_backend` existed may be truncated. Here every
``iter_N.pth`` / ``epoch_N.pth`` of the work dir is a candidate, newest
(largest N) first; each is opened with
:func:`projects.engine.checkpoint.load_safe_checkpoint` and an unreadable
one is skipped with a message. An unsafe one (pickled code) stops the search: it is
refused, never silently passed over.
"""
import glob
import os.path as osp
import re
from typing import Callable, List, Optional

from .checkpoint import UnreadableCheckpointError, load_safe_checkpoint

_CKPT = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


def checkpoint_candidates(work_dir: str) -> List[str]:
    """``iter_N.pth`` and ``epoch_N.pth`` of ``work_dir``, largest N first
    (iteration checkpoints before epoch ones at equal N).

    Args:
        work_dir (str): The run's work directory.

    Returns:
        list[str]: Paths; empty if there is none.
    """
    found = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        m = _CKPT.match(osp.basename(path))
        if m:
            found.append((int(m.group(2)), m.group(1) == 'iter', path))
    return [p for _, _, p in sorted(found, reverse=True)]


def find_resumable_checkpoint(
        work_dir: str,
        log: Callable[[str], None] = print) -> Optional[str]:
    """The newest readable checkpoint of ``work_dir``.

    Args:
        work_dir (str): The run's work directory.
        log (Callable[[str], None]): Where the message about each skipped
            file goes.

    Returns:
        str | None: The checkpoint to resume from; None if the work dir
        holds no readable checkpoint.

    Raises:
        UnsafeCheckpointError: the newest readable candidate pickles code.
    """
    for path in checkpoint_candidates(work_dir):
        try:
            load_safe_checkpoint(path)
        except UnreadableCheckpointError as e:
            log(f'--resume: skipping {path}: {e}; trying the previous one')
            continue
        return path
    return None
