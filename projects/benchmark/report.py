"""The benchmark's tables: the SAIS paper's Table IV and the latency
breakdown, as Markdown cells, and the cell formats every results table of
the zoo shares (:func:`median_iqr` for times, :func:`gib` for memory,
:func:`markdown`; :mod:`projects.benchmark.tables` builds on them).

Each row is the dict ``tools/benchmark.py`` builds per config (see its
JSON output); a row with ``error`` set failed and shows its error.
"""
from typing import List, Optional

import numpy as np

TABLE_COLUMNS = ('method', 'backbone', 'input size', 'AP', 'AP50', 'AP75',
                 'APs', 'APm', 'APl', 'ms/img', 'FPS', 'train memory',
                 'params', 'FLOPs', 'box AP', 'notes')
BREAKDOWN_COLUMNS = ('method', 'backbone+neck ms', 'head forward ms',
                     'post-processing ms', '(head+post) / (backbone+neck)',
                     'detections', 'train step s', 'train peak memory')
# the breakdown's last column when a row has the device-independent
# training state (projects/benchmark/saved_memory.py)
TRAIN_STATE_COLUMN = 'train state (saved+params+grads+optim)'
TRAIN_STATE_PARTS = ('saved_mib', 'params_mib', 'grads_mib',
                     'optim_state_mib')
TRAIN_STATE_NOTE = (
    'train state: MiB on one more training step at the same batch size, '
    'the same on every device: the tensors autograd holds for backward at '
    "the end of the forward (distinct storages, the model's parameters and "
    'buffers excluded) + the trainable parameters + their gradients + the '
    "optimizer's state (projects/benchmark/saved_memory.py)")


def machine_name(env: dict) -> str:
    """The machine of a benchmark ``environment`` in words: the GPU's
    name, else the CPU model and, when recorded, its vector ISA
    (``'AMD EPYC, AVX2'``); times compare only between equal names."""
    if env.get('gpu'):
        return str(env['gpu'])
    isa = f", {env['cpu_capability']}" if env.get('cpu_capability') else ''
    return f"{env.get('cpu', '?')}{isa}"


def stats(values: List[float]) -> Optional[dict]:
    """Median and interquartile range (q75 - q25) of ``values``."""
    if not values:
        return None
    q25, med, q75 = np.percentile(np.asarray(values, float), [25, 50, 75])
    return dict(median=float(med), iqr=float(q75 - q25), n=len(values))


def _fmt(v, digits=1, missing='-'):
    return missing if v is None else f'{v:.{digits}f}'


def median_iqr(s: Optional[dict], digits: int = 1) -> str:
    """A :func:`stats` result as 'median (IQR iqr)', '-' when missing."""
    if not s:
        return '-'
    return f"{s['median']:.{digits}f} (IQR {s['iqr']:.{digits}f})"


def gib(mib: Optional[float]) -> str:
    """A memory figure in MiB as '1.42 GiB' (GiB, two decimals), the one
    unit of every measured memory cell; '-' when missing or 0."""
    return f'{mib / 1024:.2f} GiB' if mib else '-'


def label(row: dict) -> str:
    """'SAIS (`name`)': the row's method and config name."""
    return f"{row.get('method', '?')} (`{row['name']}`)"


def _ap_cell(ap: Optional[dict], key: str) -> str:
    if ap is None or key not in ap:
        return 'n/a'
    return '-' if ap[key] < 0 else f'{ap[key]:.1f}'


def train_memory_mib(row: dict) -> Optional[float]:
    """Peak training memory, MiB: CUDA max allocated, else process RSS."""
    train = row.get('train') or {}
    return train.get('peak_cuda_mib', train.get('peak_rss_mib'))


def train_state_mib(row: dict) -> Optional[float]:
    """Saved tensors + parameters + gradients + optimizer state of one
    training step, MiB; None when the row has no such figures."""
    return (row.get('train') or {}).get('train_state_mib')


def has_train_state(rows: List[dict]) -> bool:
    """Whether any row has :func:`train_state_mib`."""
    return any(train_state_mib(r) is not None for r in rows)


def breakdown_columns(rows: List[dict]) -> tuple:
    """:data:`BREAKDOWN_COLUMNS`, and :data:`TRAIN_STATE_COLUMN` when a
    row has the figures (a run from before them renders as it did)."""
    return BREAKDOWN_COLUMNS + ((TRAIN_STATE_COLUMN, )
                                if has_train_state(rows) else ())


def _train_state_cell(row: dict) -> str:
    """'total MiB (saved+params+grads+optim)', '-' when missing."""
    train = row.get('train') or {}
    total = train_state_mib(row)
    if total is None:
        return '-'
    parts = '+'.join(f'{train[k]:.1f}' for k in TRAIN_STATE_PARTS)
    return f'{total:.1f} MiB ({parts})'


def head_post_ratio(row: dict) -> Optional[float]:
    """Median (head forward + post-processing) / median backbone+neck."""
    lat = row.get('latency_stats') or {}
    if not lat.get('backbone_neck'):
        return None
    return ((lat['head_forward']['median'] + lat['post']['median']) /
            lat['backbone_neck']['median'])


def _notes(row: dict) -> str:
    notes = []
    if row.get('error'):
        notes.append(f"error: {row['error'][:200]}")
    if row.get('train_error'):
        notes.append(f"training: {row['train_error']}")
    train_state_error = (row.get('train') or {}).get('train_state_error')
    if train_state_error:
        notes.append(f'train state: {train_state_error}')
    if row.get('complexity_error'):
        notes.append(f"FLOPs: {row['complexity_error']}")
    ap = row.get('ap')
    if ap and ap.get('no_detections'):
        notes.append('no detections on the test set: COCO AP 0')
    if ap and ap.get('same_checkpoint') is False:
        notes.append(f"AP tested another checkpoint ({ap['checkpoint']})")
    if ap is None and not row.get('error'):
        notes.append('no test_metrics.json (--ap-from)')
    if not row.get('checkpoint') and not row.get('error'):
        notes.append('random weights')
    return '; '.join(notes).replace('|', '/').replace('\n', ' ')


def table_row(row: dict) -> List[str]:
    """The cells of :data:`TABLE_COLUMNS` for one row."""
    ap = row.get('ap') or {}
    segm, bbox = ap.get('segm'), ap.get('bbox')
    total = (row.get('latency_stats') or {}).get('total')
    cx = row.get('complexity') or {}
    mem = train_memory_mib(row)
    return [
        label(row), row.get('backbone', '-'), row.get('input_size', '-'),
        *[_ap_cell(segm, k) for k in ('AP', 'AP50', 'AP75', 'APs', 'APm',
                                      'APl')],
        median_iqr(total),
        _fmt(1000 / total['median']) if total else '-',
        gib(mem),
        f"{cx['params'] / 1e6:.1f} M" if cx.get('params') else '-',
        f"{cx['flops'] / 1e9:.1f} G" if cx.get('flops') else '-',
        _ap_cell(bbox, 'AP'), _notes(row)
    ]


def breakdown_row(row: dict, train_state: bool = False) -> List[str]:
    """The cells of :data:`BREAKDOWN_COLUMNS` for one row, and with
    ``train_state`` that of :data:`TRAIN_STATE_COLUMN`."""
    lat = row.get('latency_stats') or {}
    train = row.get('train') or {}
    mem = train_memory_mib(row)
    before = train.get('rss_before_train_mib')
    dets = row.get('detections') or []
    return [
        label(row), median_iqr(lat.get('backbone_neck')),
        median_iqr(lat.get('head_forward')), median_iqr(lat.get('post')),
        _fmt(head_post_ratio(row), 2),
        (str(dets[0]) if min(dets) == max(dets) else
         f'{min(dets)}-{max(dets)}') if dets else '-',
        median_iqr(stats(train.get('step_s', [])), 2),
        (gib(mem) + (f' ({before / 1024:.2f} before the first step)'
                     if before and 'peak_cuda_mib' not in train else ''))
        if mem else '-'
    ] + ([_train_state_cell(row)] if train_state else [])


def markdown(columns, rows: List[List[str]]) -> str:
    """A Markdown table of ``columns`` and ``rows`` (lists of cells)."""
    lines = ['| ' + ' | '.join(columns) + ' |',
             '| ' + ' | '.join('---' for _ in columns) + ' |']
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
    return '\n'.join(lines)


__all__ = ['TABLE_COLUMNS', 'BREAKDOWN_COLUMNS', 'TRAIN_STATE_COLUMN',
           'TRAIN_STATE_NOTE', 'machine_name', 'stats', 'median_iqr', 'gib',
           'label',
           'train_memory_mib', 'train_state_mib', 'has_train_state',
           'breakdown_columns', 'head_post_ratio', 'table_row',
           'breakdown_row', 'markdown']
