"""fp32 regions inside a bf16 autocast region: mmcv's CPU ops that have no
bfloat16 kernel run with autocast off on contiguous fp32 inputs
(:class:`Fp32Modules`), and chosen modules hand fp32 outputs on
(:class:`Fp32Outputs`).

Why our own: ``torch.autocast`` only knows torch's own ops. mmcv's ops are
autograd functions over C++ kernels that autocast does not see, so they get
whatever dtype reaches them, and on CPU (mmcv 2.1.0):

* ``RoIAlign`` (Mask R-CNN's and YOLO-Mask's RoI extractors, BlendMask's
  blender) has no BFloat16 kernel (``"ROIAlign_forward" not implemented
  for 'BFloat16'``), and fails on bf16 features with fp32 RoIs (``expected
  scalar type Float but found BFloat16``);
* mmdet's RoI extractors (``BaseRoIExtractor``: Mask R-CNN's box and mask
  branches) allocate their output in the features' dtype and write
  RoIAlign's output into it by index, which fails when the two differ
  (``Index put requires the source and destination dtypes match``);
* ``DeformConv2d`` and ``ModulatedDeformConv2d`` (YOLACT++'s DCNv2) have no
  BFloat16 kernel (``modulated_deformable_im2col_cpu``), read their input
  as contiguous NCHW whatever its strides (a channels-last input gives
  wrong numbers, silently), and cast their input to the dtype of the
  offsets that their own offset conv computes, which autocast makes bf16.

mmcv is not patched: each module of these types gets a forward pre-hook
that enters ``torch.autocast(device, enabled=False)`` and casts its bf16
tensor arguments to contiguous fp32, and a forward hook (``always_call``,
so an exception leaves the region too) that leaves it. The module's
output is fp32; the next layer under autocast casts it to bf16 again.
"""
from typing import Any, List, Optional

import torch
from torch import nn


def fp32_only_types() -> tuple:
    """The module types that need contiguous fp32 inputs with autocast off
    on CPU (see the module doc): mmcv's ``RoIAlign``, ``DeformConv2d`` and
    ``ModulatedDeformConv2d`` and mmdet's ``BaseRoIExtractor`` (their
    subclasses, such as the ``...Pack`` versions, included)."""
    from mmcv.ops import DeformConv2d, ModulatedDeformConv2d, RoIAlign
    from mmdet.models.roi_heads.roi_extractors import BaseRoIExtractor
    return DeformConv2d, ModulatedDeformConv2d, RoIAlign, BaseRoIExtractor


def to_fp32(obj: Any) -> Any:
    """``obj`` with every bf16 tensor in it cast to fp32 (tensors, and
    tuples, named tuples, lists and dicts of them, nested); anything else is
    returned as is."""
    if isinstance(obj, torch.Tensor):
        return obj.float() if obj.dtype == torch.bfloat16 else obj
    if isinstance(obj, tuple) and hasattr(obj, '_fields'):
        return type(obj)(*(to_fp32(o) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_fp32(o) for o in obj)
    if isinstance(obj, dict):
        return type(obj)((k, to_fp32(v)) for k, v in obj.items())
    return obj


class Fp32Modules:
    """While entered, every module of ``model`` of the given types runs with
    autocast off on contiguous fp32 inputs (see the module doc).

    Use::

        with Fp32Modules(model, 'cpu'), torch.autocast('cpu', torch.bfloat16):
            losses = model(inputs, data_samples, mode='loss')

    Args:
        model (nn.Module): searched recursively for the modules.
        device_type (str): the autocast device type to switch off
            (``'cpu'``, ``'cuda'``).
        types (tuple[type], optional): the module types; default
            :func:`fp32_only_types`.

    Raises:
        RuntimeError: entering an instance that is already entered.
    """

    def __init__(self, model: nn.Module, device_type: str = 'cpu',
                 types: Optional[tuple] = None) -> None:
        self.model = model
        self.device_type = device_type
        self.types = fp32_only_types() if types is None else tuple(types)
        self._handles: Optional[List] = None
        self._regions: List = []

    @property
    def modules(self) -> List[nn.Module]:
        """The modules of ``model`` that run in fp32."""
        return [m for m in self.model.modules() if isinstance(m, self.types)]

    def _enter(self, module: nn.Module, args) -> tuple:
        region = torch.autocast(self.device_type, enabled=False)
        region.__enter__()
        self._regions.append(region)
        return tuple(a.contiguous() if isinstance(a, torch.Tensor) else a
                     for a in to_fp32(args))

    def _exit(self, module: nn.Module, args, output) -> None:
        if self._regions:
            self._regions.pop().__exit__(None, None, None)

    def __enter__(self) -> 'Fp32Modules':
        if self._handles is not None:
            raise RuntimeError('Fp32Modules is already entered')
        self._handles = []
        for module in self.modules:
            self._handles += [
                module.register_forward_pre_hook(self._enter),
                module.register_forward_hook(
                    self._exit, prepend=True, always_call=True)
            ]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles or ():
            handle.remove()
        self._handles = None
        while self._regions:  # left while inside a call
            self._regions.pop().__exit__(None, None, None)


class Fp32Outputs:
    """While entered, every floating output of the given modules' calls is
    cast from bf16 to fp32 (:func:`to_fp32`, by a forward hook), so that
    what the caller does with it runs in fp32 wherever autocast does not
    cast it down again (decoding, NMS, target assignment, losses after a
    head's ``forward``). Its callers' inputs to mmcv's functional ops (such
    as ``batched_nms`` in mmdet's RPN proposals, whose CPU kernel expects
    boxes and scores of one dtype) are then fp32.

    Args:
        modules (list[nn.Module]): the modules.

    Raises:
        RuntimeError: entering an instance that is already entered.
    """

    def __init__(self, modules: List[nn.Module]) -> None:
        self.modules = list(modules)
        self._handles: Optional[List] = None

    @staticmethod
    def _cast(module: nn.Module, args, output) -> Any:
        return None if output is None else to_fp32(output)

    def __enter__(self) -> 'Fp32Outputs':
        if self._handles is not None:
            raise RuntimeError('Fp32Outputs is already entered')
        self._handles = [m.register_forward_hook(self._cast)
                         for m in self.modules]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles or ():
            handle.remove()
        self._handles = None


__all__ = ['Fp32Modules', 'Fp32Outputs', 'fp32_only_types', 'to_fp32']
