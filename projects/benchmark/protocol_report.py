"""The protocol's report: Table IV with mean ± std over seeds, the lr
probe, learning curves and the cost, from what ``tools/protocol.py``
wrote into a results folder (:mod:`projects.benchmark.protocol`).

Nothing is typed in: every figure is read from the folder's probe and run
records and, for latency and memory, from the newest ``memory/*/
benchmark.json`` (``tools/benchmark.py`` on the seed-0 weights).
"""
import glob
import json
import math
import os.path as osp
from typing import Dict, List, Optional, Tuple

from projects.apis.metafiles import MethodIndex
from .headline import MEMORY_KEY
from .markdown_blocks import has_block, markers, write_block
from .protocol import (Protocol, RunRecord, load_choices, lr_tag, probe_name,
                       plateau_verdict, probe_record_score)
from .report import _median_iqr, markdown, train_memory_mib, train_state_mib

AP_KEYS = (('AP', 'segm_mAP'), ('AP50', 'segm_mAP_50'),
           ('AP75', 'segm_mAP_75'), ('APs', 'segm_mAP_s'),
           ('APm', 'segm_mAP_m'), ('APl', 'segm_mAP_l'),
           ('box AP', 'bbox_mAP'))
REPORT_BLOCK = 'protocol report'  # the block of the folder's README.md
BEGIN, END = markers(REPORT_BLOCK)
CURVES = 'learning_curves.png'


def mean_std(values: List[float]) -> Tuple[float, Optional[float]]:
    """Mean and sample standard deviation (n - 1; None for one value)."""
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, None
    return m, math.sqrt(sum((v - m)**2 for v in values) / (len(values) - 1))


def fmt_mean_std(values: List[float]) -> str:
    """'12.3 ± 0.4' (one value: '12.3'); '-' for none."""
    if not values:
        return '-'
    m, s = mean_std(values)
    return f'{m:.1f}' if s is None else f'{m:.1f} ± {s:.1f}'


def load_runs(out: str) -> Dict[str, List[RunRecord]]:
    """``{method: [RunRecord, ...]}`` of every finished run, seeds sorted."""
    runs: Dict[str, List[RunRecord]] = {}
    for path in sorted(glob.glob(osp.join(out, 'runs', '*', 'run.json'))):
        rec = RunRecord.load(path)
        runs.setdefault(rec.method, []).append(rec)
    for recs in runs.values():
        recs.sort(key=lambda r: r.seed)
    return runs


def load_probes(proto: Protocol, out: str) -> Dict[str, Dict[float, dict]]:
    """``{method: {lr: probe record}}`` of every probe in the folder."""
    probes: Dict[str, Dict[float, dict]] = {}
    for method in proto.methods:
        for lr in proto.lr_grid:
            path = osp.join(out, 'probe', probe_name(method, lr) + '.json')
            if osp.isfile(path):
                with open(path) as f:
                    probes.setdefault(method.key, {})[lr] = json.load(f)
    return probes


def load_benchmark(out: str) -> Dict[str, dict]:
    """Benchmark rows by config path over every ``memory/*/benchmark.json``
    of the folder (the memory stage runs whichever methods have weights,
    so runs add up); a newer run's row of a config replaces an older one,
    a row with an error never replaces one without."""
    rows: Dict[str, dict] = {}
    for path in sorted(glob.glob(osp.join(out, 'memory', '*',
                                          'benchmark.json'))):
        with open(path) as f:
            for row in json.load(f).get('rows', []):
                key = osp.normpath(row['config'])
                if not row.get('error') or key not in rows:
                    rows[key] = row
    return rows


def ap_values(recs: List[RunRecord], key: str) -> List[float]:
    """One metric (%) of each run; a run whose validation found nothing
    (empty metrics) counts 0, as COCO's answer would."""
    return [100 * rec.metrics.get('coco/' + key, 0.0) for rec in recs]


def probe_table(proto: Protocol, probes: dict, choice: dict) -> str:
    cols = (['method'] + [f'loss at lr {lr_tag(lr)}' for lr in proto.lr_grid]
            + ['chosen lr', 'proto_alive at the chosen lr', 'probe wall s'])
    rows = []
    for method in proto.methods:
        got = probes.get(method.key, {})
        if not got:
            continue
        cells = [method.key]
        for lr in proto.lr_grid:
            if lr not in got:
                cells.append('-')
                continue
            s = probe_record_score(got[lr], proto.probe_window)
            cells.append('NaN' if math.isinf(s) else f'{s:.3f}')
        lr = (choice.get(method.key) or {}).get('lr')
        alive = '-'
        if lr is not None and lr in got:
            last = [r for r in got[lr]['records'] if 'proto_alive' in r]
            alive = f"{last[-1]['proto_alive']:.0f}" if last else '-'
        cells += ['-' if lr is None else lr_tag(lr), alive,
                  f"{sum(p['wall_s'] for p in got.values()):.0f}"]
        rows.append(cells)
    return markdown(cols, rows)


def results_table(proto: Protocol, runs: dict, bench: dict,
                  index: MethodIndex) -> str:
    cols = (['method', 'seeds', 'lr'] + [k for k, _ in AP_KEYS] +
            ['ms/img', 'train memory', 'train state', 'train min / run'])
    if proto.plateau:
        cols += ['plateau (AP gain, last quarter)', 'trained on']
    rows = []
    for method in proto.methods:
        recs = runs.get(method.key)
        if not recs:
            continue
        row = bench.get(osp.normpath(method.config), {})
        mem, state = train_memory_mib(row), train_state_mib(row)
        rows.append([
            f'{index.lookup(method.config) or method.key} '
            f'(`{osp.basename(method.config)[:-3]}`)',
            ', '.join(str(r.seed) for r in recs), lr_tag(recs[0].lr),
            *[fmt_mean_std(ap_values(recs, k))
              if method.masks or not k.startswith('segm') else '-'
              for _, k in AP_KEYS],
            _median_iqr((row.get('latency_stats') or {}).get('total')),
            f'{mem:.0f} MiB' if mem else '-',
            f'{state:.0f} MiB' if state else '-',
            fmt_mean_std([r.curve[-1]['train_s'] / 60 for r in recs
                          if r.curve])
        ] + (plateau_cells(proto, recs) if proto.plateau else []))
    if not rows:
        rows.append(['no finished run yet'] + [''] * (len(cols) - 1))
    return markdown(cols, rows)


def plateau_cells(proto: Protocol, recs: List[RunRecord]) -> List[str]:
    """The plateau verdict of each seed (:func:`~projects.benchmark.
    protocol.plateau_verdict`: ``flat`` or ``rising`` at the cap) and
    where each seed trained (precision and device)."""
    verdicts = []
    for r in recs:
        verdict, gain = plateau_verdict(r.curve, proto.max_iters)
        verdicts.append(verdict if math.isnan(gain) else
                        f'{verdict} ({gain:+.1f})')
    where = sorted({f'{r.precision}, {r.device}' for r in recs})
    return ['; '.join(verdicts), '; '.join(where)]


def separations(proto: Protocol, runs: dict) -> List[str]:
    """For every pair of methods with two or more seeds: whether their
    mask AP means differ by more than the sum of their standard
    deviations (the spread)."""
    lines = []
    multi = [m.key for m in proto.methods
             if m.masks and len(runs.get(m.key, [])) > 1]
    for i, a in enumerate(multi):
        for b in multi[i + 1:]:
            (ma, sa), (mb, sb) = (mean_std(ap_values(runs[k], 'segm_mAP'))
                                  for k in (a, b))
            gap, spread = abs(ma - mb), sa + sb
            verdict = 'larger than' if gap > spread else 'within'
            lines.append(f'- {a} vs {b}: mask AP {ma:.1f} vs {mb:.1f}, '
                         f'difference {gap:.1f} is {verdict} the spread '
                         f'({sa:.1f} + {sb:.1f})')
    return lines


def memory_lines(proto: Protocol, bench: dict,
                 index: MethodIndex) -> List[str]:
    """For every pair of methods whose papers report a peak training
    memory (metafiles' ``Training Memory (GB)``): the ratio of their
    training state (autograd's saved tensors + parameters + gradients +
    optimizer state, the same on every device) and of their peak memory,
    against the papers' ratio."""
    found = []
    for method in proto.methods:
        name = index.lookup(method.config)
        row = bench.get(osp.normpath(method.config))
        paper = index.paper_figure(name, MEMORY_KEY) if name else None
        if row and paper and train_state_mib(row):
            found.append((name, row, paper))
    lines = []
    for i, (a, ra, pa) in enumerate(found):
        for b, rb, pb in found[i + 1:]:
            lines.append(
                f'- {a} / {b}: training state {train_state_mib(ra):.0f} / '
                f'{train_state_mib(rb):.0f} MiB = '
                f'**{train_state_mib(ra) / train_state_mib(rb):.2f}**; '
                f'peak memory {train_memory_mib(ra):.0f} / '
                f'{train_memory_mib(rb):.0f} MiB = '
                f'{train_memory_mib(ra) / train_memory_mib(rb):.2f}; '
                f'papers {pa[0]:g} / {pb[0]:g} GB = {pa[0] / pb[0]:.2f} '
                f'({pa[1]}; {pb[1]})')
    return lines


def plot_curves(proto: Protocol, runs: dict, path: str) -> None:
    """Mask AP against iterations and against training wall time, one
    line per run (a method's seeds share its colour and marker, which no
    other method has); box detectors (``Method.masks`` False) are left
    out."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    colours = plt.get_cmap('tab20')
    markers = 'osD^vP*Xh<>p8dH+'
    for i, method in enumerate(proto.methods):
        if not method.masks:
            continue
        for j, rec in enumerate(runs.get(method.key, [])):
            xs = [p['iter'] for p in rec.curve]
            ts = [p['train_s'] / 60 for p in rec.curve]
            ys = [p['segm_mAP'] for p in rec.curve]
            kw = dict(color=colours(i % 20), marker=markers[i % 16], ms=4,
                      lw=1.2, label=method.key if j == 0 else None)
            axes[0].plot(xs, ys, **kw)
            axes[1].plot(ts, ys, **kw)
    axes[0].set_xlabel('iteration (batch 2)')
    axes[0].set_xlim(left=0)
    axes[1].set_xlim(left=0)
    axes[1].set_xlabel('training wall time, min (validation excluded)')
    for ax in axes:
        ax.set_ylabel('val mask AP (%)')
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc='upper left')
    fig.suptitle(f'protocol {proto.name}: every run, val split', fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def cost_lines(out: str, probes: dict, runs: dict) -> List[str]:
    probe_s = sum(p['wall_s'] for got in probes.values()
                  for p in got.values())
    run_s = sum(r.wall_s for recs in runs.values() for r in recs)
    devices = sorted({p['device'] for got in probes.values()
                      for p in got.values()} |
                     {r.device for recs in runs.values() for r in recs})
    return [f'- probes: {probe_s / 3600:.2f} h wall '
            f'({sum(len(g) for g in probes.values())} probe runs)',
            f'- training runs (validation included): {run_s / 3600:.2f} h '
            f'wall ({sum(len(r) for r in runs.values())} runs)',
            '- device: ' + ('; '.join(devices) or '-')]


def probe_block(out: str) -> str:
    """The name of a results folder's lr-probe block in the protocol
    document (docs/protocol.md): ``'lr probe <folder name>'``."""
    return f'lr probe {osp.basename(osp.normpath(out))}'


def probe_markers(out: str) -> Tuple[str, str]:
    """The markers of a results folder's lr-probe block in the protocol
    document (docs/protocol.md)."""
    return markers(probe_block(out))


def report_content(proto: Protocol, out: str) -> Tuple[str, str]:
    """The generated text of a results folder: the README block's content
    (what goes between :data:`BEGIN` and :data:`END`) and the probe table
    (for the protocol document). Reads the folder, writes nothing."""
    probes = load_probes(proto, out)
    choice = load_choices(out)
    runs = load_runs(out)
    bench, index = load_benchmark(out), MethodIndex()
    probe_md = probe_table(proto, probes, choice)
    missing = []
    for m in proto.methods:
        left = sorted(set(m.seeds) - {r.seed for r in runs.get(m.key, [])})
        if left:
            missing.append(f'{m.key} (seed{"s" * (len(left) > 1)} '
                           f'{", ".join(map(str, left))})')
    parts = [
        '## Results (val split, mean ± std over seeds, %)', '',
        results_table(proto, runs, bench, index), '',
        'Not finished yet: ' + (', '.join(missing) or 'none') + '.', '',
        '### Training memory against the papers', '',
        *(memory_lines(proto, bench, index) or
          ['- no pair with paper figures benchmarked yet']), '',
        '### Differences against the spread', '',
        *(separations(proto, runs) or ['- no two methods with 2+ seeds']),
        '', f'![learning curves]({CURVES})' if runs else '', '',
        '## lr probe (mean training loss, iterations '
        f'{proto.probe_window[0] + 1}-{proto.probe_window[1]})', '',
        probe_md, '', '## Cost', '',
        *cost_lines(out, probes, runs)]
    return '\n'.join(parts), probe_md


def report_blocks(proto: Protocol, out: str) -> Tuple[str, str]:
    """:func:`report_content` with the README block's markers: the block
    as the README shows it (:data:`BEGIN` to :data:`END`) and the probe
    table. Reads the folder, writes nothing."""
    content, probe_md = report_content(proto, out)
    return f'{BEGIN}\n{content}\n{END}', probe_md


def write_report(proto: Protocol, out: str,
                 protocol_doc: Optional[str] = None) -> str:
    """Writes :func:`report_content` into ``out``/README.md, between
    :data:`BEGIN` and :data:`END` (appended to a README without them,
    created when missing; the rest of the file is kept) and, when
    ``protocol_doc`` has the folder's :func:`probe_block`, the probe table
    there; draws the learning curves. Returns the README's path.

    Raises:
        ValueError: a file's markers are broken (one without the other,
            or the end before the begin).
    """
    content, probe_md = report_content(proto, out)
    if protocol_doc and osp.isfile(protocol_doc):
        with open(protocol_doc, encoding='utf-8') as f:
            if has_block(f.read(), probe_block(out)):
                write_block(protocol_doc, probe_block(out), probe_md)
    runs = load_runs(out)
    if runs:
        plot_curves(proto, runs, osp.join(out, CURVES))
    readme = osp.join(out, 'README.md')
    write_block(readme, REPORT_BLOCK, content, append=True)
    return readme
