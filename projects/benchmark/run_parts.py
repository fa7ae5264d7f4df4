"""The parts of one protocol run, for a run that spans sessions.

A converged run can outlast the session (or the machine lease) it started
in: the session's end kills it, and the next ``tools/protocol.py`` resumes
it from its last checkpoint, maybe on another machine. The run's cost is
then the sum of its parts, and its record names every machine and
precision it trained with. ``parts.jsonl`` in the run's work dir keeps one
line per part, written when the part starts and again when it ends; a
part whose process was killed never writes its end, so the next part
closes it at the last write to its log (``train.out``, which MMEngine
appends to every few iterations): its wall time is then known to within
one logging interval.
"""
import json
import os
import os.path as osp
import time
from dataclasses import asdict, dataclass
from typing import List, Optional, Tuple

LEDGER = 'parts.jsonl'
LOG = 'train.out'


@dataclass
class Part:
    """One process's share of a run.

    Args:
        start (float): when it started (Unix time, s).
        device (str): where it ran, in words (``'cpu (AMD EPYC, AVX2, 2
            threads)'``).
        precision (str): ``'fp32'`` or ``'bf16'``.
        layout (str): the convolutions' memory layout, ``'NCHW'`` or
            ``'channels-last'`` (``tools/train.py --channels-last``, and
            bf16 on the CPU); ``''`` when not given.
        end (float, optional): when it ended (Unix time, s); None while it
            runs.
        ended (str): ``'finished'``, ``'failed'``, ``'killed'`` (closed by
            the next part at its log's last write) or ``''`` while it runs.
    """
    start: float
    device: str
    precision: str
    layout: str = ''
    end: Optional[float] = None
    ended: str = ''

    @property
    def wall_s(self) -> float:
        """float: its wall time (s); 0 while it runs."""
        return 0.0 if self.end is None else max(0.0, self.end - self.start)


def read_parts(work_dir: str) -> List[Part]:
    """The run's parts, oldest first (a part's later line replaces its
    first: the line its end wrote).

    Raises:
        ValueError: a line of ``parts.jsonl`` is not a part (names the
            file and line).
    """
    path = osp.join(work_dir, LEDGER)
    if not osp.isfile(path):
        return []
    parts = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                part = Part(**json.loads(line))
            except (TypeError, ValueError) as e:
                raise ValueError(f'{path}, line {n}: not a run part '
                                 f'({e})') from e
            parts[part.start] = part
    return [parts[k] for k in sorted(parts)]


def _append(work_dir: str, part: Part) -> None:
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, LEDGER), 'a') as f:
        f.write(json.dumps(asdict(part)) + '\n')


def begin_part(work_dir: str, device: str, precision: str,
               layout: str = '', now: Optional[float] = None) -> Part:
    """Starts a part: first closes a part that never ended (its process
    was killed) at the last write to ``train.out``, then records the new
    one.

    Args:
        work_dir (str): the run's MMEngine work dir.
        device (str): where this part runs, in words.
        precision (str): its training precision.
        layout (str): its convolutions' memory layout (:class:`Part`).
        now (float, optional): its start (Unix time, s); default now.

    Returns:
        Part: the new part, to pass to :func:`end_part`.
    """
    for part in read_parts(work_dir):
        if part.end is None:
            log = osp.join(work_dir, LOG)
            last = osp.getmtime(log) if osp.isfile(log) else part.start
            part.end, part.ended = max(last, part.start), 'killed'
            _append(work_dir, part)
    part = Part(start=time.time() if now is None else now, device=device,
                precision=precision, layout=layout)
    _append(work_dir, part)
    return part


def end_part(work_dir: str, part: Part, ended: str = 'finished',
             now: Optional[float] = None) -> Part:
    """Records the end of ``part`` (``'finished'`` or ``'failed'``)."""
    part.end = time.time() if now is None else now
    part.ended = ended
    _append(work_dir, part)
    return part


def summary(parts: List[Part]) -> Tuple[float, List[dict]]:
    """The run's wall time (s, every part's summed, killed and failed ones
    included: they are part of its cost) and the parts as run.json keeps
    them (``device``, ``precision``, ``layout``, ``wall_s``,
    ``ended``)."""
    kept = [dict(device=p.device, precision=p.precision, layout=p.layout,
                 wall_s=round(p.wall_s, 1), ended=p.ended) for p in parts]
    return round(sum(p.wall_s for p in parts), 1), kept
