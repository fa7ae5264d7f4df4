"""Parameters and FLOPs of one whole test-time prediction, counted by
mmengine's FLOP counter.

Why our own: mmengine's counter knows no mmcv deformable convolution
(YOLACT++'s DCNv2 counted 0), and mmdet's ``get_flops.py`` traces
``_forward``, not the prediction with its per-detection branches.
"""
import warnings
from math import prod
from typing import Any, Dict, List

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from torch import nn

from projects.layers.stage_map import stage_map_of


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


class KeepOutputs:
    """Forward hooks that collect every tensor the given modules return
    (nested in tuples, lists and dicts), in call order, until closed.

    Hooks, not rebound ``forward`` methods, so that it composes with
    :class:`~.StageTimer` in either order. Usable as a context manager.

    Args:
        modules (list[nn.Module]): the modules whose outputs are kept.

    Attributes:
        tensors (list[Tensor]): the outputs collected so far.
    """

    def __init__(self, modules: List[nn.Module]) -> None:
        self.tensors: List[torch.Tensor] = []
        self._handles = [m.register_forward_hook(self._keep)
                         for m in modules]

    def _keep(self, module: nn.Module, args, output) -> None:
        self.tensors.extend(_tensors(output))

    def close(self) -> None:
        """Remove the hooks; calling it again does nothing."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> 'KeepOutputs':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Predict(nn.Module):
    """``model.predict`` on fixed data samples, returning tensors so that the
    tracer can follow it (it cannot trace ``DetDataSample``).

    The heads' forward outputs (:class:`KeepOutputs` on the head-forward
    modules of the model's :class:`~.StageMap`) are returned too: the
    tracer prunes what no output depends on, and a model that detects
    nothing (an untrained SOLO) returns empty tensors that depend on no
    input, which left 0 FLOPs.
    """

    def __init__(self, model: nn.Module, data_samples: list) -> None:
        super().__init__()
        self.model = model
        self.data_samples = data_samples
        self.detections = None

    def forward(self, inputs: torch.Tensor) -> tuple:
        heads = stage_map_of(self.model).modules(self.model)['head_forward']
        with KeepOutputs(heads) as kept:
            res = self.model.predict(inputs,
                                     self.data_samples)[0].pred_instances
        self.detections = len(res)
        return (*[res[k] for k in ('scores', 'bboxes', 'masks') if k in res],
                *kept.tensors)


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
