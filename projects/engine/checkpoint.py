"""Load MMEngine checkpoints under torch's ``weights_only=True`` default.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True`` and refuses
any global it does not know. MMEngine 0.10.7 saves its ``MessageHub`` state in
every checkpoint and loads checkpoints with that default, so ``--resume`` and
``tools/test.py`` fail on checkpoints training has just written::

    Unsupported global: mmengine.logging.history_buffer.HistoryBuffer

What such a checkpoint pickles
(``torch.serialization.get_unsafe_globals_in_checkpoint`` lists it):

* ``HistoryBuffer`` objects, whose ``__getstate__`` adds the class's
  statistic methods; pickle protocol 2 writes each as
  ``getattr(HistoryBuffer, 'min' | 'max' | 'current' | 'mean')``;
* numpy arrays, scalars and dtypes inside them (``_reconstruct``,
  ``ndarray``, ``dtype``, ``scalar`` and the dtype classes).

The fix allows exactly these, instead of loading with
``weights_only=False`` (which runs any pickled code in a checkpoint file).
``builtins.getattr`` itself is never allowed: it would open every attribute
of every allowed object, so a stand-in registered under that name resolves
only the four HistoryBuffer methods and refuses anything else.
"""
import os
import pickle
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def history_buffer_method(owner: type, name: str) -> Callable:
    """``getattr`` restricted to the statistic methods mmengine pickles.

    Args:
        owner (type): must be :class:`HistoryBuffer`.
        name (str): one of ``min``, ``max``, ``current``, ``mean``.

    Returns:
        Callable: ``HistoryBuffer.<name>``.

    Raises:
        pickle.UnpicklingError: for any other object or attribute.
    """
    if owner is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({owner!r}, {name!r}); only '
        f'HistoryBuffer.{{{", ".join(_HISTORY_BUFFER_METHODS)}}} are allowed')


def _numpy_globals() -> List[Union[object, Tuple[object, str]]]:
    """numpy objects an ndarray, scalar or dtype pickles through, under the
    names of numpy 2 (``numpy._core``) and numpy 1 (``numpy.core``)."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    out: List[Union[object, Tuple[object, str]]] = []
    for name in ('_reconstruct', 'scalar'):
        fn = getattr(multiarray, name)
        for mod in ('numpy._core.multiarray', 'numpy.core.multiarray'):
            out.append((fn, f'{mod}.{name}'))
    out += [(np.ndarray, 'numpy.ndarray'), (np.dtype, 'numpy.dtype')]
    # the dtype classes: BUILD (setstate) on a dtype needs its class allowed
    out += [
        type(np.dtype(t)) for t in (np.float64, np.float32, np.float16,
                                    np.int64, np.int32, np.int16, np.int8,
                                    np.uint8, np.bool_)
    ]
    return out


#: Allowed in addition to torch's own safe set.
MMENGINE_CHECKPOINT_GLOBALS: List[Union[object, Tuple[object, str]]] = [
    HistoryBuffer, (history_buffer_method, 'builtins.getattr')
] + _numpy_globals()


def allow_mmengine_checkpoints() -> None:
    """Allow the types MMEngine writes into checkpoints for ``torch.load``.

    Idempotent; call it once before a Runner loads or resumes a checkpoint
    (tools/train.py and tools/test.py do). Loading stays
    ``weights_only=True``: any other global is still refused.
    """
    torch.serialization.add_safe_globals(MMENGINE_CHECKPOINT_GLOBALS)


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint pickles a call or class outside the allowed set (for
    example ``os.system``): loading it could run code, so it is refused."""


class UnreadableCheckpointError(RuntimeError):
    """A checkpoint file that cannot be read: truncated, empty or not a
    ``torch.save`` file (for example a run killed while writing it)."""


def _unsafe_globals(path: str) -> List[str]:
    """The globals of ``path`` that ``weights_only`` loading refuses
    (best effort: empty if torch cannot list them)."""
    try:
        return list(
            torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # a legacy (non-zip) file: torch cannot list them
        return []


def load_safe_checkpoint(path: str) -> dict:
    """Load ``path`` on the CPU with ``weights_only=True`` and the types
    MMEngine writes (:func:`allow_mmengine_checkpoints`), never running any
    code the file pickles.

    Every loading path of the zoo calls it first (tools/train.py for
    ``--resume`` and ``load_from``, tools/test.py, tools/benchmark.py), so a
    file from elsewhere is refused with its own message before MMEngine's
    loader, whose torch message is a page long.

    Args:
        path (str): The checkpoint file.

    Returns:
        dict: What ``torch.load`` returns (``state_dict``, ``meta``, ...).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafeCheckpointError: the file pickles a call or class outside
            torch's and MMEngine's safe set; the message names them.
        UnreadableCheckpointError: the file is truncated, empty or not a
            checkpoint.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r}: no such file')
    allow_mmengine_checkpoints()
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        # torch words every weights_only failure alike; it is an unsafe
        # file when it names a global, else a damaged one
        names = _unsafe_globals(path)
        if not names and 'Unsupported global' not in str(e) and \
                'only HistoryBuffer' not in str(e):
            raise UnreadableCheckpointError(
                f'checkpoint {path!r} cannot be read: '
                f'{str(e).splitlines()[-1][:200]}') from None
        names = names or [str(e).splitlines()[-1][:200]]
        raise UnsafeCheckpointError(
            f'refusing checkpoint {path!r}: it pickles '
            f'{", ".join(names)}, which could run code when loaded; only '
            'tensors, plain containers and MMEngine\'s log types are '
            'allowed. Re-save its state_dict from a trusted source.'
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise UnreadableCheckpointError(
            f'checkpoint {path!r} cannot be read ({type(e).__name__}: '
            f'{str(e).splitlines()[0] if str(e) else ""})') from None


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the model a config builds: tensors
    of another shape, or keys missing on either side. Raised before any
    test, demo or benchmark runs on half-loaded weights (mmengine loads
    with ``strict=False`` and only logs the mismatches)."""


def _trained_with(meta: dict) -> Optional[str]:
    """'<experiment> (model <Type>, N classes: a, b)' from an mmengine
    checkpoint's ``meta`` (its ``experiment_name``, the model type in its
    ``cfg`` text and ``dataset_meta['classes']``); None when it has none."""
    parts = []
    name = meta.get('experiment_name')
    if name:
        # mmengine's '<config name>_<YYYYMMDD>_<HHMMSS>'
        parts.append(re.sub(r'_\d{8}_\d{6}$', '', name))
    found = re.search(r"^model = dict\(\n(?:    .*\n)*?    type='(\w+)'",
                      meta.get('cfg') or '', re.M)
    classes = (meta.get('dataset_meta') or {}).get('classes') or \
        meta.get('CLASSES')
    detail = [f'model {found.group(1)}'] if found else []
    if classes:
        detail.append(f'{len(classes)} class{"es" * (len(classes) != 1)}: '
                      f'{", ".join(map(str, classes[:5]))}'
                      f'{", ..." if len(classes) > 5 else ""}')
    if not parts and not detail:
        return None
    return ' '.join(parts + ([f'({"; ".join(detail)})'] if detail else []))


@dataclass
class StateFit:
    """How a checkpoint's state dict fits a model (:func:`compare_state`).

    Attributes:
        loadable (dict): the checkpoint's tensors whose key and shape the
            model has (a ``module.`` prefix removed).
        shape (list[tuple]): (key, checkpoint shape, model shape) of the
            tensors of another shape.
        missing (list[str]): the model's keys the checkpoint lacks.
        unexpected (list[str]): the checkpoint's keys the model lacks.
    """
    loadable: Dict[str, torch.Tensor]
    shape: List[Tuple[str, tuple, tuple]]
    missing: List[str]
    unexpected: List[str]

    @property
    def fits(self) -> bool:
        return not (self.shape or self.missing or self.unexpected)


def compare_state(model: torch.nn.Module, checkpoint: dict) -> StateFit:
    """Compare a checkpoint's state dict (``state_dict`` inside, or the
    dict itself; a ``module.`` prefix removed, as mmengine does) with
    ``model.state_dict()``.

    Args:
        model (nn.Module): the model (unwrapped).
        checkpoint (dict): what :func:`load_safe_checkpoint` returned.

    Returns:
        StateFit: what fits and what does not.
    """
    state = checkpoint.get('state_dict', checkpoint)
    state = {re.sub(r'^module\.', '', k): v for k, v in state.items()}
    own = model.state_dict()
    shape = [(k, tuple(v.shape), tuple(own[k].shape)) for k, v in
             state.items() if k in own and hasattr(v, 'shape') and
             tuple(v.shape) != tuple(own[k].shape)]
    bad = {k for k, _, _ in shape}
    return StateFit(
        loadable={k: v for k, v in state.items() if k in own and
                  k not in bad},
        shape=shape, missing=[k for k in own if k not in state],
        unexpected=[k for k in state if k not in own])


def check_checkpoint_fits(model: torch.nn.Module, checkpoint: dict,
                          path: str = 'checkpoint', config: str = 'config',
                          classes: Optional[Sequence[str]] = None) -> None:
    """Refuse a checkpoint whose weights do not fit ``model``.

    Compares the checkpoint's state dict (``state_dict`` inside, or the
    dict itself; a ``module.`` prefix removed, as mmengine does) with
    ``model.state_dict()``: tensors of another shape, keys the checkpoint
    lacks and keys the model lacks.

    Args:
        model (nn.Module): the model the config builds (unwrapped).
        checkpoint (dict): what :func:`load_safe_checkpoint` returned.
        path (str): the checkpoint's path, for the message.
        config (str): the config's path, for the message.
        classes (list[str], optional): the config's class names, for the
            message.

    Raises:
        CheckpointMismatchError: anything does not fit. The message gives
            the count of each kind and its first three keys (with both
            shapes), what the checkpoint was trained with (its ``meta``:
            config name, model type, classes) and what the config builds.
    """
    fit = compare_state(model, checkpoint)
    shape, missing, unexpected = fit.shape, fit.missing, fit.unexpected
    if fit.fits:
        return
    kinds = []
    if shape:
        kinds.append(f'{len(shape)} tensor{"s" * (len(shape) > 1)} of '
                     'another shape (' + '; '.join(
                         f'{k}: {list(a)} in the checkpoint, {list(b)} in '
                         'the model' for k, a, b in shape[:3]) + ')')
    for keys, what in ((missing, 'missing from the checkpoint'),
                       (unexpected, 'not in the model')):
        if keys:
            kinds.append(f'{len(keys)} key{"s" * (len(keys) > 1)} {what} '
                         f'({", ".join(keys[:3])}'
                         f'{", ..." if len(keys) > 3 else ""})')
    builds = type(model).__name__
    if classes:
        builds += (f' ({len(classes)} class{"es" * (len(classes) != 1)}: '
                   f'{", ".join(map(str, classes[:5]))}'
                   f'{", ..." if len(classes) > 5 else ""})')
    trained = _trained_with(checkpoint.get('meta') or {})
    raise CheckpointMismatchError(
        f'checkpoint {path!r} does not fit {config!r}: ' + '; '.join(kinds) +
        '. ' + (f'This checkpoint was trained with {trained}; ' if trained
                else 'The checkpoint names no config; ') +
        f'this config builds {builds}. Use the config it was trained with.')
