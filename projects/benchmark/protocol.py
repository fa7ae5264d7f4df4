"""The zoo's benchmark protocol: what is run, and where its results lie.

One protocol trains every method the same way on one dataset:
the same input size, batch, iteration budget, initialisation,
augmentation and evaluation, which the methods' small-data configs already
share (``configs/_base_/datasets/feral_cats_instance.py``,
``configs/_base_/schedules/schedule_small_data.py``). Per method only the
learning rate differs, and it is picked by one short probe over one grid
(:func:`probe_score`). ``tools/protocol.py`` runs it; this module holds the
plan (:data:`FERAL_CATS`), the delta configs each run trains with, and the
readers of what MMEngine wrote. A method's row (its key, config and
whether it has prototypes or masks) is declared in its own metafile, as
the ``Protocol`` field of its config's Model entry
(:meth:`projects.apis.MethodIndex.protocol_rows`); this module only orders
the rows and chooses their seeds.

Layout of a results folder (``--out``)::

    protocol.json              the plan and the device of every run
    probe/<method>_lr<lr>.json scalars of one probe run (MMEngine's)
    runs/<method>_s<seed>/     config.py (the delta), scalars.json, run.json
    memory/                    tools/benchmark.py's run on the seed-0 weights

Checkpoints and MMEngine's own logs stay in ``--work-root``
(``work_dirs/protocol/<dataset>``, git-ignored), from which an interrupted
run resumes.
"""
import json
import math
import os
import os.path as osp
import re
import statistics
from dataclasses import asdict, dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

from projects.engine.scalars import scalar_records


@dataclass(frozen=True)
class Method:
    """One row of the protocol.

    Args:
        key (str): short name, used in run names (``sais``).
        config (str): the method's small-data config on the protocol's
            dataset, relative to the repository root.
        seeds (tuple[int]): seeds trained by default.
        prototypes (bool): the method has a prototype mask branch
            (``mask_head.protonet``): the protocol logs
            :class:`~projects.engine.PrototypeStatsHook` (the small-data
            configs of these methods switch ``proto_norm`` on).
        masks (bool): the method predicts masks; False for a box detector
            (FCOS), whose mask AP the report leaves out instead of
            counting COCO's 0.
        claims (tuple[Claim]): the source documents' comparisons of this
            method with other rows (:class:`projects.apis.metafiles.
            Claim`), checked by the report of a converged protocol.
    """
    key: str
    config: str
    seeds: Tuple[int, ...] = (0, )
    prototypes: bool = False
    masks: bool = True
    claims: tuple = ()


@dataclass(frozen=True)
class Protocol:
    """A whole protocol.

    Args:
        name (str): names the work root (``work_dirs/protocol/<name>``).
        methods (tuple[Method]): the rows, in table order.
        lr_grid (tuple[float]): learning rates every probe tries.
        probe_iters (int): iterations of a probe run (the schedule's 20
            warm-up iterations included).
        probe_window (tuple[int, int]): the probe's score is the mean
            training loss over these iterations (first, last], read from
            the 10-iteration means MMEngine logs.
        val_at (tuple[int]): iterations after which the val split is
            evaluated (learning curves); the last is the budget.
        checkpoint_interval (int): how many iterations an interrupted run
            can lose.
        amp (bool): train in mixed precision (``tools/train.py --amp``:
            bf16 on the CPU). Defaults to False.
        lr_from (str, optional): a results folder whose probed lrs this
            protocol trains with (its ``probe/choice.json``), instead of
            probing again.
        plateau (bool): the report gives each run's plateau verdict
            (:func:`plateau_verdict`). Defaults to False.
    """
    name: str
    methods: Tuple[Method, ...]
    lr_grid: Tuple[float, ...] = (0.001, 0.003, 0.01)
    probe_iters: int = 40
    probe_window: Tuple[int, int] = (20, 40)
    val_at: Tuple[int, ...] = (50, 100, 200)
    checkpoint_interval: int = 50
    amp: bool = False
    lr_from: Optional[str] = None
    plateau: bool = False

    @property
    def max_iters(self) -> int:
        return self.val_at[-1]

    def method(self, key: str) -> Method:
        """The method named ``key``.

        Raises:
            KeyError: no method of that key, with the keys there are.
        """
        for m in self.methods:
            if m.key == key:
                return m
        raise KeyError(f'no method {key!r} in protocol {self.name!r}; '
                       f'methods: {", ".join(m.key for m in self.methods)}')


#: The row order of SAIS's Table IV; a method not named here comes after
#: these, in key order.
TABLE_ORDER = ('sais', 'yolact', 'yolactpp', 'sss', 'yolo_mask', 'solo',
               'decoupled_solo', 'decoupled_solo_light', 'solov2', 'sais_rt',
               'blendmask', 'blendmask_rt', 'condinst', 'condinst_rt',
               'fcos', 'mask_rcnn')


def metafile_methods(order: Sequence[str] = (),
                     seeds: Optional[Dict[str, Tuple[int, ...]]] = None,
                     index=None) -> Tuple[Method, ...]:
    """The protocol's rows, from the metafiles' ``Protocol`` entries.

    Args:
        order (Sequence[str]): keys that come first, in this order; the
            rest follow in key order.
        seeds (dict, optional): key -> seeds; default ``(0, )``.
        index (MethodIndex, optional): the metafiles; default those of the
            repository's ``configs/``.

    Returns:
        tuple[Method]: one per declared row.

    Raises:
        MetafileError: a malformed ``Protocol`` field, a key declared twice.
        KeyError: a key in ``order`` or ``seeds`` that no metafile declares.
    """
    from projects.apis.metafiles import MethodIndex
    rows = (index or MethodIndex()).protocol_rows()
    seeds = seeds or {}
    unknown = sorted((set(order) | set(seeds)) - set(rows))
    if unknown:
        raise KeyError(f'protocol rows {unknown} are declared by no '
                       'metafile (a Protocol field under configs/*/'
                       f'metafile.yml); declared: {sorted(rows)}')
    keys = list(order) + sorted(set(rows) - set(order))
    return tuple(
        Method(key, rows[key].config, tuple(seeds.get(key, (0, ))),
               bool(rows[key].protocol.get('Prototypes', False)),
               bool(rows[key].protocol.get('Masks', True)),
               tuple(rows[key].protocol.get('Claims', ())))
        for key in keys)


FERAL_CATS = Protocol(
    name='feral_cats',
    methods=metafile_methods(
        TABLE_ORDER, {key: (0, 1, 2) for key in (
            'sais', 'yolact', 'solov2', 'blendmask', 'condinst',
            'mask_rcnn')}))

#: The converged budget: every method's ``*_1xb2-24e_feral-cats-384.py``
#: (its 200-iteration config for 24 epochs, lr steps at 2/3 and 8/9; the
#: FCOS-family heads with ``conv_reg``'s bias at 1), in bf16, at the lrs
#: the 200-iteration probe picked, validated every 2 epochs. Seed 0 of the
#: first eight methods first, then seeds 1 and 2 of SAIS, YOLACT and Mask
#: R-CNN, then the rest.
RUN_ORDER = ('sais', 'sais_rt', 'yolact', 'yolactpp', 'solov2', 'condinst',
             'blendmask', 'mask_rcnn', 'sss', 'solo', 'decoupled_solo',
             'decoupled_solo_light', 'blendmask_rt', 'condinst_rt',
             'yolo_mask', 'fcos')
FERAL_CATS_24E = Protocol(
    name='feral_cats_24e',
    methods=tuple(
        replace(m, config=m.config.replace('1xb2-200i', '1xb2-24e'),
                seeds=(0, 1, 2) if m.key in ('sais', 'yolact', 'mask_rcnn')
                else (0, ))
        for m in sorted(FERAL_CATS.methods, key=lambda m: RUN_ORDER.index(
            m.key) if m.key in RUN_ORDER else len(RUN_ORDER))),
    val_at=tuple(range(192, 2305, 192)),
    checkpoint_interval=96,
    amp=True,
    lr_from='docs/results/feral_cats_cpu',
    plateau=True)

PROTOCOLS = {p.name: p for p in (FERAL_CATS, FERAL_CATS_24E)}


def plateau_verdict(curve: Sequence[dict], max_iters: int,
                    gain: float = 1.0) -> Tuple[str, float]:
    """Whether a run's val mask AP curve is flat: the last quarter of the
    schedule (from the last validation at or before 3/4 of ``max_iters``
    to the last one) gains less than ``gain`` AP points.

    Args:
        curve (list[dict]): :func:`learning_curve` points (``iter``,
            ``segm_mAP`` in %).
        max_iters (int): the schedule's length.
        gain (float): AP points. Defaults to 1.0.

    Returns:
        tuple[str, float]: ``'flat'``, ``'rising'`` or ``'too short'`` (no
        validation at or before 3/4 of the schedule, or none at its end)
        and the gain in AP points (nan when too short).
    """
    quarter = [p for p in curve if p['iter'] <= 0.75 * max_iters]
    last = [p for p in curve if p['iter'] == max_iters]
    if not quarter or not last:
        return 'too short', math.nan
    delta = last[0]['segm_mAP'] - quarter[-1]['segm_mAP']
    return ('flat' if delta < gain else 'rising'), delta


def lr_tag(lr: float) -> str:
    """``0.003`` -> ``'0.003'``: the learning rate as run names spell it."""
    return f'{lr:g}'


def probe_name(method: Method, lr: float) -> str:
    return f'{method.key}_lr{lr_tag(lr)}'


def run_name(method: Method, seed: int) -> str:
    return f'{method.key}_s{seed}'


def _method_lines(method: Method) -> List[str]:
    if not method.prototypes:
        return []
    return ["custom_hooks = [dict(type='PrototypeStatsHook')]"]


def _base_line(method: Method, config_dir: str, repo_root: str) -> str:
    base = osp.relpath(osp.join(repo_root, method.config), config_dir)
    return f'_base_ = {base!r}'


def probe_config(protocol: Protocol, method: Method, lr: float,
                 config_dir: str, repo_root: str) -> str:
    """Text of the delta config of one probe run.

    The method's config with the probe's lr, ``protocol.probe_iters``
    iterations, a log line every 10 iterations, no validation and no
    checkpoint.

    Args:
        config_dir (str): the folder the config will be written to (its
            ``_base_`` path is relative to it, as MMEngine resolves it).
        repo_root (str): the repository root.
    """
    return '\n'.join([
        f'# lr probe of {method.key} at lr {lr:g} (tools/protocol.py)',
        _base_line(method, config_dir, repo_root),
        f'optim_wrapper = dict(optimizer=dict(lr={lr!r}))',
        f'train_cfg = dict(max_iters={protocol.probe_iters}, '
        'val_interval=10**9)',
        'val_cfg = None', 'val_dataloader = None', 'val_evaluator = None',
        'default_hooks = dict(logger=dict(interval=10), checkpoint=dict('
        'interval=10**9, save_last=False))',
        *_method_lines(method), ''])


def train_config(protocol: Protocol, method: Method, lr: float, seed: int,
                 config_dir: str, repo_root: str) -> str:
    """Text of the delta config of one protocol run.

    The method's config (its schedule's budget) with the probe's lr, the
    seed, validation after each of ``protocol.val_at`` (MMEngine's
    ``dynamic_intervals``; metrics logged at the iteration, not epoch 0)
    and a checkpoint every ``protocol.checkpoint_interval`` iterations.

    Raises:
        ValueError: ``val_at`` is not increasing or not made of intervals
            MMEngine can express (each a multiple of the one before it).
    """
    points = list(protocol.val_at)
    intervals = [points[0]] + [b - a for a, b in zip(points, points[1:])]
    dynamic = []
    for start, step in zip(points, intervals[1:]):
        if step <= 0 or start % step:
            raise ValueError(f'val_at {protocol.val_at}: {start} + {step} '
                             'cannot follow as an MMEngine val interval')
        if step != intervals[0] or dynamic:
            dynamic.append((start, step))
    return '\n'.join([
        f'# protocol {protocol.name!r} run of {method.key}, seed {seed} '
        '(tools/protocol.py)',
        _base_line(method, config_dir, repo_root),
        f'optim_wrapper = dict(optimizer=dict(lr={lr!r}))',
        f'randomness = dict(seed={seed})',
        f'train_cfg = dict(max_iters={protocol.max_iters}, '
        f'val_interval={intervals[0]}, dynamic_intervals={dynamic!r})',
        'default_hooks = dict(logger=dict(interval=10, '
        'log_metric_by_epoch=False), checkpoint=dict('
        f'interval={protocol.checkpoint_interval}, max_keep_ckpts=1, '
        'save_last=True))',
        *_method_lines(method), ''])


def load_choices(out: str) -> Dict[str, dict]:
    """``{method: {'lr': ..., 'scores': {...}}}`` of the results folder's
    ``probe/choice.json`` (empty before any method's probes are done)."""
    path = osp.join(out, 'probe', 'choice.json')
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def read_scalars(work_dir: str) -> List[dict]:
    """Every record MMEngine's LocalVisBackend wrote under ``work_dir``,
    over all its (resumed) runs: training records sorted by ``iter``, a
    later run's record replacing an earlier one of the same iteration,
    then validation records sorted by ``step`` (a validation that
    detected nothing has no ``coco/`` keys: COCO's AP is 0 there).

    Args:
        work_dir (str): an MMEngine work dir (``<timestamp>/vis_data/
            scalars.json`` inside).

    Returns:
        list[dict]: the records; empty when nothing was written yet. A
        line cut short by a kill is skipped
        (:func:`projects.engine.scalars.scalar_records`).
    """
    train: Dict[int, dict] = {}
    val: Dict[int, dict] = {}
    for rec in scalar_records(work_dir):
        if 'iter' in rec:
            train[rec['iter']] = rec
        elif 'step' in rec:
            # a validation; without coco/ keys when nothing was
            # detected (mmdet's CocoMetric returns {}): AP 0
            val[rec['step']] = rec
    return ([train[k] for k in sorted(train)] +
            [val[k] for k in sorted(val)])


def probe_score(records: Sequence[dict], window: Tuple[int, int]) -> float:
    """The probe's criterion: mean logged training ``loss`` over the
    records with ``window[0] < iter <= window[1]`` (each record is a
    10-iteration mean). Lower is better; a NaN or infinite loss scores
    ``inf``, so that a diverging lr is never picked.

    Raises:
        ValueError: no record falls in the window (the probe did not run
            that far).
    """
    losses = [r['loss'] for r in records
              if 'iter' in r and window[0] < r['iter'] <= window[1]]
    if not losses:
        raise ValueError(f'no training record in iterations {window}')
    if any(not math.isfinite(v) for v in losses):
        return math.inf
    return sum(losses) / len(losses)


NON_FINITE = re.compile(r'NonFiniteLossError: (iteration \d+: non-finite '
                        r'loss: [^;\n]*)')


def non_finite_stop(log_text: str) -> Optional[str]:
    """Why a training stopped at a NaN/inf loss, from its console log
    (:class:`~projects.engine.nan_guard.NonFiniteLossHook`'s error), e.g.
    ``'iteration 23: non-finite loss: loss = nan'``; None if it did not."""
    found = NON_FINITE.search(log_text)
    return found.group(1) if found else None


def probe_record_score(record: dict, window: Tuple[int, int]) -> float:
    """:func:`probe_score` of a probe record; ``inf`` for a probe that the
    NaN guard stopped (``record['stopped']``): a diverging lr never wins.
    """
    if record.get('stopped'):
        return math.inf
    return probe_score(record['records'], window)


def pick_lr(scores: Dict[float, float]) -> float:
    """The lr of the lowest probe score (the smaller lr on a tie).

    Raises:
        ValueError: no score, or every score is ``inf``.
    """
    finite = {lr: s for lr, s in scores.items() if math.isfinite(s)}
    if not finite:
        raise ValueError(f'no lr of {sorted(scores)} trained without NaN')
    return min(sorted(finite), key=lambda lr: finite[lr])


def final_metrics(records: Sequence[dict], at: int) -> Optional[dict]:
    """The validation record logged at iteration ``at`` (None if absent)."""
    for r in records:
        if 'iter' not in r and r.get('step') == at:
            return r
    return None


def train_seconds(records: Sequence[dict], upto: int) -> float:
    """Training time (s) of iterations 1 to ``upto`` at the run's own pace:
    ``upto`` times the median of the logged per-iteration ``time`` (data
    loading included, validation excluded) over all its training records.

    The median, not the sum of the logged windows: a run that was paused
    (SIGSTOP, a suspended machine) or shared its cores for a while logs
    windows many times slower than its pace, and the windows an
    interrupted run lost before its last checkpoint are logged twice or
    not at all.

    Returns:
        float: seconds; 0 without training records.
    """
    times = [r['time'] for r in records if 'iter' in r]
    return statistics.median(times) * upto if times else 0.0


def precision_of(device: str, amp: bool) -> str:
    """The training precision a run records: ``'fp32'`` without ``--amp``;
    with it ``'bf16'`` on the CPU (bf16 autocast) and ``'fp16'`` on a GPU
    (mmengine's ``AmpOptimWrapper``)."""
    if not amp:
        return 'fp32'
    return 'bf16' if device == 'cpu' else 'fp16'


@dataclass
class RunRecord:
    """What ``runs/<name>/run.json`` keeps of one finished run.

    Args:
        method (str), seed (int), lr (float): the run.
        config (str): the method's config.
        device (str): where it ran, in words (its last part's, for a run
            resumed elsewhere: :meth:`trained_on` names every part's).
        precision (str): training precision (:func:`precision_of`; the
            last part's too); records written before it was kept are
            fp32.
        metrics (dict): the final validation record (COCO metrics in
            [0, 1], as MMDetection logs them).
        curve (list[dict]): per validation point ``iter``, ``train_s``
            (training time until then at the run's pace, s:
            :func:`train_seconds`), ``segm_mAP`` and
            ``bbox_mAP`` (%).
        wall_s (float): wall time of the whole run (s), validation and
            start-up included, summed over resumed parts.
        parts (list[dict]): per process that trained it (a run resumed in
            a later session has several): ``device``, ``precision``,
            ``wall_s`` and how it ``ended``
            (:mod:`~projects.benchmark.run_parts`); empty in records
            written before parts were kept, where ``device`` and
            ``precision`` say it all.
        checkpoint (str, optional): the weights ``metrics`` belong to
            (relative to the repository; not in git), so that
            tools/benchmark.py ``--ap-from`` matches them to its rows.
    """
    method: str
    seed: int
    lr: float
    config: str
    device: str
    metrics: dict
    precision: str = 'fp32'
    curve: List[dict] = field(default_factory=list)
    wall_s: float = 0.0
    checkpoint: Optional[str] = None
    parts: List[dict] = field(default_factory=list)

    def places(self) -> List[Tuple[str, str]]:
        """``(precision, device)`` of each part, in their order; the
        record's own for a record without parts."""
        return ([(p['precision'], p['device']) for p in self.parts] or
                [(self.precision, self.device)])

    def trained_on(self) -> List[str]:
        """Where it trained: ``'<precision>, <device>'`` per distinct
        (precision, device) of its parts, in their order."""
        return list(dict.fromkeys(f'{precision}, {device}'
                                  for precision, device in self.places()))

    def save(self, path: str) -> None:
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(asdict(self), f, indent=1)

    @classmethod
    def load(cls, path: str) -> 'RunRecord':
        with open(path) as f:
            return cls(**json.load(f))


def learning_curve(records: Sequence[dict]) -> List[dict]:
    """One point per validation record: iteration, training time until
    then (s) and box / mask AP (%)."""
    curve = []
    for r in records:
        if 'iter' in r:
            continue
        it = r['step']
        curve.append(dict(
            iter=it, train_s=round(train_seconds(records, it), 1),
            segm_mAP=round(100 * r.get('coco/segm_mAP', 0.0), 2),
            bbox_mAP=round(100 * r.get('coco/bbox_mAP', 0.0), 2)))
    return curve
