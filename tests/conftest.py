"""Shared fixtures and the one way tests build real model inputs:
repository paths, the real-image data, a tiny config, :func:`load_config`
(configs parsed once per session), :func:`real_dataset` and
:func:`model_inputs`."""
import copy
import os
import os.path as osp
import subprocess
import sys
from typing import Callable, Optional, Sequence

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA = osp.join(ROOT, 'data')
TINY_CFG = osp.join(ROOT, 'tests', 'configs', 'sais_tiny_fruits_nuts.py')


@pytest.fixture(scope='session')
def fruits_nuts() -> str:
    """Path of the real fruits_nuts images (data/fruits_nuts)."""
    path = osp.join(DATA, 'fruits_nuts')
    if not osp.isfile(osp.join(path, 'train.json')):
        pytest.fail(f'{path} missing: run `bash tools/setup.sh` with '
                    '../shared/data present (see docs/datasets.md)')
    return path


# Under pytest-xdist (``make test`` runs one worker per core) each worker and
# each tool it runs uses one thread: two workers' OpenMP pools spinning on
# the same cores would slow both many times over.
THREADS = '1' if os.environ.get('PYTEST_XDIST_WORKER') else '2'


def pytest_configure(config):
    if THREADS == '1':
        import torch
        torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``--dist loadfile`` hands out whole files in
    collection order; setup.cfg's ``--no-loadscope-reorder`` stops xdist
    from re-sorting them by their number of tests), the files with slow
    tests go first, so that no long file starts last while the other
    workers sit idle. Within a file, and without xdist, the order is kept.
    The workers collect: their ``config`` has ``workerinput`` (and a
    ``numprocesses`` option of None)."""
    if not hasattr(config, 'workerinput'):
        return
    slow = {item.path for item in items
            if item.get_closest_marker('slow') is not None}
    items.sort(key=lambda item: item.path not in slow)  # a stable sort


def run_tool(*args, env=None, cwd=ROOT, timeout=600, fresh=False):
    """Run a python tool of the repository as ``python *args`` would;
    return the CompletedProcess (``returncode``, text ``stdout``/``stderr``).

    By default the tool runs in a child forked from a process that has
    imported torch, mmdet and projects once (tests/tool_process.py), which
    saves a fresh interpreter's ~5 s of imports per run. ``fresh=True``
    starts a new interpreter: for runs that measure the process's memory or
    must not find torch already imported.
    """
    full_env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS=THREADS)
    full_env.update(env or {})
    if not fresh:
        from tool_process import run_forked
        return run_forked(args, cwd, full_env, timeout)
    return subprocess.run([sys.executable, *args],
                          cwd=cwd,
                          env=full_env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)


def load_script(rel: str):
    """A script of the repository that is no package module (under tools/
    or docs/), imported from its path, e.g. ``'tools/benchmark.py'``."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        rel.replace('/', '_').replace('.', '_')[:-3], osp.join(ROOT, rel))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_PARSED_CONFIGS = {}


def load_config(path: str):
    """``Config.fromfile(path)``, parsed once per session.

    Many tests read the same zoo configs (every config's name, classes,
    schedule...); each call returns a deep copy of the one parse, so a
    caller may change its config freely. Pass the path as
    ``Config.fromfile`` would get it: it stays the config's ``filename``.
    """
    from mmengine.config import Config
    if path not in _PARSED_CONFIGS:
        _PARSED_CONFIGS[path] = Config.fromfile(path)
    return copy.deepcopy(_PARSED_CONFIGS[path])


def fixed_size_pipeline(pipeline: list, size: int) -> list:
    """A copy of a config's pipeline that resizes to size x size and never
    flips, so tests run on small inputs and two samples of one image match."""
    pipeline = copy.deepcopy(pipeline)
    for t in pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (size, size)
        if t['type'] == 'RandomFlip':
            t['prob'] = 0.
    return pipeline


def real_dataset(cfg, split: str = 'train_dataloader',
                 size: Optional[int] = None, **changes):
    """The dataset of ``cfg[split]`` built on the real images under data/.

    Args:
        cfg (Config): a zoo config (its dataset's ``data_root`` is made
            absolute, so tests run from any directory).
        split (str): ``'train_dataloader'``, ``'val_dataloader'`` or
            ``'test_dataloader'``.
        size (int, optional): resize to ``size x size`` and never flip (see
            :func:`fixed_size_pipeline`); None keeps the config's pipeline.
        **changes: dataset keys to override (``ann_file``, ``filter_cfg``,
            ``pipeline``, ...).

    Returns:
        BaseDataset: ``ds[i]`` is a packed sample (``inputs``: uint8 Tensor
        of shape (3, H, W); ``data_samples``: DetDataSample).
    """
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules()
    ds = copy.deepcopy(cfg[split].dataset)
    ds.data_root = osp.join(ROOT, ds.data_root)
    if size is not None:
        ds.pipeline = fixed_size_pipeline(ds.pipeline, size)
    ds.update(changes)
    return DATASETS.build(ds)


def model_inputs(model, samples: Sequence[dict], training: bool) -> dict:
    """``model.data_preprocessor`` over a collated list of samples from
    :func:`real_dataset`: ``inputs`` Tensor of shape (B, 3, H, W),
    normalised and padded, and ``data_samples``."""
    from mmengine.dataset import pseudo_collate
    return model.data_preprocessor(pseudo_collate(list(samples)), training)


def step_with_each_layer(cfg, layers: Sequence[str],
                         use_layer: Callable[[object, str], None],
                         step: Callable[[object, dict, str], object]
                         ) -> list:
    """One training step of the same model built with each of ``layers``
    (a zoo layer and the mmcv kernel it stands in for), on the first two
    photos of ``cfg``'s training set at 256 x 256.

    For each name: ``use_layer(cfg, name)`` edits the config; the model is
    built in train mode under seed 0 (the same initial weights), then
    ``step(model, inputs, name)`` runs under seed 1 (the same sampler
    draws) on :func:`model_inputs`.

    Returns:
        list: what ``step`` returned, in the order of ``layers``.
    """
    import torch

    from projects.apis import build_model
    ds = real_dataset(cfg, size=256)
    results = []
    for name in layers:
        use_layer(cfg, name)
        torch.manual_seed(0)
        model = build_model(cfg, None, 'cpu').train()
        inputs = model_inputs(model, [ds[0], ds[1]], True)
        torch.manual_seed(1)
        results.append(step(model, inputs, name))
    return results
