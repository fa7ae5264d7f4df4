"""The benchmark's outputs: the SAIS paper's Table IV as Markdown, the
latency breakdown, the headline ratios and the latency-AP plot.

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
# SAIS paper, Table IV: peak training memory of SAIS and YOLACT, GB
PAPER_MEMORY_GB = dict(SAIS=1.8, YOLACT=3.8)


def stats(values: List[float]) -> Optional[dict]:
    """Median and interquartile range (q75 - q25) of ``values``."""
    if not values:
        return None
    q25, med, q75 = np.percentile(np.asarray(values, float), [25, 50, 75])
    return dict(median=float(med), iqr=float(q75 - q25), n=len(values))


def _fmt(v, digits=1, missing='-'):
    return missing if v is None else f'{v:.{digits}f}'


def _median_iqr(s: Optional[dict], digits: int = 1) -> str:
    """A :func:`stats` result as 'median (IQR iqr)', '-' when missing."""
    if not s:
        return '-'
    return f"{s['median']:.{digits}f} (IQR {s['iqr']:.{digits}f})"


def _label(row: dict) -> str:
    return f"{row.get('method', '?')} (`{row['name']}`)"


def _ap_cell(ap: Optional[dict], key: str) -> str:
    if ap is None or key not in ap:
        return 'n/a'
    return '-' if ap[key] < 0 else f'{ap[key]:.1f}'


def train_memory_mib(row: dict) -> Optional[float]:
    """Peak training memory, MiB: CUDA max allocated, else process RSS."""
    train = row.get('train') or {}
    return train.get('peak_cuda_mib', train.get('peak_rss_mib'))


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
        _label(row), row.get('backbone', '-'), row.get('input_size', '-'),
        *[_ap_cell(segm, k) for k in ('AP', 'AP50', 'AP75', 'APs', 'APm',
                                      'APl')],
        _median_iqr(total),
        _fmt(1000 / total['median']) if total else '-',
        f'{mem / 1024:.2f} GiB' if mem else '-',
        f"{cx['params'] / 1e6:.1f} M" if cx.get('params') else '-',
        f"{cx['flops'] / 1e9:.1f} G" if cx.get('flops') else '-',
        _ap_cell(bbox, 'AP'), _notes(row)
    ]


def breakdown_row(row: dict) -> List[str]:
    """The cells of :data:`BREAKDOWN_COLUMNS` for one row."""
    lat = row.get('latency_stats') or {}
    train = row.get('train') or {}
    mem = train_memory_mib(row)
    before = train.get('rss_before_train_mib')
    dets = row.get('detections') or []
    return [
        _label(row), _median_iqr(lat.get('backbone_neck')),
        _median_iqr(lat.get('head_forward')), _median_iqr(lat.get('post')),
        _fmt(head_post_ratio(row), 2),
        (str(dets[0]) if min(dets) == max(dets) else
         f'{min(dets)}-{max(dets)}') if dets else '-',
        _median_iqr(stats(train.get('step_s', [])), 2),
        (f'{mem / 1024:.2f} GiB' + (f' ({before / 1024:.2f} before the '
                                    'first step)' if before and
                                    'peak_cuda_mib' not in train else ''))
        if mem else '-'
    ]


def markdown(columns, rows: List[List[str]]) -> str:
    """A Markdown table of ``columns`` and ``rows`` (lists of cells)."""
    lines = ['| ' + ' | '.join(columns) + ' |',
             '| ' + ' | '.join('---' for _ in columns) + ' |']
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
    return '\n'.join(lines)


def memory_ratios(rows: List[dict]) -> List[dict]:
    """SAIS / YOLACT peak training memory for every input size at which
    both were measured (SAIS paper, Table IV: 1.8 GB / 3.8 GB)."""
    out = []
    for sais in rows:
        if sais.get('method') != 'SAIS' or not train_memory_mib(sais):
            continue
        for yolact in rows:
            if (yolact.get('method') == 'YOLACT'
                    and yolact.get('input_size') == sais.get('input_size')
                    and train_memory_mib(yolact)):
                s, y = train_memory_mib(sais), train_memory_mib(yolact)
                r = dict(sais=sais['name'], yolact=yolact['name'],
                         input_size=sais['input_size'], sais_mib=s,
                         yolact_mib=y, ratio=s / y,
                         paper_ratio=PAPER_MEMORY_GB['SAIS'] /
                         PAPER_MEMORY_GB['YOLACT'])
                sb = sais['train'].get('rss_before_train_mib')
                yb = yolact['train'].get('rss_before_train_mib')
                if 'peak_cuda_mib' not in sais['train'] and sb and yb:
                    r['training_part_ratio'] = (s - sb) / (y - yb)
                out.append(r)
    return out


def headline(rows: List[dict]) -> str:
    """The two headline ratios as Markdown."""
    lines = ['**SAIS / YOLACT peak training memory** (paper, Table IV: '
             '1.8 GB / 3.8 GB = 0.47):']
    ratios = memory_ratios(rows)
    for r in ratios:
        extra = ''
        if 'training_part_ratio' in r:
            extra = (f"; growth over the memory before the first step: "
                     f"{r['training_part_ratio']:.2f}")
        lines.append(f"- {r['input_size']}: `{r['sais']}` "
                     f"{r['sais_mib'] / 1024:.2f} GiB / `{r['yolact']}` "
                     f"{r['yolact_mib'] / 1024:.2f} GiB = "
                     f"**{r['ratio']:.2f}**{extra}")
    if not ratios:
        lines.append('- not measured: needs a SAIS and a YOLACT config at the '
                     'same input size, both with training measured')
    lines += ['', '**(head forward + post-processing) / backbone+neck** '
              'time, medians (YOLACT: "virtually no overhead"):']
    for row in rows:
        r = head_post_ratio(row)
        if r is not None:
            lines.append(f'- {_label(row)}: {r:.2f}')
    return '\n'.join(lines)


def plot(rows: List[dict], path: str, title: str) -> List[str]:
    """Latency (ms/img, median) against mask AP, one labelled point per
    row that has both; returns the names of rows left out."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    points, left_out = [], []
    for row in rows:
        total = (row.get('latency_stats') or {}).get('total')
        segm = (row.get('ap') or {}).get('segm')
        if total and segm and 'AP' in segm:
            points.append((row, total['median'], segm['AP']))
        else:
            left_out.append(row['name'])
    methods = [r['method'] for r, _, _ in points]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    x_max = max([ms for _, ms, _ in points], default=1.)
    y_max = max([ap for _, _, ap in points] + [1.])
    placed = []
    for row, ms, ap in sorted(points, key=lambda p: p[1]):
        label = row['method'] if methods.count(row['method']) == 1 \
            else f"{row['method']} ({row['name']})"
        # stack the labels of points that lie close together
        taken = {lv for m, a, lv in placed
                 if abs(ms - m) < 0.15 * x_max and abs(ap - a) < 0.05 * y_max}
        level = min(set(range(len(taken) + 1)) - taken)
        placed.append((ms, ap, level))
        ax.scatter([ms], [ap], s=30)
        ax.annotate(label, (ms, ap), textcoords='offset points',
                    xytext=(5, 4 + 10 * level), fontsize=8)
    ax.set_xlabel('inference time, ms/img (median, batch 1)')
    ax.set_ylabel('mask AP')
    ax.set_title(title, fontsize=9)
    ax.set_xlim(0, 1.2 * x_max)
    ax.set_ylim(-0.04 * y_max, 1.15 * y_max)
    ax.grid(alpha=0.3)
    if left_out:
        ax.text(0.01, 0.01, 'not plotted (no AP or no timing): ' +
                ', '.join(left_out), transform=ax.transAxes, fontsize=6,
                va='bottom')
    if not points:
        ax.text(0.5, 0.5, 'no row has both a latency and a mask AP',
                transform=ax.transAxes, ha='center')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return left_out


def write_markdown(rows: List[dict], path: str, header: str) -> str:
    """Write the tables and headline ratios to ``path``; return the text."""
    text = '\n\n'.join([
        header,
        markdown(TABLE_COLUMNS, [table_row(r) for r in rows]),
        'Latency breakdown (ms, median and IQR over the timed runs) and '
        'training step:',
        markdown(BREAKDOWN_COLUMNS, [breakdown_row(r) for r in rows]),
        headline(rows)
    ]) + '\n'
    with open(path, 'w') as f:
        f.write(text)
    return text


__all__ = ['TABLE_COLUMNS', 'BREAKDOWN_COLUMNS', 'stats', 'table_row',
           'breakdown_row', 'memory_ratios', 'headline', 'plot',
           'write_markdown']
