"""Parameters and FLOPs of one whole test-time prediction, counted by
mmengine's ``get_model_complexity_info``."""
import logging
import warnings
from typing import Dict

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.logging import MMLogger
from torch import nn


class _Predict(nn.Module):
    """``model.predict`` on fixed data samples, returning tensors so that
    mmengine's tracer can follow it (it cannot trace ``DetDataSample``)."""

    def __init__(self, model: nn.Module, data_samples: list) -> None:
        super().__init__()
        self.model = model
        self.data_samples = data_samples

    def forward(self, inputs: torch.Tensor) -> tuple:
        res = self.model.predict(inputs, self.data_samples)[0].pred_instances
        return res.scores, res.bboxes, res.masks


def complexity(model: nn.Module, batch: dict) -> Dict[str, object]:
    """Parameters and FLOPs of the prediction on one test image.

    The trace runs the whole ``predict``, so per-detection branches
    (YOLACT's mask assembly, YOLO-Mask's RoIAlign + FCN mask head) count
    for the detections this image gets, unlike mmdet's ``get_flops.py``
    (which traces ``_forward`` and, for instance segmentors, the training
    loss). mmengine counts one multiply-add as one FLOP and ignores
    operators it has no handle for (normalisation, interpolation, mmcv ops):
    those are listed in ``unsupported``.

    Args:
        model (nn.Module): detector in eval mode.
        batch (dict): ``pseudo_collate`` of one test sample.

    Returns:
        dict: ``flops`` (int), ``params`` (int), ``input_shape`` (list,
        N C H W), ``detections`` (int), ``unsupported`` (dict op -> count).
    """
    unsupported: Dict[str, int] = {}

    class _Catch(logging.Handler):

        def emit(self, record):
            msg = record.getMessage()
            if msg.startswith('Unsupported operator'):
                op = msg.split()[2]
                unsupported[op] = int(msg.split('encountered ')[1].split()[0])

    logger = MMLogger.get_current_instance()
    handler, level = _Catch(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore')  # tracer warnings
            data = model.data_preprocessor(batch, False)
            wrapper = _Predict(model, data['data_samples'])
            # the console handler would print every unsupported op
            quiet = [h for h in logger.handlers if h is not handler]
            for h in quiet:
                logger.removeHandler(h)
            try:
                info = get_model_complexity_info(
                    wrapper, inputs=(data['inputs'], ), show_table=False,
                    show_arch=False)
            finally:
                for h in quiet:
                    logger.addHandler(h)
            dets = len(wrapper(data['inputs'])[0])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return dict(flops=int(info['flops']), params=int(info['params']),
                input_shape=list(data['inputs'].shape), detections=dets,
                unsupported=unsupported)
