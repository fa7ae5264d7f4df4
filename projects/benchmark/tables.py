"""The zoo's results tables, one renderer for every page that shows a
result: the protocol report (``docs/results/<protocol>/README.md`` and
README.md's ``zoo results``, :data:`REPORT_COLUMNS`) and the method pages
(``configs/<method>/README.md``, :data:`PAGE_COLUMNS`).

A table is a list of :class:`ResultRow` (one config's figures from one
source) rendered through a tuple of :class:`Column`. Two sources make
rows:

- :func:`paper_rows`: a metafile Model with ``Reported In``, its
  ``Metadata`` (epochs, training memory, inference time) and ``Results``
  (mask and box AP) as the paper reports them; nothing measured;
- :func:`protocol_rows`: a benchmark protocol's finished runs
  (:class:`~projects.benchmark.protocol.RunRecord`), AP as mean ± std over
  the seeds, latency and memory from the folder's ``memory/`` benchmark.

Both tables use the same :class:`Column` objects where they show the same
figure, so a row reads the same on the report and on the method page.
"""
import math
import os.path as osp
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from mmengine.config import Config

from projects.apis.metafiles import MethodIndex, ModelEntry
from .headline import MEMORY_KEY
from .models import backbone_name
from .protocol import Protocol, RunRecord, lr_tag, plateau_verdict
from .report import (gib, machine_name, markdown, median_iqr,
                     train_memory_mib, train_state_mib)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# the metafiles' Metadata key of a paper's inference time (ms per image)
TIME_KEY = 'Inference Time (ms/im)'
# header -> RunRecord metric (without ``coco/``): the report's AP columns
AP_KEYS = (('mask AP', 'segm_mAP'), ('AP50', 'segm_mAP_50'),
           ('AP75', 'segm_mAP_75'), ('APs', 'segm_mAP_s'),
           ('APm', 'segm_mAP_m'), ('APl', 'segm_mAP_l'),
           ('box AP', 'bbox_mAP'))
# a metafile Results' Task -> the prefix of its AP50 .. APl metrics
TASK_PREFIX = {'Instance Segmentation': 'segm', 'Object Detection': 'bbox'}
# '..._1xb2-24e_...': the epochs an iteration-based schedule stands for
EPOCHS_IN_NAME = re.compile(r'_\d+xb\d+-(\d+)e_')


def mean_std(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    """Mean and sample standard deviation (n - 1; None for one value)."""
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, None
    return m, math.sqrt(sum((v - m)**2 for v in values) / (len(values) - 1))


class Separation(NamedTuple):
    """Two methods' mean figures against their seed spread."""
    mean_a: float
    mean_b: float
    std_a: float
    std_b: float

    @property
    def gap(self) -> float:
        """mean_a - mean_b."""
        return self.mean_a - self.mean_b

    @property
    def beyond(self) -> bool:
        """Whether the means differ by more than the spread, the sum of
        the two standard deviations: the protocol's rule for a difference
        that seeds alone do not explain."""
        return abs(self.gap) > self.std_a + self.std_b


def separation(a: Sequence[float], b: Sequence[float]) -> Separation:
    """:class:`Separation` of two methods' per-seed figures.

    Raises:
        ValueError: either side has fewer than two values (no spread).
    """
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f'a spread needs 2+ seeds a side, got {len(a)} '
                         f'and {len(b)}')
    (ma, sa), (mb, sb) = mean_std(a), mean_std(b)
    return Separation(ma, mb, sa, sb)


def fmt_mean_std(values: Sequence[float]) -> str:
    """'12.3 ± 0.4' (one value: '12.3'); '-' for none."""
    if not values:
        return '-'
    m, s = mean_std(values)
    return f'{m:.1f}' if s is None else f'{m:.1f} ± {s:.1f}'


def ap_values(recs: Sequence[RunRecord], key: str) -> List[float]:
    """One metric (%) of each run; a run whose validation found nothing
    (empty metrics) counts 0, as COCO's answer would."""
    return [100 * rec.metrics.get('coco/' + key, 0.0) for rec in recs]


def device_words(env: Optional[dict]) -> str:
    """Where a benchmark ran, from its ``environment``: ``'cpu (AMD
    EPYC, AVX2), 2 threads'`` (the CPU model and vector ISA, when recorded:
    times compare only within one, :func:`~.report.machine_name`) or the
    GPU's name; '' when unknown."""
    if not env:
        return ''
    if env.get('gpu'):
        return str(env['gpu'])
    threads = env.get('threads')
    cpu = f' ({machine_name(env)})' if env.get('cpu') else ''
    return str(env.get('device', '?')) + cpu + (f', {threads} threads'
                                                if threads else '')


class ConfigFacts(NamedTuple):
    """What a config says about a row: ``backbone`` (``'R-50'``, see
    :func:`~projects.benchmark.models.backbone_name`), ``input_size``
    (the test pipeline's resize, ``'384x384'``) and ``schedule``
    (``'12 epochs'``, ``'200 iterations'``, ``'24 epochs (2304
    iterations)'``); ``'-'`` for what it does not say."""
    backbone: str = '-'
    input_size: str = '-'
    schedule: str = '-'


def _input_size(cfg: Config) -> str:
    loader = cfg.get('test_dataloader') or {}
    pipeline = (loader.get('dataset') or {}).get('pipeline') or \
        cfg.get('test_pipeline') or []
    for step in pipeline:
        if str(step.get('type', '')).endswith('Resize') and \
                step.get('scale'):
            scale = step['scale']
            w, h = (scale, scale) if isinstance(scale, int) else scale
            return f'{w}x{h}'
    return '-'


def _schedule(cfg: Config, name: str) -> str:
    loop = cfg.get('train_cfg') or {}
    if loop.get('max_epochs'):
        return f"{loop['max_epochs']} epochs"
    if loop.get('max_iters'):
        iters = f"{loop['max_iters']} iterations"
        epochs = EPOCHS_IN_NAME.search(name)
        return f'{epochs.group(1)} epochs ({iters})' if epochs else iters
    return '-'


@lru_cache(maxsize=None)
def config_facts(config: str) -> ConfigFacts:
    """:class:`ConfigFacts` of a config (relative to the repository or
    absolute), read once per process; all ``'-'`` for a missing file."""
    path = config if osp.isabs(config) else osp.join(REPO, config)
    if not osp.isfile(path):
        return ConfigFacts()
    cfg = Config.fromfile(path)
    backbone = (cfg.get('model') or {}).get('backbone')
    return ConfigFacts(
        backbone_name(backbone) if backbone else '-', _input_size(cfg),
        _schedule(cfg, osp.basename(path)))


@dataclass
class ResultRow:
    """One row of a results table: a config's figures from one source.

    Args:
        method (str): the method's display name (metafile Collection).
        config (str): the config, relative to the repository.
        source (str): where the figures come from, in words.
        reported (bool): the figures are a paper's (:func:`paper_rows`),
            not measured here. Defaults to False.
        dataset (str): the data the AP is measured on (``'COCO'``,
            ``'feral_cats val'``).
        schedule (str, optional): the training schedule in words; None:
            the config's (:func:`config_facts`).
        seeds (tuple[int]): the runs' seeds; empty for a paper.
        lr (float, optional): the runs' learning rate.
        ap (dict[str, list[float]]): RunRecord metric (``segm_mAP``,
            ``bbox_mAP``, ...) -> one value (%) per seed (one for a
            paper); a metric not measured is absent (its cell is ``-``).
        latency (dict, optional): inference ms/img, a
            :func:`~projects.benchmark.report.stats` dict (median, IQR).
        device (str): where ``latency`` and the memory were measured.
        train_mib (float, optional): peak training memory, MiB.
        state_mib (float, optional): training state, MiB.
        paper_memory_gb (float, optional): a paper's training memory, GB.
        paper_ms (float, optional): a paper's inference time, ms/img.
        train_min (list[tuple]): ``(places, minutes)`` of each run,
            ``places`` being where it trained (:meth:`RunRecord.trained_on`,
            a tuple): minutes are averaged within a place only.
        plateau (str), trained_on (str): the runs' plateau verdicts and
            precision / device, for a protocol with ``plateau``.
        run (str, optional): the results folder of the runs (absolute).
    """
    method: str
    config: str
    source: str = ''
    reported: bool = False
    dataset: str = '-'
    schedule: Optional[str] = None
    seeds: Tuple[int, ...] = ()
    lr: Optional[float] = None
    ap: Dict[str, List[float]] = field(default_factory=dict)
    latency: Optional[dict] = None
    device: str = ''
    train_mib: Optional[float] = None
    state_mib: Optional[float] = None
    paper_memory_gb: Optional[float] = None
    paper_ms: Optional[float] = None
    train_min: List[Tuple[Tuple[str, ...], float]] = field(
        default_factory=list)
    plateau: str = '-'
    trained_on: str = '-'
    run: Optional[str] = None


class Column(NamedTuple):
    """A column: its ``header`` and ``cell(row, page_dir) -> str`` (links
    are relative to ``page_dir``, the folder of the page)."""
    header: str
    cell: Callable[[ResultRow, str], str]


def _link(target: str, text: str, page_dir: str) -> str:
    path = target if osp.isabs(target) else osp.join(REPO, target)
    return f'[{text}]({osp.relpath(path, osp.abspath(page_dir))})'


def _ap_cell(key: str) -> Callable[[ResultRow, str], str]:
    return lambda row, _: fmt_mean_std(row.ap.get(key, []))


def _ms_cell(row: ResultRow, _: str) -> str:
    if row.reported:
        return '-' if row.paper_ms is None else \
            f"{row.paper_ms:g} (paper's device)"
    cell = median_iqr(row.latency)
    return f'{cell} on {row.device}' if row.latency and row.device else cell


def _memory_cell(row: ResultRow, _: str) -> str:
    if row.reported:
        return '-' if row.paper_memory_gb is None else \
            f'{row.paper_memory_gb:g} GB'
    return gib(row.train_mib)


def _train_min_cell(row: ResultRow, _: str) -> str:
    """Mean ± std of the runs' training minutes per place, in the "trained
    on" cell's sorted order; the runs that trained in several places
    (resumed elsewhere) follow, marked "(mixed)": their minutes are no
    one machine's."""
    groups: Dict[Tuple[str, ...], List[float]] = {}
    for places, minutes in row.train_min:
        groups.setdefault(tuple(places), []).append(minutes)
    order = sorted({p for places in groups for p in places})

    def key(places: Tuple[str, ...]) -> tuple:
        return len(places) > 1, sorted(order.index(p) for p in places)

    return '; '.join(
        fmt_mean_std(groups[g]) + (' (mixed)' if len(g) > 1 else '')
        for g in sorted(groups, key=key)) or '-'


def _run_cell(row: ResultRow, page_dir: str) -> str:
    if not row.run:
        return '-'
    readme = osp.join(row.run, 'README.md')
    return _link(readme if osp.isfile(readme) else row.run,
                 osp.basename(osp.normpath(row.run)), page_dir)


METHOD = Column('method', lambda row, _: row.method)
CONFIG = Column('config', lambda row, page: _link(
    row.config, osp.basename(row.config), page))
SOURCE = Column('source', lambda row, _: row.source)
BACKBONE = Column('backbone',
                  lambda row, _: config_facts(row.config).backbone)
SCHEDULE = Column('schedule', lambda row, _: row.schedule or config_facts(
    row.config).schedule)
DATA = Column('data', lambda row, _: f'{row.dataset}, '
              f'{config_facts(row.config).input_size}')
SEEDS = Column('seeds', lambda row, _: ', '.join(map(str, row.seeds)) or '-')
LR = Column('lr', lambda row, _: '-' if row.lr is None else lr_tag(row.lr))
AP_COLUMNS = tuple(Column(header, _ap_cell(key)) for header, key in AP_KEYS)
MASK_AP, BOX_AP = AP_COLUMNS[0], AP_COLUMNS[-1]
MS = Column('ms/img', _ms_cell)
TRAIN_MEMORY = Column('train memory', _memory_cell)
TRAIN_STATE = Column('train state', lambda row, _: gib(row.state_mib))
TRAIN_MIN = Column('train min / run', _train_min_cell)
PLATEAU = Column('plateau (AP gain, last quarter)',
                 lambda row, _: row.plateau)
TRAINED_ON = Column('trained on', lambda row, _: row.trained_on)
RUN = Column('run', _run_cell)

#: The protocol report's table (a protocol with ``plateau`` adds
#: :data:`PLATEAU` and :data:`TRAINED_ON`, see :func:`report_columns`).
REPORT_COLUMNS = (METHOD, CONFIG, SEEDS, LR, *AP_COLUMNS, MS, TRAIN_MEMORY,
                  TRAIN_STATE, TRAIN_MIN)
#: A method page's table, in MMDetection's order.
PAGE_COLUMNS = (METHOD, SOURCE, BACKBONE, SCHEDULE, DATA, SEEDS,
                TRAIN_MEMORY, MS, BOX_AP, MASK_AP, CONFIG, RUN)


def report_columns(proto: Protocol) -> Tuple[Column, ...]:
    """:data:`REPORT_COLUMNS`, with the plateau columns when ``proto``
    asks for them."""
    return REPORT_COLUMNS + ((PLATEAU, TRAINED_ON) if proto.plateau else ())


def render(rows: Sequence[ResultRow], columns: Sequence[Column],
           page_dir: str, empty: str = 'no result yet') -> str:
    """The Markdown table of ``rows``.

    Args:
        rows (Sequence[ResultRow]): in table order.
        columns (Sequence[Column]): e.g. :data:`PAGE_COLUMNS`.
        page_dir (str): the folder of the page the table goes into (links
            are relative to it).
        empty (str): the first cell of the one row shown when ``rows`` is
            empty.

    Returns:
        str: the table, without a trailing newline; ``|`` in a cell is
        escaped.
    """
    cells = [[c.cell(row, page_dir).replace('|', '\\|') for c in columns]
             for row in rows]
    if not cells:
        cells = [[empty] + [''] * (len(columns) - 1)]
    return markdown([c.header for c in columns], cells)


def model_results(model: ModelEntry) -> List[dict]:
    """The ``Results`` of a metafile Model (``Task``, ``Dataset``,
    ``Metrics``)."""
    return list(model.results)


def _metric_key(task: str, name: str) -> Optional[str]:
    """A metafile metric name -> its RunRecord metric (None: unknown)."""
    if name in ('mask AP', 'box AP'):
        return ('segm' if name == 'mask AP' else 'bbox') + '_mAP'
    prefix = TASK_PREFIX.get(task)
    suffix = {'AP50': '_50', 'AP75': '_75', 'APs': '_s', 'APm': '_m',
              'APl': '_l'}.get(name)
    return f'{prefix}_mAP{suffix}' if prefix and suffix else None


def paper_rows(index: MethodIndex,
               folder: Optional[str] = None) -> List[ResultRow]:
    """A row for every metafile Model with ``Reported In`` (those whose
    config lies in ``folder`` when given), in metafile order.

    Args:
        index (MethodIndex): the metafiles.
        folder (str, optional): a configs folder (``configs/sais``,
            relative to the repository or absolute).

    Returns:
        list[ResultRow]: ``reported`` rows: AP from ``Results``, the
        schedule from ``Metadata`` ``Epochs`` (else the config's),
        training memory (:data:`~projects.benchmark.headline.MEMORY_KEY`)
        and inference time (:data:`TIME_KEY`) from ``Metadata``.
    """
    where = index.normalise(folder) if folder else None
    rows = []
    for model in index.models:
        if not model.reported_in or (
                where and osp.dirname(model.config or '') != where):
            continue
        results = model_results(model)
        ap: Dict[str, List[float]] = {}
        for result in results:
            for name, value in (result.get('Metrics') or {}).items():
                key = _metric_key(result.get('Task', ''), name)
                if key and key not in ap:
                    ap[key] = [float(value)]
        meta = model.metadata
        rows.append(ResultRow(
            method=model.collection, config=model.config or model.name,
            source=f'reported in {model.reported_in}', reported=True,
            dataset=str(results[0].get('Dataset', '-')) if results else
            str(meta.get('Training Data', '-')),
            schedule=f"{meta['Epochs']} epochs" if 'Epochs' in meta
            else None, ap=ap, paper_memory_gb=meta.get(MEMORY_KEY),
            paper_ms=meta.get(TIME_KEY)))
    return rows


def plateau_cells(proto: Protocol, recs: Sequence[RunRecord]) -> List[str]:
    """The plateau verdict of each seed (:func:`~projects.benchmark.
    protocol.plateau_verdict`: ``flat`` or ``rising`` at the cap) and
    where each seed trained (precision and device)."""
    verdicts = []
    for r in recs:
        verdict, gain = plateau_verdict(r.curve, proto.max_iters)
        verdicts.append(verdict if math.isnan(gain) else
                        f'{verdict} ({gain:+.1f})')
    where = sorted({w for r in recs for w in r.trained_on()})
    return ['; '.join(verdicts), '; '.join(where)]


def protocol_rows(proto: Protocol, runs: Dict[str, List[RunRecord]],
                  bench: Dict[str, dict], index: MethodIndex,
                  out: Optional[str] = None, source: str = '',
                  methods: Optional[Sequence[str]] = None
                  ) -> List[ResultRow]:
    """A row for every method of ``proto`` with a finished run, in the
    protocol's order.

    Args:
        proto (Protocol): the protocol.
        runs (dict): ``{method key: [RunRecord, ...]}``, seeds sorted
            (:func:`~projects.benchmark.protocol_report.load_runs`).
        bench (dict): benchmark rows by config path, each with the
            ``environment`` of its run (:func:`~projects.benchmark.
            protocol_report.load_benchmark`).
        index (MethodIndex): the metafiles (method names, the data).
        out (str, optional): the results folder (the rows' ``run``).
        source (str): the rows' ``source``.
        methods (Sequence[str], optional): only these keys.

    Returns:
        list[ResultRow]: AP as one value per seed (the mask AP columns
        absent for a box detector), latency, memory and device from the
        config's benchmark row.
    """
    rows = []
    for method in proto.methods:
        recs = runs.get(method.key)
        if not recs or (methods is not None and method.key not in methods):
            continue
        config = osp.normpath(method.config)
        bench_row = bench.get(config, {})
        data = next((str(m.metadata['Training Data']) + ' val'
                     for m in index.models if m.config == config
                     and 'Training Data' in m.metadata), '-')
        plateau = plateau_cells(proto, recs) if proto.plateau else \
            ['-', '-']
        rows.append(ResultRow(
            method=index.lookup(config) or method.key, config=config,
            source=source, dataset=data,
            seeds=tuple(r.seed for r in recs), lr=recs[0].lr,
            ap={key: ap_values(recs, key) for _, key in AP_KEYS
                if method.masks or not key.startswith('segm')},
            latency=(bench_row.get('latency_stats') or {}).get('total'),
            device=device_words(bench_row.get('environment')),
            train_mib=train_memory_mib(bench_row),
            state_mib=train_state_mib(bench_row),
            train_min=[(tuple(r.trained_on()),
                        r.curve[-1]['train_s'] / 60) for r in recs
                       if r.curve],
            plateau=plateau[0], trained_on=plateau[1],
            run=osp.abspath(out) if out else None))
    return rows


__all__ = [
    'ResultRow', 'Column', 'ConfigFacts', 'config_facts', 'render',
    'paper_rows', 'protocol_rows', 'report_columns', 'REPORT_COLUMNS',
    'PAGE_COLUMNS', 'AP_KEYS', 'mean_std', 'Separation', 'separation',
    'fmt_mean_std', 'ap_values',
    'device_words', 'plateau_cells', 'model_results'
]
