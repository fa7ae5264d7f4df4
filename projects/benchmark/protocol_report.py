"""The protocol's report: Table IV with mean ± std over seeds, the lr
probe, learning curves, the cost and, for a converged protocol, whether
the source documents' claims hold (:mod:`projects.benchmark.claims`),
from what ``tools/protocol.py`` wrote into a results folder
(:mod:`projects.benchmark.protocol`).

Nothing is typed in: every figure is read from the folder's probe and run
records and, for latency and memory, from the newest ``memory/*/
benchmark.json`` (``tools/benchmark.py`` on the seed-0 weights). The
results table is rendered by :mod:`projects.benchmark.tables`, the
renderer of the method pages' tables too.
"""
import glob
import json
import math
import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

from projects.apis.metafiles import MethodIndex
from .claims import claim_lines
from .headline import MEMORY_KEY
from .markdown_blocks import has_block, markers, write_block
from .protocol import (Protocol, RunRecord, learning_curve, load_choices,
                       lr_tag, probe_name, probe_record_score)
from .report import markdown, train_memory_mib, train_state_mib
from .tables import (REPO, Separation, ap_values, fmt_mean_std, mean_std,
                     protocol_rows, render, report_columns, separation)

REPORT_BLOCK = 'protocol report'  # the block of the folder's README.md
BEGIN, END = markers(REPORT_BLOCK)
CURVES = 'learning_curves.png'


def load_runs(out: str) -> Dict[str, List[RunRecord]]:
    """``{method: [RunRecord, ...]}`` of every finished run, seeds sorted;
    a run whose ``scalars.json`` is committed beside its ``run.json`` gets
    its learning curve anew from it (:func:`~projects.benchmark.protocol.
    learning_curve`), so that every record follows today's rules."""
    runs: Dict[str, List[RunRecord]] = {}
    for path in sorted(glob.glob(osp.join(out, 'runs', '*', 'run.json'))):
        rec = RunRecord.load(path)
        scalars = osp.join(osp.dirname(path), 'scalars.json')
        if osp.isfile(scalars):
            with open(scalars) as f:
                rec.curve = learning_curve(
                    [json.loads(line) for line in f if line.strip()])
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
    a row with an error never replaces one without. Each row gets its
    run's ``environment`` (device, threads, ...) when it has none."""
    rows: Dict[str, dict] = {}
    for path in sorted(glob.glob(osp.join(out, 'memory', '*',
                                          'benchmark.json'))):
        with open(path) as f:
            run = json.load(f)
        for row in run.get('rows', []):
            key = osp.normpath(row['config'])
            if not row.get('error') or key not in rows:
                row.setdefault('environment', run.get('environment', {}))
                rows[key] = row
    return rows


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
                  index: MethodIndex, page_dir: Optional[str] = None) -> str:
    """The protocol's table: a row per method with a finished run
    (:func:`~projects.benchmark.tables.protocol_rows`) in the report's
    columns (:func:`~projects.benchmark.tables.report_columns`), rendered
    by :func:`~projects.benchmark.tables.render` as the method pages'
    tables are.

    Args:
        proto (Protocol): the protocol.
        runs (dict): :func:`load_runs` of its results folder.
        bench (dict): :func:`load_benchmark` of its results folder.
        index (MethodIndex): the metafiles (method names).
        page_dir (str, optional): the folder of the page the table goes
            into (the config links are relative to it); default the
            repository root.

    Returns:
        str: the Markdown table; one 'no finished run yet' row without
        runs.
    """
    return render(protocol_rows(proto, runs, bench, index),
                  report_columns(proto), page_dir or REPO,
                  empty='no finished run yet')


def unfinished_line(proto: Protocol, runs: dict) -> str:
    """'Not finished yet: sais (seeds 1, 2), ...' in the plan's order (or
    'none'): the planned seeds of each method without a finished run.

    Args:
        proto (Protocol): the protocol (its methods and their seeds).
        runs (dict): :func:`load_runs` of its results folder.
    """
    missing = []
    for m in proto.methods:
        left = sorted(set(m.seeds) - {r.seed for r in runs.get(m.key, [])})
        if left:
            missing.append(f'{m.key} (seed{"s" * (len(left) > 1)} '
                           f'{", ".join(map(str, left))})')
    return 'Not finished yet: ' + (', '.join(missing) or 'none') + '.'


def separation_pairs(proto: Protocol,
                     runs: dict) -> List[Tuple[str, str, Separation]]:
    """(key A, key B, :class:`~projects.benchmark.tables.Separation` of
    their mask AP) for every pair of mask methods with two or more seeds,
    in the protocol's order."""
    multi = [m.key for m in proto.methods
             if m.masks and len(runs.get(m.key, [])) > 1]
    return [(a, b, separation(*(ap_values(runs[k], 'segm_mAP')
                                 for k in (a, b))))
            for i, a in enumerate(multi) for b in multi[i + 1:]]


def separations(proto: Protocol, runs: dict,
                keys: Optional[set] = None) -> List[str]:
    """For every pair of methods with two or more seeds
    (:func:`separation_pairs`), one of them in ``keys`` when given:
    whether their mask AP means differ by more than the sum of their
    standard deviations (the spread)."""
    lines = []
    for a, b, sep in separation_pairs(proto, runs):
        if keys is not None and not {a, b} & keys:
            continue
        verdict = 'larger than' if sep.beyond else 'within'
        lines.append(f'- {a} vs {b}: mask AP {sep.mean_a:.1f} vs '
                     f'{sep.mean_b:.1f}, difference {abs(sep.gap):.1f} '
                     f'is {verdict} the spread ({sep.std_a:.1f} + '
                     f'{sep.std_b:.1f})')
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


def _machine(device: str) -> str:
    """``'cpu (AMD EPYC, AVX2, 2 threads)'`` -> ``'AMD EPYC, AVX2'``; other
    device words (a GPU) unchanged."""
    match = re.fullmatch(r'cpu \((.*?)(, \d+ threads)?\)', device)
    return match.group(1) if match else device


def _machine_words(trained_on: str) -> str:
    """``'fp32, cpu (AMD EPYC, AVX2, 2 threads)'`` -> ``'fp32, AMD EPYC,
    AVX2'`` (one entry of :meth:`RunRecord.trained_on`)."""
    precision, device = trained_on.split(', ', 1)
    return f'{precision}, {_machine(device)}'


def curve_labels(proto: Protocol, runs: dict) -> Dict[str, str]:
    """The legend label of each mask method with runs: its key, and where
    its runs trained (precision, machine) when the plotted runs come from
    more than one place, since the time axis is each run's own pace.

    Args:
        proto (Protocol): the protocol (its methods' order, ``masks``).
        runs (dict): ``{method key: [RunRecord, ...]}``.

    Returns:
        dict[str, str]: method key -> label, in the protocol's order.
    """
    where = {m.key: sorted({_machine_words(w) for r in runs[m.key]
                            for w in r.trained_on()})
             for m in proto.methods if m.masks and runs.get(m.key)}
    mixed = len({w for ws in where.values() for w in ws}) > 1
    return {key: f'{key} ({"; ".join(ws)})' if mixed else key
            for key, ws in where.items()}


def plot_curves(proto: Protocol, runs: dict, path: str) -> None:
    """Mask AP against iterations and against training time, one
    line per run (a method's seeds share its colour and marker, which no
    other method has; labels from :func:`curve_labels`); box detectors
    (``Method.masks`` False) are left out."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    labels = curve_labels(proto, runs)
    # the legend goes below both panels, three labels a line
    legend_rows = max(1, math.ceil(len(labels) / 3))
    height = 4.2 + 0.2 * legend_rows
    fig, axes = plt.subplots(1, 2, figsize=(11, height), dpi=110)
    colours = plt.get_cmap('tab20')
    markers = 'osD^vP*Xh<>p8dH+'
    for i, method in enumerate(proto.methods):
        if method.key not in labels:
            continue
        for j, rec in enumerate(runs[method.key]):
            xs = [p['iter'] for p in rec.curve]
            ts = [p['train_s'] / 60 for p in rec.curve]
            ys = [p['segm_mAP'] for p in rec.curve]
            kw = dict(color=colours(i % 20), marker=markers[i % 16], ms=4,
                      lw=1.2, label=labels[method.key] if j == 0 else None)
            axes[0].plot(xs, ys, **kw)
            axes[1].plot(ts, ys, **kw)
    axes[0].set_xlabel('iteration (batch 2)')
    axes[0].set_xlim(left=0)
    axes[1].set_xlim(left=0)
    axes[1].set_xlabel('training time at the run\'s median pace, min '
                       '(validation excluded)')
    for ax in axes:
        ax.set_ylabel('val mask AP (%)')
        ax.grid(alpha=0.3)
    if labels:
        fig.legend(*axes[0].get_legend_handles_labels(), loc='lower center',
                   ncol=3, fontsize=7, frameon=False)
    fig.suptitle(f'protocol {proto.name}: every run, val split', fontsize=9)
    fig.tight_layout(rect=(0, (0.2 * legend_rows + 0.1) / height, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def lr_lines(proto: Protocol, out: str, probe_md: str) -> List[str]:
    """The report's lr section: the probe table, or, for a protocol that
    trains with another folder's probed lrs (``lr_from``), where they come
    from (linked relative to ``out``)."""
    if not proto.lr_from:
        return ['## lr probe (mean training loss, iterations '
                f'{proto.probe_window[0] + 1}-{proto.probe_window[1]})', '',
                probe_md]
    readme = osp.relpath(osp.join(REPO, proto.lr_from, 'README.md'),
                         osp.abspath(out))
    return ['## lr', '',
            'No probe of its own: each method trains at the lr its probe '
            f'chose in [{osp.basename(proto.lr_from)}]({readme}) '
            f'(`{proto.lr_from}/probe/choice.json`).']


def cost_lines(out: str, probes: dict, runs: dict,
               lr_from: Optional[str] = None) -> List[str]:
    probe_s = sum(p['wall_s'] for got in probes.values()
                  for p in got.values())
    run_s = sum(r.wall_s for recs in runs.values() for r in recs)
    devices = sorted({p['device'] for got in probes.values()
                      for p in got.values()} |
                     {device for recs in runs.values() for r in recs
                      for _, device in r.places()})
    n_probes = sum(len(g) for g in probes.values())
    return [f'- probes: none (lrs from {lr_from})' if lr_from and not n_probes
            else f'- probes: {probe_s / 3600:.2f} h wall ({n_probes} probe '
            'runs)',
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
    parts = [
        '## Results (val split, mean ± std over seeds, %)', '',
        results_table(proto, runs, bench, index, out), '',
        unfinished_line(proto, runs), '',
        '### Training memory against the papers', '',
        *(memory_lines(proto, bench, index) or
          ['- no pair with paper figures benchmarked yet']), '',
        '### Differences against the spread', '',
        *(separations(proto, runs) or ['- no two methods with 2+ seeds']),
        *(['', "### The source documents' claims", '',
           *(claim_lines(proto, runs, bench, index) or
             ['- no method declares a claim'])] if proto.plateau else []),
        '', f'![learning curves]({CURVES})' if runs else '', '',
        *lr_lines(proto, out, probe_md), '', '## Cost', '',
        *cost_lines(out, probes, runs, proto.lr_from)]
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


# fmt_mean_std: the tools that format protocol figures import it from here
__all__ = [
    'REPORT_BLOCK', 'BEGIN', 'END', 'CURVES', 'fmt_mean_std', 'mean_std',
    'load_runs', 'load_probes', 'load_benchmark', 'ap_values', 'probe_table',
    'results_table', 'separation_pairs', 'separations', 'memory_lines',
    'curve_labels', 'plot_curves', 'lr_lines', 'cost_lines', 'probe_block',
    'probe_markers',
    'report_content', 'report_blocks', 'write_report'
]
