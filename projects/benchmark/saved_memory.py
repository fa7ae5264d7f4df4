"""Training memory that compares across devices: the bytes of the tensors
one training step holds, counted tensor by tensor.

Peak resident memory (CPU) and ``torch.cuda.max_memory_allocated`` (GPU)
measure an allocator, and the allocators differ: glibc or the caching CUDA
allocator, oneDNN or cuDNN workspaces and layouts, the libraries and the
data pipeline in the process. The figures here depend only on the model,
the batch and the optimizer, so one method against another reads the same
on a laptop and on the paper authors' GPU:

* ``saved``: the tensors autograd holds for backward at the end of the
  step's forward (just before backward, when they are all alive at once),
  caught with :func:`torch.autograd.graph.saved_tensors_hooks`. Each
  storage counts once, whole (``untyped_storage().nbytes()``): a tensor
  saved by two operations (a ReLU's output, saved by the ReLU and by the
  next layer) and views of one storage count once. The storages of the
  model's own parameters and buffers do not count (they are there whether
  anything is saved or not; parameters are ``params``), nor do saved
  tensors that are freed before the end of the forward (a branch whose
  output was dropped). Tensors that a custom ``autograd.Function`` keeps
  as ``ctx`` attributes instead of ``ctx.save_for_backward`` are not seen;
* ``params``: the parameters with ``requires_grad``;
* ``grads``: their ``.grad`` after backward (before the optimizer's
  ``zero_grad``);
* ``optim_state``: the optimizer's state tensors after the step (SGD's
  momentum buffers, Adam's two moments and step);
* ``total`` = saved + params + grads + optim_state.

Why our own counter: torch's memory snapshots
(``torch.cuda.memory._record_memory_history``) need CUDA, and the
profiler's ``profile_memory`` reports what the allocator handed out per
operator (temporaries, workspaces, caching included), not what autograd
holds.
"""
import weakref
from dataclasses import dataclass
from typing import Callable, Dict, Hashable, Iterable, List, Tuple

import torch
from torch import nn

MiB = 2**20


def _storage(t: torch.Tensor) -> Tuple[Hashable, int]:
    """(key, bytes) of the memory behind ``t``: its storage, identified by
    device and data pointer; a tensor without a plain storage (sparse) by
    its ``id`` and ``numel * element_size``."""
    try:
        s = t.untyped_storage()
        return (str(t.device), s.data_ptr()), s.nbytes()
    except (RuntimeError, NotImplementedError, TypeError):
        return ('id', id(t)), t.numel() * t.element_size()


def tensor_bytes(tensors: Iterable[torch.Tensor], exclude=()) -> int:
    """Bytes of the distinct storages of ``tensors``.

    Args:
        tensors (Iterable[Tensor]): the tensors; several on one storage
            count it once.
        exclude (Iterable[Tensor]): tensors whose storages do not count.

    Returns:
        int: bytes.
    """
    skip = {_storage(t)[0] for t in exclude}
    seen: Dict[Hashable, int] = {}
    for t in tensors:
        key, nbytes = _storage(t)
        if key not in skip:
            seen[key] = nbytes
    return sum(seen.values())


class _Saved:
    """What the pack hook hands autograd: a detached alias of the saved
    tensor (same storage, no ``grad_fn``: an output saved by its own node
    would otherwise make a reference cycle that outlives the graph), so
    that a weak reference to it says whether autograd still holds it."""
    __slots__ = ('tensor', '__weakref__')

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor


class SavedTensors:
    """Context manager: counts the tensors autograd saves for backward in
    its scope (see the module doc for the convention).

    Example:
        >>> with SavedTensors(exclude=model.parameters()) as saved:
        ...     loss = model(x).sum()
        ...     held = saved.held_bytes()  # end of forward: the peak
        >>> loss.backward()

    Args:
        exclude (Iterable[Tensor]): tensors whose storages do not count
            (the model's parameters and buffers).
    """

    def __init__(self, exclude: Iterable[torch.Tensor] = ()) -> None:
        self.exclude = list(exclude)
        self._saved: List[weakref.ref] = []
        self._hooks = None

    def _pack(self, tensor: torch.Tensor) -> _Saved:
        saved = _Saved(tensor.detach())
        self._saved.append(weakref.ref(saved))
        return saved

    @staticmethod
    def _unpack(saved: _Saved) -> torch.Tensor:
        return saved.tensor

    def held_bytes(self) -> int:
        """Bytes of the distinct storages that autograd holds now, of the
        tensors saved in this scope (``exclude`` left out)."""
        live = [s.tensor for s in (r() for r in self._saved) if s is not None]
        return tensor_bytes(live, self.exclude)

    def __enter__(self) -> 'SavedTensors':
        self._hooks = torch.autograd.graph.saved_tensors_hooks(
            self._pack, self._unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)
        self._hooks = None


@dataclass
class TrainState:
    """What one training step holds, bytes (see the module doc)."""
    saved: int
    params: int
    grads: int
    optim_state: int

    @property
    def total(self) -> int:
        """saved + params + grads + optim_state, bytes."""
        return self.saved + self.params + self.grads + self.optim_state

    def to_mib(self) -> Dict[str, float]:
        """The figures in MiB under the benchmark JSON's keys:
        ``saved_mib``, ``params_mib``, ``grads_mib``, ``optim_state_mib``
        and ``train_state_mib`` (their sum)."""
        return dict(saved_mib=self.saved / MiB, params_mib=self.params / MiB,
                    grads_mib=self.grads / MiB,
                    optim_state_mib=self.optim_state / MiB,
                    train_state_mib=self.total / MiB)


def measure_train_state(model: nn.Module, optim_wrapper,
                        forward: Callable[[], torch.Tensor]) -> TrainState:
    """One training step, written out as mmengine's ``BaseModel.train_step``
    runs it (forward under ``optim_wrapper.optim_context``, backward, step,
    zero_grad), counting what it holds between its parts: the saved
    tensors at the end of the forward, the gradients after backward, the
    optimizer state after the step.

    Args:
        model (nn.Module): the model trained (parameters, buffers).
        optim_wrapper (OptimWrapper): its optimizer wrapper.
        forward (Callable): returns the step's scalar loss, e.g. the
            data pre-processor, ``model._run_forward(data, mode='loss')``
            and ``model.parse_losses``.

    Returns:
        TrainState: bytes.

    Raises:
        TypeError: ``optim_wrapper`` is not one OptimWrapper (an
            OptimWrapperDict has no single backward to count around).
    """
    if not hasattr(optim_wrapper, 'optimizer'):
        raise TypeError('measure_train_state needs one OptimWrapper, got '
                        f'{type(optim_wrapper).__name__}')
    trainable = [p for p in model.parameters() if p.requires_grad]
    counter = SavedTensors(exclude=[*model.parameters(), *model.buffers()])
    with optim_wrapper.optim_context(model), counter:
        loss = forward()
    saved = counter.held_bytes()
    optim_wrapper.backward(loss)
    grads = tensor_bytes(p.grad for p in trainable if p.grad is not None)
    optim_wrapper.step()
    state = [v for s in optim_wrapper.optimizer.state.values()
             for v in s.values() if isinstance(v, torch.Tensor)]
    optim_wrapper.zero_grad()
    return TrainState(saved=saved, params=tensor_bytes(trainable),
                      grads=grads, optim_state=tensor_bytes(state))
