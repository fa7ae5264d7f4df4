"""bf16 autocast and channels-last memory for the network part of a
detector's inference only, and an mmengine hook that applies them in the
test loop.

Why our own: ``torch.autocast`` around the whole ``test_step`` (what
mmengine's ``AmpOptimWrapper``/``Runner`` offer, for training) would also
run box decoding, NMS and mask assembly in bf16, and mmdet 3.3 has no
test-time precision switch. bf16 has an 8-bit significand: between 256 and
512 consecutive bf16 values are 2 apart, so box coordinates of a 384 px
input would move by up to 1 px (2 px on an 800 px one), IoUs in NMS would
change, and the bilinear mask paste would shift. The torch autocast docs
(https://pytorch.org/docs/stable/amp.html) say autocast should wrap "only
the forward pass(es) of your network" and that ops under it run in a
lower precision only where that is safe (CPU: convolutions, linear,
matmul/bmm, ...; others stay fp32); the network's outputs then carry bf16
tensors into whatever follows. Here the autocast region is exactly the
network modules the detector type's :class:`~projects.layers.stage_map.
StageMap` names (backbone, neck, the heads' ``forward``), entered and left
by removable forward pre-hooks / forward hooks, and every floating output
of those modules is cast back to fp32, so decoding, NMS, box coordinates,
cropping and mask pasting run in fp32 as without it.

mmcv's deformable convolutions (YOLACT++'s DCNv2) and RoIAlign get
contiguous fp32 inputs with autocast off for their call, whichever the
options (:class:`~projects.layers.fp32_modules.Fp32Modules`, which says why).

Autocast casts an fp32 weight to bf16 at every call of its conv (its cast
cache lasts one autocast region, and each network module is a region), so
a ResNet-50's 25 M weights are read, converted and written at every image.
Under bf16 the weights (and biases) of the network modules' ``nn.Conv2d``,
``nn.ConvTranspose2d`` and ``nn.Linear`` layers are therefore held in bf16
while the context is entered, converted once: autocast then has nothing to
cast, and the bits are the same as its own cast's. A layer called with
autocast off (a network module's layer that post-processing calls, the
offset conv inside mmcv's DCN) is given its fp32 weights back for that
call by a pre-hook.

channels-last (``torch.channels_last``, NHWC) is oneDNN's native layout on
CPU: a conv on NCHW input and weights is reordered on every call. Entering
with ``channels_last=True`` converts the 4-D weights of the model's
``nn.Conv2d`` / ``nn.ConvTranspose2d`` modules (exactly these types:
subclasses such as mmcv's ``ConvWS2d`` reshape their weight with ``view``)
to channels-last and the backbone's input by a pre-hook; convolutions then
keep their outputs channels-last. Leaving restores the weights that were
converted to the contiguous layout.

``fuse_conv_bn=True`` folds the network's eval-mode BatchNorm layers into
their convolutions while entered (:class:`~projects.layers.conv_bn_fusion.
FusedConvBN`, done first, so that the folded weights are the ones made
channels-last and held in bf16) and unfolds them last on leaving.
"""
from typing import Any, Dict, List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import nn

from projects.layers.conv_bn_fusion import FusedConvBN
from projects.layers.fp32_modules import (Fp32Modules, fp32_only_types,
                                          to_fp32)
from projects.layers.stage_map import StageMap, stage_map_of

PRECISIONS = ('fp32', 'bf16')
CONV_TYPES = (nn.Conv2d, nn.ConvTranspose2d)
#: layers whose weights autocast casts to bf16 (exact types, as CONV_TYPES)
BF16_WEIGHT_TYPES = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


class PrecisionNotSupportedError(RuntimeError):
    """bf16 autocast is not available for the model's device."""


def bf16_unsupported_reason(device_type: str) -> Optional[str]:
    """Why bf16 autocast cannot run well on ``device_type``; None if it can.

    On CPU, bf16 needs oneDNN (``torch.backends.mkldnn``) and a CPU that
    oneDNN runs bf16 on natively (AVX512 BW/VL/DQ, AVX512_BF16 or AMX on
    x86; ``torch.ops.mkldnn._is_mkldnn_bf16_supported``, else
    ``torch.backends.cpu.get_cpu_capability()`` starting with AVX512):
    elsewhere every bf16 op is emulated and slower than fp32.

    Args:
        device_type (str): ``'cpu'``, ``'cuda'``, ...

    Returns:
        str | None: the reason, naming the device and its capability.
    """
    if not torch.amp.is_autocast_available(device_type):
        return f'torch has no autocast for device type {device_type!r}'
    if device_type == 'cuda':
        return None if torch.cuda.is_bf16_supported() else \
            f'CUDA device {torch.cuda.get_device_name()} has no bf16'
    if device_type != 'cpu':
        return None
    capability = torch.backends.cpu.get_cpu_capability()
    if not torch.backends.mkldnn.is_available():
        return ('this torch build has no oneDNN (torch.backends.mkldnn), '
                'which runs bf16 convolutions on CPU')
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = capability.startswith('AVX512')
    if not native:
        return (f'this CPU (torch capability {capability}) has no native '
                'bf16 in oneDNN (needs AVX512 BW/VL/DQ, AVX512_BF16 or '
                'AMX): bf16 would be emulated and slower than fp32')
    return None


def _device_type(model: nn.Module) -> str:
    param = next(model.parameters(), None)
    return 'cpu' if param is None else param.device.type


class InferencePrecision:
    """Run a detector's network in bf16 and/or channels-last for inference.

    Use::

        with InferencePrecision(model, precision='bf16',
                                channels_last=True):
            results = model.test_step(data)

    On entering (see the module doc for why):

    * ``precision='bf16'``: forward pre-hooks on the network modules of the
      model's :class:`~projects.layers.stage_map.StageMap` (backbone, neck,
      heads; a two-stage detector's RPN head, RoI extractors, box and mask
      heads) enter ``torch.autocast(device, dtype=torch.bfloat16)``, and
      forward hooks (prepended, ``always_call``) leave it and cast every
      bf16 tensor of the output to fp32 (:func:`to_fp32`), so that other
      forward hooks and everything after the network (decoding, NMS, boxes,
      mask assembly outside a head's forward, cropping, pasting) see fp32.
      A network module called inside another one's call counts once: the
      autocast region and the cast are the outermost call's.
    * ``channels_last=True``: the 4-D weights of the model's ``nn.Conv2d``
      and ``nn.ConvTranspose2d`` modules are made ``torch.channels_last``
      (the weights already so are left alone) and a pre-hook on the
      backbone makes its input (B, C, H, W) channels-last.
    * ``precision='bf16'``: the weights and biases of the network modules'
      :data:`BF16_WEIGHT_TYPES` layers are held in bf16 (autocast's own
      cast, done once); such a layer called with autocast off computes
      with its fp32 weights.
    * with either option, mmcv's deformable convolutions and RoIAlign get
      contiguous fp32 inputs with autocast off (:class:`~projects.layers.
      fp32_modules.Fp32Modules`).
    * ``fuse_conv_bn=True``: the network modules' eval-mode BatchNorm
      layers are folded into their convolutions
      (:class:`~projects.layers.conv_bn_fusion.FusedConvBN`), before the
      above.

    On leaving, the hooks are removed, the converted weights made
    contiguous again and the BNs unfolded: the model computes exactly what
    it did before. With ``precision='fp32'``, ``channels_last=False`` and
    ``fuse_conv_bn=False`` it does nothing.

    Args:
        model (nn.Module): an mmdet detector (unwrapped), any device.
        precision (str): ``'fp32'`` or ``'bf16'``.
        channels_last (bool): see above. Defaults to False.
        stage_map (StageMap, optional): which modules are the network;
            default :func:`~projects.layers.stage_map.stage_map_of` the model.
        fuse_conv_bn (bool): see above. Defaults to False.

    Raises:
        ValueError: ``precision`` is not one of :data:`PRECISIONS`.
        PrecisionNotSupportedError: ``'bf16'`` on a device without bf16
            autocast or, on CPU, without native bf16 in oneDNN
            (:func:`bf16_unsupported_reason`); raised on construction.
        RuntimeError: entering an instance that is already entered.
    """

    def __init__(self, model: nn.Module, precision: str = 'fp32',
                 channels_last: bool = False,
                 stage_map: Optional[StageMap] = None,
                 fuse_conv_bn: bool = False) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f'precision {precision!r} unknown; allowed: '
                             f'{", ".join(PRECISIONS)}')
        self.model = model
        self.precision = precision
        self.channels_last = bool(channels_last)
        self.fuse_conv_bn = bool(fuse_conv_bn)
        self.stage_map = stage_map or stage_map_of(model)
        self.device_type = _device_type(model)
        if precision == 'bf16':
            reason = bf16_unsupported_reason(self.device_type)
            if reason:
                raise PrecisionNotSupportedError(
                    f'precision bf16 on {self.device_type}: {reason}')
        self._handles: Optional[List] = None
        self._converted: List[nn.Parameter] = []
        self._autocast = None
        self._depth = 0
        self._fp32_modules: Optional[Fp32Modules] = None
        # per bf16-held layer: {param name: (fp32 data, bf16 data)}
        self._bf16_held: Dict[nn.Module, Dict[str, tuple]] = {}
        self._fused: Optional[FusedConvBN] = None

    @property
    def active(self) -> bool:
        """Whether the context is entered (hooks and layouts in place)."""
        return self._handles is not None

    def _enter_net(self, module: nn.Module, args) -> None:
        if self._depth == 0:
            self._autocast = torch.autocast(self.device_type,
                                            dtype=torch.bfloat16)
            self._autocast.__enter__()
        self._depth += 1

    def _exit_net(self, module: nn.Module, args, output) -> Any:
        if self._depth == 0:  # a call that started before entering
            return None
        self._depth -= 1
        if self._depth > 0:
            return None
        self._autocast.__exit__(None, None, None)
        self._autocast = None
        return None if output is None else to_fp32(output)

    @staticmethod
    def _input_channels_last(module: nn.Module, args) -> Optional[tuple]:
        if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
            return (args[0].contiguous(memory_format=torch.channels_last),
                    *args[1:])
        return None

    def __enter__(self) -> 'InferencePrecision':
        if self.active:
            raise RuntimeError('InferencePrecision is already entered')
        self._handles, self._depth = [], 0
        stages = self.stage_map.modules(self.model)
        network = stages['backbone_neck'] + stages['head_forward']
        if self.fuse_conv_bn:
            self._fused = FusedConvBN(self.model, network).__enter__()
        if self.precision == 'bf16':
            for module in network:
                self._handles += [
                    module.register_forward_pre_hook(self._enter_net),
                    module.register_forward_hook(
                        self._exit_net, prepend=True, always_call=True)
                ]
        if self.precision == 'bf16' or self.channels_last:
            self._fp32_modules = Fp32Modules(
                self.model, self.device_type).__enter__()
        if self.channels_last:
            self._to_channels_last()
        if self.precision == 'bf16':
            self._hold_weights_in_bf16(network)
        return self

    def _hold_weights_in_bf16(self, network: List[nn.Module]) -> None:
        for stage_module in network:
            for module in stage_module.modules():
                if type(module) not in BF16_WEIGHT_TYPES or \
                        module in self._bf16_held:
                    continue
                held = {}
                for name in ('weight', 'bias'):
                    param = getattr(module, name, None)
                    if isinstance(param, nn.Parameter) and \
                            param.dtype == torch.float32:
                        held[name] = (param.data,
                                      param.data.to(torch.bfloat16))
                        param.data = held[name][1]
                if held:
                    self._bf16_held[module] = held
                    self._handles += [
                        module.register_forward_pre_hook(
                            self._fp32_weights_outside_autocast),
                        module.register_forward_hook(
                            self._bf16_weights_again, always_call=True)
                    ]

    def _fp32_weights_outside_autocast(self, module: nn.Module,
                                       args) -> None:
        if not torch.is_autocast_enabled(self.device_type):
            for name, (fp32, _) in self._bf16_held[module].items():
                getattr(module, name).data = fp32

    def _bf16_weights_again(self, module: nn.Module, args, output) -> None:
        for name, (_, bf16) in self._bf16_held[module].items():
            getattr(module, name).data = bf16

    def _to_channels_last(self) -> None:
        fmt = torch.channels_last
        for module in self.model.modules():
            weight = getattr(module, 'weight', None)
            if (type(module) in CONV_TYPES and weight is not None
                    and weight.dim() == 4
                    and not weight.is_contiguous(memory_format=fmt)):
                weight.data = weight.data.contiguous(memory_format=fmt)
                self._converted.append(weight)
        backbone = getattr(self.model, 'backbone', None)
        targets = [backbone] if isinstance(backbone, nn.Module) else \
            self.stage_map.modules(self.model)['backbone_neck'][:1]
        for module in targets:
            self._handles.append(
                module.register_forward_pre_hook(self._input_channels_last))

    def __exit__(self, *exc) -> None:
        for handle in self._handles or ():
            handle.remove()
        self._handles = None
        if self._fp32_modules is not None:
            self._fp32_modules.__exit__(None, None, None)
            self._fp32_modules = None
        if self._autocast is not None:
            self._autocast.__exit__(None, None, None)
            self._autocast = None
        self._depth = 0
        for module, held in self._bf16_held.items():
            for name, (fp32, _) in held.items():
                getattr(module, name).data = fp32
        self._bf16_held = {}
        for weight in self._converted:
            weight.data = weight.data.contiguous()
        self._converted = []
        if self._fused is not None:
            self._fused.__exit__(None, None, None)
            self._fused = None


@HOOKS.register_module()
class InferencePrecisionHook(Hook):
    """Test the model under :class:`InferencePrecision`: entered in
    ``before_test`` (after the checkpoint is loaded), left in
    ``after_test``. ``tools/test.py --precision bf16 [--channels-last]``
    adds it to ``custom_hooks``; a config can too (import
    ``projects.engine.inference_precision`` first).

    Args:
        precision (str): ``'fp32'`` or ``'bf16'``.
        channels_last (bool): Defaults to False.
        fuse_conv_bn (bool): fold BatchNorm into the convs
            (``tools/test.py --fuse-conv-bn``). Defaults to False.

    Raises:
        ValueError: unknown ``precision`` (on construction).
        PrecisionNotSupportedError: bf16 unsupported (in ``before_test``).
    """

    priority = 'LOW'

    def __init__(self, precision: str = 'fp32',
                 channels_last: bool = False,
                 fuse_conv_bn: bool = False) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f'InferencePrecisionHook: precision '
                             f'{precision!r} unknown; allowed: '
                             f'{", ".join(PRECISIONS)}')
        self.precision = precision
        self.channels_last = channels_last
        self.fuse_conv_bn = fuse_conv_bn
        self._context: Optional[InferencePrecision] = None

    def before_test(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        self._context = InferencePrecision(
            model, self.precision, self.channels_last,
            fuse_conv_bn=self.fuse_conv_bn).__enter__()
        runner.logger.info(f'testing with precision {self.precision}, '
                           f'channels_last={self.channels_last}, '
                           f'fuse_conv_bn={self.fuse_conv_bn} (network '
                           'modules only; post-processing in fp32)')

    def after_test(self, runner) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None


__all__ = ['InferencePrecision', 'InferencePrecisionHook', 'PRECISIONS',
           'fp32_only_types',
           'PrecisionNotSupportedError', 'bf16_unsupported_reason',
           'to_fp32']
