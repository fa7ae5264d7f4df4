"""Read the scalars MMEngine's ``LocalVisBackend`` wrote in a work dir.

Every (resumed) run of a work dir writes its own
``<timestamp>/vis_data/scalars.json``: one JSON record per line, a
training record with ``iter`` and ``step``, a validation record with
``step`` only. The resume hook, the protocol's report and the training
speed benchmark all read these files; this is their one reader.
"""
import glob
import json
import os.path as osp
from typing import Iterator, Optional


def scalar_records(work_dir: str,
                   skip_dir: Optional[str] = None) -> Iterator[dict]:
    """Every record under ``work_dir``, run by run in timestamp order and
    line by line within a run.

    A line that is not a JSON object is skipped: a run killed while
    MMEngine wrote a record leaves half a line behind, and the records
    before it (and the resumed run's after it) still hold.

    Args:
        work_dir (str): an MMEngine work dir.
        skip_dir (str, optional): a ``<timestamp>`` folder name to leave
            out (e.g. the current run's own).

    Yields:
        dict: one record as MMEngine logged it.
    """
    pattern = osp.join(work_dir, '*', 'vis_data', 'scalars.json')
    for path in sorted(glob.glob(pattern)):
        if skip_dir and osp.basename(
                osp.dirname(osp.dirname(path))) == skip_dir:
            continue
        with open(path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:  # blank or cut short
                    continue
                if isinstance(rec, dict):
                    yield rec
