"""Batch-1 inference time split into backbone+neck, head forward and
post-processing, for any mmdet detector of the zoo.

Why our own: mmdet 3.3 has no per-stage timer (``tools/analysis_tools/
benchmark.py`` times the whole ``test_step``), and the split is what the
YOLACT claim of "virtually no overhead" for mask assembly is about.
"""
import time
from typing import Callable, Dict, List

import torch
from torch import nn

STAGES = ('preprocess', 'backbone_neck', 'head_forward', 'post', 'total')
NOT_HEADS = ('backbone', 'neck', 'data_preprocessor')


def head_modules(model: nn.Module) -> List[nn.Module]:
    """The detector's top-level modules other than backbone, neck and data
    pre-processor: ``bbox_head``, ``mask_head``, YOLO-Mask's
    ``mask_roi_extractor``, ..."""
    return [child for name, child in model.named_children()
            if name not in NOT_HEADS]


class StageTimer:
    """Times ``data_preprocessor`` + ``model.predict`` on one batch.

    ``model.extract_feat`` gives the backbone+neck time and the ``forward``
    of every other top-level child module (``bbox_head``, ``mask_head``,
    YOLO-Mask's ``mask_roi_extractor``, ...) the head forward time; the rest
    of ``predict`` is post-processing: box decoding, NMS (Fast NMS, Matrix
    NMS, ...), mask assembly outside a head's forward, re-scoring, cropping
    and pasting at the original image size. The wrappers are instance
    attributes, so the model's class and other instances are untouched;
    :meth:`close` removes them.

    On CUDA, ``torch.cuda.synchronize`` runs before every clock reading.

    Args:
        model (nn.Module): an mmdet detector in eval mode.
        device (str): ``'cpu'`` or ``'cuda'``.
    """

    def __init__(self, model: nn.Module, device: str = 'cpu') -> None:
        self.model = model
        self.cuda = str(device).startswith('cuda')
        self._spent: Dict[str, float] = {}
        self._wrapped: List[tuple] = []
        self._wrap(model, 'extract_feat', 'backbone_neck')
        for head in head_modules(model):
            self._wrap(head, 'forward', 'head_forward')

    def _clock(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def _wrap(self, obj, attr: str, stage: str) -> None:
        inner: Callable = getattr(obj, attr)

        def timed(*args, **kwargs):
            t0 = self._clock()
            out = inner(*args, **kwargs)
            self._spent[stage] += self._clock() - t0
            return out

        setattr(obj, attr, timed)
        self._wrapped.append((obj, attr))

    def __call__(self, batch: dict) -> Dict[str, float]:
        """Predict on ``batch`` (a ``pseudo_collate`` of one test sample).

        Returns:
            dict: ms per stage (keys :data:`STAGES`; ``total`` is the sum of
            the other four) and ``detections`` (int), the number of
            instances predicted for the first image.
        """
        self._spent = dict(backbone_neck=0., head_forward=0.)
        with torch.no_grad():
            t0 = self._clock()
            data = self.model.data_preprocessor(batch, False)
            t1 = self._clock()
            results = self.model.predict(data['inputs'],
                                         data['data_samples'])
            t2 = self._clock()
        ms = {k: 1000 * v for k, v in self._spent.items()}
        ms['preprocess'] = 1000 * (t1 - t0)
        ms['post'] = 1000 * (t2 - t1) - ms['backbone_neck'] - ms[
            'head_forward']
        ms['total'] = 1000 * (t2 - t0)
        ms['detections'] = len(results[0].pred_instances)
        return ms

    def close(self) -> None:
        """Remove the timing wrappers (the class methods apply again)."""
        for obj, attr in self._wrapped:
            delattr(obj, attr)
        self._wrapped = []
