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
import pickle
from typing import Callable, List, Tuple, Union

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
