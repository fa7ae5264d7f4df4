"""Batch-1 inference time split into data pre-processing, backbone+neck,
head forward and post-processing, for any mmdet detector of the zoo.

Why our own: mmdet 3.3 has no per-stage timer (``tools/analysis_tools/
benchmark.py`` times the whole ``test_step``), and the split is what the
YOLACT claim of "virtually no overhead" for mask assembly is about.
"""
import contextlib
import time
from functools import partial
from typing import Callable, Dict, Iterator, List, Optional

import torch
from torch import nn

from projects.layers.stage_map import StageMap, stage_map_of

STAGES = ('preprocess', 'backbone_neck', 'head_forward', 'post', 'total')


class StageTimer:
    """Times ``data_preprocessor`` + ``model.predict`` on one batch.

    The calls of the modules the detector type's :class:`~.StageMap` names
    are timed with forward pre-hooks and forward hooks: ``backbone`` and
    ``neck`` give backbone+neck; the heads (a single-stage detector's other
    top-level children, a two-stage detector's RPN head and RoI extractors
    and box / mask heads) give head forward. The rest of ``predict`` is
    post-processing: box decoding, NMS (Fast NMS, Matrix NMS, ...), mask
    assembly outside a head's forward, re-scoring, cropping and pasting at
    the original image size. A timed module called inside another timed
    module's call counts once, in the outer one's stage.

    Hooks leave the model's methods alone, so the timer composes with
    other hooks (the FLOP counter's) in any order. The pre-hooks are
    prepended and the forward hooks appended, so a module's time includes
    the hooks registered on it before the timer. Use it as a context
    manager or call :meth:`close` to remove them. :meth:`record` times
    whatever runs the model (a FLOP trace, say).

    On CUDA, ``torch.cuda.synchronize`` runs before every clock reading.

    Args:
        model (nn.Module): an mmdet detector in eval mode.
        device (str): ``'cpu'`` or ``'cuda'``.
        stage_map (StageMap, optional): default: :func:`stage_map_of`
            the model.
        clock (callable): seconds, monotonic; ``time.perf_counter`` unless
            a test passes a virtual clock.
    """

    def __init__(self, model: nn.Module, device: str = 'cpu',
                 stage_map: Optional[StageMap] = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.model = model
        self.cuda = str(device).startswith('cuda')
        self.clock = clock
        self.stage_map = stage_map or stage_map_of(model)
        self._spent: Dict[str, float] = {}
        self._timing = False
        self._depth = 0
        self._t0 = 0.
        self._handles: List = []
        for stage, modules in self.stage_map.modules(model).items():
            for module in modules:
                self._handles += [
                    module.register_forward_pre_hook(
                        partial(self._enter, stage), prepend=True),
                    module.register_forward_hook(
                        partial(self._exit, stage), always_call=True)
                ]

    def _clock(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return self.clock()

    def _enter(self, stage: str, module: nn.Module, args) -> None:
        if not self._timing:
            return
        if self._depth == 0:
            self._t0 = self._clock()
        self._depth += 1

    def _exit(self, stage: str, module: nn.Module, args, output) -> None:
        if not self._timing or self._depth == 0:
            return
        self._depth -= 1
        if self._depth == 0:
            self._spent[stage] += self._clock() - self._t0

    @contextlib.contextmanager
    def record(self) -> Iterator[Dict[str, float]]:
        """Time the mapped modules' calls inside the ``with`` block, whatever
        runs them (``predict``, a FLOP trace, ...).

        Yields:
            dict: filled on leaving the block: ms of ``backbone_neck`` and
            ``head_forward``.

        Raises:
            RuntimeError: the timer is closed or already recording.
        """
        if self._handles is None:
            raise RuntimeError('StageTimer is closed')
        if self._timing:
            raise RuntimeError('StageTimer is already recording')
        ms: Dict[str, float] = {}
        self._spent = dict(backbone_neck=0., head_forward=0.)
        self._depth, self._timing = 0, True
        try:
            yield ms
        finally:
            self._timing = False
            ms.update({k: 1000 * v for k, v in self._spent.items()})

    def __call__(self, batch: dict) -> Dict[str, float]:
        """Predict on ``batch`` (a ``pseudo_collate`` of one test sample).

        Returns:
            dict: ms per stage (keys :data:`STAGES`; ``total`` is the sum of
            the other four) and ``detections`` (int), the number of
            instances predicted for the first image.

        Raises:
            RuntimeError: the timer is closed.
        """
        with torch.no_grad(), self.record() as ms:
            t0 = self._clock()
            data = self.model.data_preprocessor(batch, False)
            t1 = self._clock()
            results = self.model.predict(data['inputs'],
                                         data['data_samples'])
            t2 = self._clock()
        ms['preprocess'] = 1000 * (t1 - t0)
        ms['post'] = 1000 * (t2 - t1) - ms['backbone_neck'] - ms[
            'head_forward']
        ms['total'] = 1000 * (t2 - t0)
        ms['detections'] = len(results[0].pred_instances)
        return ms

    def close(self) -> None:
        """Remove the hooks; calling it again does nothing."""
        for handle in self._handles or ():
            handle.remove()
        self._handles = None

    def __enter__(self) -> 'StageTimer':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
