"""bf16 mixed-precision training on CPU: MMEngine's ``AmpOptimWrapper`` for
a machine without a GPU.

Why our own: mmengine 0.10.7's ``AmpOptimWrapper`` asserts a GPU, NPU, MLU
or MUSA in its ``__init__`` (and its loss scaler is a CUDA one), while
``mmengine.runner.amp.autocast`` and ``torch.autocast`` support
``device_type='cpu'`` with ``torch.bfloat16``. This wrapper is mmengine's
plain ``OptimWrapper`` whose ``optim_context`` also enters that autocast,
so that ``BaseModel.train_step`` runs the data pre-processor, the forward
and the loss in mixed precision, as ``AmpOptimWrapper`` does on a GPU.
"""
from contextlib import contextmanager

import torch
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.runner.amp import autocast
from torch import nn

from projects.layers.fp32_modules import (Fp32Modules, Fp32Outputs,
                                          fp32_only_types)
from projects.engine.inference_precision import (PrecisionNotSupportedError,
                                                 bf16_unsupported_reason)
from projects.layers.stage_map import stage_map_of


@OPTIM_WRAPPERS.register_module()
class CPUChannelsLastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` that trains in fp32 with channels-last convolutions
    on the CPU (``tools/train.py --channels-last``).

    What differs from mmengine's ``OptimWrapper``: at the first step the
    4-D weights of the model's ``nn.Conv2d`` / ``nn.ConvTranspose2d``
    layers become ``torch.channels_last`` (:func:`convs_to_channels_last`;
    a no-op at later steps), and the backbone's input too, at every step.
    That is oneDNN's native layout: NCHW convolutions and their backward
    passes reorder their tensors at every call. The arithmetic is fp32 as
    before, only the order of the sums inside a convolution changes. The
    weights keep that layout after training; their values and
    ``state_dict`` are the same, so a checkpoint resumes with or without
    it. The features become channels-last too, also in the same process's
    validation, and mmcv's CPU kernels of :func:`~projects.layers.
    fp32_modules.fp32_only_types` (RoIAlign, DCNs) read such a tensor as
    NCHW, silently wrong, so those modules get a lasting forward pre-hook
    that hands them contiguous NCHW tensors (:func:`keep_nchw_inputs`).
    Why our own: mmengine 0.10.7's wrappers leave memory formats to the
    model.

    Args:
        channels_last (bool): convert as above; False makes this a plain
            ``OptimWrapper``. Defaults to True.
        **kwargs: ``OptimWrapper``'s (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).

    Raises:
        ValueError: (``optim_context``) the model is not on the CPU.
    """

    def __init__(self, channels_last: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.channels_last = bool(channels_last)
        print_log(self.describe(), logger='current')

    def describe(self) -> str:
        """str: what the wrapper does, for the log's first lines."""
        return (f'{type(self).__name__}: fp32, channels_last='
                f'{self.channels_last}')

    @contextmanager
    def optim_context(self, model: nn.Module):
        """``OptimWrapper.optim_context`` (gradient accumulation's
        ``no_sync``) with the channels-last layout above.

        Args:
            model (nn.Module): the model whose ``train_step`` runs inside.

        Raises:
            ValueError: the model's parameters are not on the CPU.
        """
        module = model.module if is_model_wrapper(model) else model
        param = next(module.parameters(), None)
        if param is not None and param.device.type != 'cpu':
            raise ValueError(
                f'{type(self).__name__} trains on the CPU; the model is on '
                f'{param.device}')
        handle = None
        if self.channels_last:
            convs_to_channels_last(module)
            keep_nchw_inputs(module)
            handle = module.backbone.register_forward_pre_hook(
                _input_channels_last)
        try:
            with super().optim_context(model):
                yield
        finally:
            if handle is not None:
                handle.remove()


@OPTIM_WRAPPERS.register_module()
class CPUBf16OptimWrapper(CPUChannelsLastOptimWrapper):
    """``OptimWrapper`` that trains under CPU bf16 autocast
    (``tools/train.py --amp`` without a GPU).

    What differs from mmengine's ``OptimWrapper``:

    * ``optim_context`` enters ``autocast(device_type='cpu',
      dtype=torch.bfloat16)`` around what ``train_step`` runs in it (data
      pre-processor, forward, loss) and leaves it before the backward
      pass. Under it torch runs its convolutions, linear layers and
      matrix products in bf16 (an 8-bit significand) and keeps its
      fp32-listed ops in fp32, among them the losses the zoo uses
      (``binary_cross_entropy(_with_logits)``, ``cross_entropy``,
      ``smooth_l1_loss``, ``l1_loss``, ``mse_loss``) and ``grid_sample``
      (https://pytorch.org/docs/stable/amp.html, CPU ops that autocast to
      float32).
    * the outputs of the heads' ``forward`` (the head modules of the
      detector's :class:`~projects.layers.stage_map.StageMap`: a single-stage
      detector's ``bbox_head`` / ``mask_head``, a two-stage one's RPN head,
      RoI extractors, box and mask heads) are cast to fp32
      (:class:`~projects.layers.fp32_modules.Fp32Outputs`): box decoding,
      target assignment, NMS and the losses' element-wise work start from
      fp32 values, as in fp32 training, and mmcv's CPU ``nms`` (mmdet's
      RPN proposals inside the loss), which fails on bf16 scores with fp32
      boxes, gets fp32 for both. bf16's 8-bit significand would otherwise
      round a 384-pixel box coordinate by up to 1 pixel before its IoU
      loss and its assignment. Matrix products there (prototypes x mask
      coefficients) still run in bf16 under autocast.
    * mmcv's ``RoIAlign``, ``DeformConv2d`` and ``ModulatedDeformConv2d``
      run in fp32 with autocast off inside that region: mmcv 2.1.0 has no
      bf16 CPU kernel for them. So do mmdet's RoI extractors, which write
      RoIAlign's fp32 output into a buffer of the features' dtype
      (:class:`~projects.layers.fp32_modules.Fp32Modules`).

    * ``channels_last=True`` (the default): channels-last convolutions,
      as in :class:`CPUChannelsLastOptimWrapper`, whose subclass this is
      (the mmcv modules above keep reading NCHW: their forward pre-hook).

    What stays as in ``OptimWrapper``: the parameters, their gradients and
    the optimizer state are fp32 (autocast casts a weight to bf16 for its
    op, once per step, and the gradient flows back to the fp32 weight);
    gradient clipping (``clip_grad``) and accumulation work as configured;
    there is no loss scaling, which bf16's fp32-sized exponent does not
    need. The state dict is the optimizer's, so a checkpoint resumes with
    or without ``--amp``.

    Args:
        dtype (str): the autocast dtype; only ``'bfloat16'`` (CPU autocast
            has no float16 kernels worth using). Defaults to ``'bfloat16'``.
        channels_last (bool): see above. Defaults to True.
        **kwargs: ``OptimWrapper``'s (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).

    Raises:
        ValueError: ``dtype`` is not ``'bfloat16'``; the model is not on the
            CPU (``optim_context``: use mmengine's ``AmpOptimWrapper`` on a
            GPU).
        PrecisionNotSupportedError: this CPU or torch build has no native
            bf16 (:func:`~projects.engine.inference_precision.
            bf16_unsupported_reason`), where bf16 would be emulated and
            slower than fp32.
    """

    def __init__(self, dtype: str = 'bfloat16', channels_last: bool = True,
                 **kwargs) -> None:
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError(f'CPUBf16OptimWrapper: dtype {dtype!r}; only '
                             "'bfloat16' is supported on CPU")
        reason = bf16_unsupported_reason('cpu')
        if reason:
            raise PrecisionNotSupportedError(
                f'CPUBf16OptimWrapper (--amp on CPU): {reason}')
        super().__init__(channels_last=channels_last, **kwargs)
        self.dtype = torch.bfloat16

    def describe(self) -> str:
        """str: what the wrapper does, for the log's first lines."""
        names = ', '.join(t.__name__ for t in fp32_only_types())
        return ('CPUBf16OptimWrapper: forward and loss under torch.autocast('
                "'cpu', dtype=torch.bfloat16); fp32 parameters, gradients "
                'and optimizer state, no loss scaling, channels_last='
                f"{self.channels_last}; in fp32: the heads' outputs "
                f"(decoding, NMS, losses), {names} and torch's fp32 "
                'autocast ops')

    @contextmanager
    def optim_context(self, model: nn.Module):
        """:meth:`CPUChannelsLastOptimWrapper.optim_context` with CPU bf16
        autocast and the fp32 mmcv modules.

        Args:
            model (nn.Module): the model whose ``train_step`` runs inside.

        Raises:
            ValueError: the model's parameters are not on the CPU (use
                mmengine's ``AmpOptimWrapper`` on a GPU).
        """
        module = model.module if is_model_wrapper(model) else model
        heads = stage_map_of(module).modules(module)['head_forward']
        with super().optim_context(model), \
                Fp32Modules(module, 'cpu'), Fp32Outputs(heads), \
                autocast(device_type='cpu', dtype=self.dtype):
            yield


def convs_to_channels_last(model: nn.Module) -> int:
    """Makes the 4-D weights of ``model``'s exact ``nn.Conv2d`` /
    ``nn.ConvTranspose2d`` layers ``torch.channels_last``, in place
    (``param.data``: the optimizer keeps its parameters), except the layers
    inside modules of :func:`~projects.layers.fp32_modules.fp32_only_types`
    (an mmcv DCN's offset conv would hand it channels-last offsets, which
    its kernel reads as NCHW).

    Args:
        model (nn.Module): the model.

    Returns:
        int: how many weights were converted (0 when all already were).
    """
    fmt = torch.channels_last
    inside = {id(m) for f in model.modules()
              if isinstance(f, fp32_only_types()) for m in f.modules()}
    converted = 0
    for m in model.modules():
        weight = getattr(m, 'weight', None)
        if (type(m) in (nn.Conv2d, nn.ConvTranspose2d) and id(m) not in inside
                and weight is not None and weight.dim() == 4
                and not weight.is_contiguous(memory_format=fmt)):
            weight.data = weight.data.contiguous(memory_format=fmt)
            converted += 1
    return converted


def _contiguous_inputs(module: nn.Module, args: tuple):
    """Forward pre-hook: the tensor arguments as contiguous (NCHW)
    tensors; None (arguments unchanged) when they already are."""
    if all(a.is_contiguous() for a in args if isinstance(a, torch.Tensor)):
        return None
    return tuple(a.contiguous() if isinstance(a, torch.Tensor) else a
                 for a in args)


def keep_nchw_inputs(model: nn.Module) -> int:
    """Gives every module of ``model`` of :func:`~projects.layers.
    fp32_modules.fp32_only_types` (mmcv's RoIAlign and DCNs, mmdet's RoI
    extractors) a lasting forward pre-hook that makes its tensor arguments
    contiguous NCHW, in training and at test time alike: their CPU kernels
    read a channels-last tensor as NCHW. A module that has the hook
    already is left as it is.

    Args:
        model (nn.Module): the model.

    Returns:
        int: how many hooks were added (0 when every module had one).
    """
    added = 0
    for m in model.modules():
        if isinstance(m, fp32_only_types()) and not any(
                hook is _contiguous_inputs
                for hook in m._forward_pre_hooks.values()):
            m.register_forward_pre_hook(_contiguous_inputs)
            added += 1
    return added


def _input_channels_last(module: nn.Module, args: tuple):
    if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
        return (args[0].contiguous(memory_format=torch.channels_last),
                *args[1:])
    return None


def enable_amp(cfg, device_type: str) -> str:
    """Switch ``cfg.optim_wrapper`` to mixed precision, as MMDetection's
    ``tools/train.py --amp`` does: mmengine's ``AmpOptimWrapper`` (fp16,
    dynamic loss scale) on a GPU, :class:`CPUBf16OptimWrapper` on the CPU.
    The other keys of ``optim_wrapper`` (optimizer, ``clip_grad``,
    ``paramwise_cfg``, ...) are kept.

    Args:
        cfg (mmengine.Config): the training config, changed in place.
        device_type (str): where the runner will train (``'cpu'``,
            ``'cuda'``, ...).

    Returns:
        str: the wrapper type now in the config.

    Raises:
        PrecisionNotSupportedError: ``device_type`` is ``'cpu'`` and this
            CPU has no native bf16 (the reason names the CPU capability).
        ValueError: ``optim_wrapper`` already names a wrapper type other
            than mmengine's ``OptimWrapper`` / ``AmpOptimWrapper`` or this
            one, which ``--amp`` would silently replace.
    """
    wrapper = cfg.optim_wrapper
    known = ('OptimWrapper', 'AmpOptimWrapper', 'CPUBf16OptimWrapper')
    if wrapper.get('type', 'OptimWrapper') not in known:
        raise ValueError(f'--amp: optim_wrapper.type is '
                         f'{wrapper.type!r}; --amp replaces one of '
                         f'{", ".join(known)} only')
    if device_type == 'cpu':
        reason = bf16_unsupported_reason('cpu')
        if reason:
            raise PrecisionNotSupportedError(f'--amp on CPU: {reason}')
        wrapper.pop('loss_scale', None)
        wrapper.type = 'CPUBf16OptimWrapper'
        wrapper.dtype = 'bfloat16'
    else:
        wrapper.pop('dtype', None)
        wrapper.pop('channels_last', None)
        wrapper.type = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')
    return wrapper.type


def enable_channels_last(cfg, device_type: str) -> str:
    """Switch ``cfg.optim_wrapper`` to fp32 training with channels-last
    convolutions (:class:`CPUChannelsLastOptimWrapper`), keeping its other
    keys; a bf16 wrapper (``--amp`` on the CPU) already trains so and is
    left as it is.

    Args:
        cfg (mmengine.Config): the training config, changed in place.
        device_type (str): where the runner will train.

    Returns:
        str: the wrapper type now in the config.

    Raises:
        ValueError: ``device_type`` is not ``'cpu'``, or ``optim_wrapper``
            names a wrapper type other than mmengine's ``OptimWrapper`` or
            this module's, which would be silently replaced.
    """
    wrapper = cfg.optim_wrapper
    if device_type != 'cpu':
        raise ValueError(f'--channels-last: CPU training only (the runner '
                         f'trains on {device_type!r})')
    kind = wrapper.get('type', 'OptimWrapper')
    if kind == 'CPUBf16OptimWrapper':
        wrapper.channels_last = True
        return kind
    known = ('OptimWrapper', 'CPUChannelsLastOptimWrapper')
    if kind not in known:
        raise ValueError(f'--channels-last: optim_wrapper.type is {kind!r}; '
                         f'it replaces one of {", ".join(known)} only')
    wrapper.type = 'CPUChannelsLastOptimWrapper'
    wrapper.channels_last = True
    return wrapper.type
