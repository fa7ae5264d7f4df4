"""Training speed of a config as ``tools/train.py`` runs it: seconds per
iteration and data wait from MMEngine's own per-iteration log, and the
training process's peak memory. ``tools/analysis/train_speed.py`` runs it.

Each measurement is one ``tools/train.py`` process on a delta config
(:func:`speed_config`): the config's own data loader, pipeline, model and
optim wrapper (``--amp`` for bf16), ``iters`` iterations, a log record for
every iteration with a window of 1 (so that each record is that
iteration's ``time`` and ``data_time``, as ``IterTimerHook`` measures
them), no validation and no checkpoint.
"""
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from .protocol import read_scalars


def speed_config(config: str, iters: int, config_dir: str) -> str:
    """Text of the delta config of one speed run.

    Args:
        config (str): the config to measure (path as given to
            tools/train.py, relative to the repository root or absolute).
        iters (int): iterations to train.
        config_dir (str): where the delta config is written (its
            ``_base_`` is relative to it).
    """
    base = osp.relpath(osp.abspath(config), osp.abspath(config_dir))
    return '\n'.join([
        f'# training speed run of {config} (tools/analysis/train_speed.py)',
        f'_base_ = {base!r}',
        f'train_cfg = dict(max_iters={iters}, val_interval=10**9, '
        'dynamic_intervals=None)',
        'val_cfg = None', 'val_dataloader = None', 'val_evaluator = None',
        'test_cfg = None', 'test_dataloader = None', 'test_evaluator = None',
        'default_hooks = dict(logger=dict(interval=1, '
        'log_metric_by_epoch=False), checkpoint=dict(interval=10**9, '
        'save_last=False))',
        'log_processor = dict(window_size=1, by_epoch=False)', ''])


def run_speed(config: str, precision: str, iters: int, work_dir: str,
              repo_root: str, cfg_options: Sequence[str] = ()) -> dict:
    """Trains ``config`` for ``iters`` iterations in its own
    ``tools/train.py`` process.

    Args:
        config (str): the config, relative to ``repo_root``.
        precision (str): ``'fp32'``, or ``'bf16'`` (``--amp``).
        iters (int): iterations.
        work_dir (str): the run's work dir (emptied of earlier runs'
            logs by ``--overwrite``; the delta config goes there too).
        repo_root (str): the repository root (the process's cwd).
        cfg_options (list[str]): ``KEY=VALUE`` overrides for
            tools/train.py's ``--cfg-options``.

    Returns:
        dict: ``records`` (MMEngine's per-iteration scalars), ``wall_s``
        (process wall time, s), ``peak_rss_mib`` (peak resident memory of
        the training process, its loader worker included: ``wait4``'s
        ``ru_maxrss``, the largest of the two) and ``log`` (its console
        output's path).

    Raises:
        ValueError: ``precision`` unknown.
        RuntimeError: the training failed; names its log.
    """
    if precision not in ('fp32', 'bf16'):
        raise ValueError(f'precision {precision!r}; allowed: fp32, bf16')
    os.makedirs(work_dir, exist_ok=True)
    delta = osp.join(work_dir, 'speed_config.py')
    with open(delta, 'w') as f:
        f.write(speed_config(osp.join(repo_root, config), iters, work_dir))
    cmd = [sys.executable, 'tools/train.py', delta, '--work-dir', work_dir,
           '--overwrite'] + (['--amp'] if precision == 'bf16' else [])
    if cfg_options:
        cmd += ['--cfg-options', *cfg_options]
    log = osp.join(work_dir, 'train.out')
    for old in os.listdir(work_dir):  # the scalars of an earlier run
        if old[:8].isdigit() and osp.isdir(osp.join(work_dir, old)):
            subprocess.call(['rm', '-rf', osp.join(work_dir, old)])
    start = time.time()
    with open(log, 'w') as f:
        proc = subprocess.Popen(cmd, cwd=repo_root, stdout=f,
                                stderr=subprocess.STDOUT,
                                env=dict(os.environ, CUDA_VISIBLE_DEVICES=''))
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - start
    rc = os.waitstatus_to_exitcode(status)
    if rc:
        raise RuntimeError(f'{config} ({precision}): tools/train.py exited '
                           f'with {rc}; see {log}')
    return dict(records=[r for r in read_scalars(work_dir) if 'iter' in r],
                wall_s=round(wall, 1),
                peak_rss_mib=round(usage.ru_maxrss / 1024, 1), log=log)


def summarize(records: Sequence[dict], window: Tuple[int, int]) -> dict:
    """Medians over the iterations ``window[0] < iter <= window[1]`` of the
    per-iteration records: ``step_s`` (``time``, data wait included),
    ``data_s`` (``data_time``) and ``compute_s`` (their difference), in s,
    with ``n`` the number of iterations and ``step_iqr_s`` the
    inter-quartile range of ``time``; and the means ``step_mean_s`` and
    ``data_mean_s`` (a wait at every epoch's first batch shows in the mean,
    not in the median).

    Raises:
        ValueError: no record in the window.
    """
    rows = [r for r in records if window[0] < r['iter'] <= window[1]]
    if not rows:
        raise ValueError(f'no per-iteration record in {window}')
    step = [r['time'] for r in rows]
    data = [r['data_time'] for r in rows]
    q = statistics.quantiles(step, n=4) if len(step) > 1 else [0, 0, 0]
    return dict(n=len(rows), step_s=round(statistics.median(step), 3),
                data_s=round(statistics.median(data), 3),
                compute_s=round(statistics.median(
                    [s - d for s, d in zip(step, data)]), 3),
                step_iqr_s=round(q[2] - q[0], 3),
                step_mean_s=round(statistics.fmean(step), 3),
                data_mean_s=round(statistics.fmean(data), 3))


def speed_table(results: List[dict]) -> str:
    """Markdown table of :func:`run_speed` + :func:`summarize` results,
    one row per config with its fp32 and bf16 figures side by side."""
    by_config: Dict[Tuple[str, str], Dict[str, dict]] = {}
    for r in results:
        key = (r['config'], r.get('label', ''))
        by_config.setdefault(key, {})[r['precision']] = r
    lines = ['| config | fp32 s/iter | bf16 s/iter | speed-up | '
             'fp32 data s (median / mean) | bf16 data s (median / mean) | '
             'fp32 peak MiB | bf16 peak MiB |',
             '| --- | --- | --- | --- | --- | --- | --- | --- |']

    def cell(r: Optional[dict], key: str, fmt: str) -> str:
        return '-' if r is None else format(r[key], fmt)

    def data(r: Optional[dict]) -> str:
        return '-' if r is None else \
            f'{r["data_s"]:.3f} / {r.get("data_mean_s", r["data_s"]):.3f}'

    for (config, label), runs in by_config.items():
        fp32, bf16 = runs.get('fp32'), runs.get('bf16')
        speedup = (f'{fp32["step_s"] / bf16["step_s"]:.2f}x'
                   if fp32 and bf16 else '-')
        name = osp.splitext(osp.basename(config))[0]
        name = f'`{name}`' + (f' ({label})' if label else '')
        lines.append(
            f'| {name} | {cell(fp32, "step_s", ".3f")} | '
            f'{cell(bf16, "step_s", ".3f")} | {speedup} | '
            f'{data(fp32)} | {data(bf16)}'
            f' | {cell(fp32, "peak_rss_mib", ".0f")} | '
            f'{cell(bf16, "peak_rss_mib", ".0f")} |')
    cpus = sorted({f'{r["cpu"]}, {r["threads"]} torch threads'
                   for r in results})
    window = sorted({tuple(r['window']) for r in results})
    lines += ['', 'Medians over iterations ' + ', '.join(
        f'{a + 1}-{b}' for a, b in window) + '; measured on ' +
        '; '.join(cpus) + '.']
    return '\n'.join(lines)


def load_results(path: str) -> List[dict]:
    """The results list of a speed JSON (empty if the file is absent)."""
    if not osp.isfile(path):
        return []
    with open(path) as f:
        return json.load(f)['results']
