"""Parameters and FLOPs of one whole test-time prediction, counted by
mmengine's FLOP counter."""
import warnings
from math import prod
from typing import Any, Dict, List

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from torch import nn

from .stage_timer import head_modules


def deform_conv_flop_jit(weight_index: int):
    """A FLOP handle for mmcv's deformable convolutions, which mmengine does
    not know (YOLACT++'s DCNv2): the multiply-adds of the convolution they
    replace, ``N * C_out * H_out * W_out * C_in / groups * kh * kw``; the
    bilinear sampling at the offsets is not counted.

    Args:
        weight_index (int): position of the weight among the traced op's
            inputs: 2 for ``DeformConv2dFunction`` (x, offset, weight), 3 for
            ``ModulatedDeformConv2dFunction`` (x, offset, mask, weight).
    """

    def handle(inputs: List[Any], outputs: List[Any]) -> int:
        weight = get_shape(inputs[weight_index])
        return prod(get_shape(outputs[0])) * prod(weight[1:])

    return handle


def flop_analyzer(module: nn.Module, inputs: tuple) -> FlopAnalyzer:
    """mmengine's ``FlopAnalyzer`` with handles for mmcv's deformable
    convolutions and without its per-operator warnings."""
    flops = FlopAnalyzer(module, inputs)
    flops.set_op_handle(**{
        'prim::PythonOp.ModulatedDeformConv2dFunction':
        deform_conv_flop_jit(3),
        'prim::PythonOp.DeformConv2dFunction': deform_conv_flop_jit(2)
    })
    flops.unsupported_ops_warnings(False)
    flops.uncalled_modules_warnings(False)
    return flops


def _tensors(obj) -> List[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


class _Predict(nn.Module):
    """``model.predict`` on fixed data samples, returning tensors so that the
    tracer can follow it (it cannot trace ``DetDataSample``).

    The heads' forward outputs are returned too: the tracer prunes what no
    output depends on, and a model that detects nothing (an untrained SOLO)
    returns empty tensors that depend on no input, which left 0 FLOPs.
    """

    def __init__(self, model: nn.Module, data_samples: list) -> None:
        super().__init__()
        self.model = model
        self.data_samples = data_samples
        self.detections = None

    def forward(self, inputs: torch.Tensor) -> tuple:
        kept, heads = [], head_modules(self.model)
        for head in heads:

            def keep(*args, _forward=head.forward, **kwargs):
                out = _forward(*args, **kwargs)
                kept.extend(_tensors(out))
                return out

            head.forward = keep
        try:
            res = self.model.predict(inputs,
                                     self.data_samples)[0].pred_instances
        finally:
            for head in heads:
                del head.forward
        self.detections = len(res)
        return (res.scores, res.bboxes, res.masks, *kept)


def complexity(model: nn.Module, batch: dict) -> Dict[str, object]:
    """Parameters and FLOPs of the prediction on one test image.

    ``FlopAnalyzer`` is the counter behind mmengine's
    ``get_model_complexity_info``; it is used directly to add the handle for
    mmcv's deformable convolutions and to skip the activation count. The
    trace runs the whole ``predict``, so per-detection branches (YOLACT's
    mask assembly, YOLO-Mask's FCN mask head) count for the detections this
    image gets, unlike mmdet's ``get_flops.py`` (which traces ``_forward``,
    for instance segmentors the training loss too). One multiply-add counts
    as one FLOP (mmengine's convention); operators without a handle
    (activations, element-wise arithmetic, NMS, RoIAlign) count 0 and are
    listed in ``unsupported``.

    Args:
        model (nn.Module): detector in eval mode.
        batch (dict): ``pseudo_collate`` of one test sample.

    Returns:
        dict: ``flops`` (int), ``params`` (int), ``input_shape`` (list,
        N C H W), ``detections`` (int), ``unsupported`` (dict op -> count).
    """
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # tracer warnings
        data = model.data_preprocessor(batch, False)
        wrapper = _Predict(model, data['data_samples'])
        flops = flop_analyzer(wrapper, (data['inputs'], ))
        total = flops.total()
    return dict(flops=int(total), params=int(parameter_count(model)['']),
                input_shape=list(data['inputs'].shape),
                detections=wrapper.detections,
                unsupported=dict(flops.unsupported_ops()))
