"""Conv + BatchNorm folding for inference, undone on leaving.

At test time a BatchNorm layer in eval mode is an affine map per channel,
``y = gamma * (x - mean) / sqrt(var + eps) + beta``, so it can be folded
into the convolution whose output it normalises:
``W' = W * s[:, None, None, None]`` and ``b' = (b - mean) * s + beta`` with
``s = gamma / sqrt(var + eps)`` (Ioffe & Szegedy 2015, section 3.1: "the
normalization is a linear transform during inference"). A ResNet-50's 53
BN layers then cost nothing; on CPU each is otherwise a separate
memory-bound pass over its activation.

Why our own and not ``mmcv.cnn.fuse_conv_bn`` (what mmdet 2.x's
``tools/test.py --fuse-conv-bn`` called): mmcv's folds in place for good,
so one model can no longer be timed or tested both ways (the benchmark
times every variant on one model; :class:`~projects.engine.
inference_precision.InferencePrecision` promises the model computes what
it did before once left); and it pairs a ``Conv2d`` with the next
``_BatchNorm`` among a module's children in registration order, skipping
any child between them, so it folds a ``ConvModule`` built with
``order=('conv', 'act', 'norm')`` (its norm is registered right after its
conv whatever the order) or ``('norm', 'conv', 'act')`` into a conv whose
output that BN never sees. Here a BN is folded only into a conv that it
directly follows: adjacent children of a plain module, or a ``ConvModule``
whose ``order`` puts ``norm`` right after ``conv``.
"""
from typing import List, Tuple

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def _foldable(bn: nn.Module) -> bool:
    return (isinstance(bn, _BatchNorm) and not bn.training
            and bn.track_running_stats and bn.running_mean is not None)


def conv_bn_pairs(module: nn.Module) -> List[Tuple[nn.Module, str, str]]:
    """The (parent, conv name, BN name) of every eval-mode BatchNorm in
    ``module`` that normalises the output of the ``nn.Conv2d`` before it.

    A pair is an exact ``nn.Conv2d`` (subclasses such as mmcv's
    ``ConvWS2d`` transform their weight in ``forward``) whose very next
    child is the BN, in a module other than a ``ConvModule``; in a
    ``ConvModule``, its ``conv`` and its BN norm when ``order`` has
    ``'norm'`` right after ``'conv'``. BNs in training mode or without
    running statistics are left alone.

    Args:
        module (nn.Module): any module; searched recursively.

    Returns:
        list[tuple]: (parent module, conv attribute name, BN attribute name).
    """
    from mmcv.cnn import ConvModule
    pairs = []
    if isinstance(module, ConvModule):
        order = list(module.order)
        norm = getattr(module, 'norm_name', None)
        if (norm and type(module.conv) is nn.Conv2d
                and order.index('norm') == order.index('conv') + 1
                and _foldable(getattr(module, norm))):
            pairs.append((module, 'conv', norm))
        return pairs
    prev_name, prev = None, None
    for name, child in module.named_children():
        if (prev is not None and type(prev) is nn.Conv2d
                and _foldable(child)
                and child.num_features == prev.out_channels):
            pairs.append((module, prev_name, name))
        elif not isinstance(child, (nn.Conv2d, _BatchNorm)):
            pairs += conv_bn_pairs(child)
        prev_name, prev = name, child
    return pairs


class FusedConvBN:
    """Fold eval-mode BatchNorm layers into their convolutions while
    entered; restore the model exactly on leaving.

    Use::

        with FusedConvBN(model):
            results = model.test_step(data)

    On entering, every pair of :func:`conv_bn_pairs` gets its conv's
    ``weight.data`` (C_out, C_in, kh, kw) and bias (C_out,) replaced by the
    folded ones (a conv without bias gets one) and its BN replaced by
    ``nn.Identity`` in the parent. On leaving, the original weight data,
    bias (or None) and BN module are put back: ``state_dict()`` and the
    outputs are bit for bit those before entering.

    Folding is exact in real arithmetic; in fp32 the outputs move by float
    rounding (about 1e-6 relative; a test checks a real detector's outputs).

    Args:
        model (nn.Module): the module to fold, in eval mode (BNs in
            training mode are left alone).
        modules (list[nn.Module], optional): fold only inside these
            submodules (e.g. a detector's backbone, neck and heads);
            default the whole model.

    Raises:
        RuntimeError: entering an instance that is already entered.
    """

    def __init__(self, model: nn.Module, modules: List[nn.Module] = None
                 ) -> None:
        self.model = model
        self.modules = list(modules) if modules is not None else [model]
        self._saved = None

    @property
    def active(self) -> bool:
        """Whether the BNs are folded now."""
        return self._saved is not None

    def __enter__(self) -> 'FusedConvBN':
        if self.active:
            raise RuntimeError('FusedConvBN is already entered')
        self._saved = []
        seen = set()
        for root in self.modules:
            for parent, conv_name, bn_name in conv_bn_pairs(root):
                if (id(parent), bn_name) in seen:
                    continue
                seen.add((id(parent), bn_name))
                conv = getattr(parent, conv_name)
                bn = getattr(parent, bn_name)
                self._saved.append((parent, conv, bn_name, bn,
                                    conv.weight.data, conv.bias))
                with torch.no_grad():
                    scale = bn.running_var.add(bn.eps).rsqrt()
                    if bn.weight is not None:
                        scale = scale * bn.weight
                    bias = -bn.running_mean * scale
                    if bn.bias is not None:
                        bias = bias + bn.bias
                    if conv.bias is not None:
                        bias = bias + conv.bias * scale
                    weight = conv.weight * scale.reshape(-1, 1, 1, 1)
                dtype = (conv.weight if conv.bias is None else conv.bias).dtype
                conv.weight.data = weight.to(conv.weight.dtype)
                conv.bias = nn.Parameter(bias.to(dtype), requires_grad=False)
                parent._modules[bn_name] = nn.Identity()
        return self

    @property
    def num_folded(self) -> int:
        """BatchNorm layers folded while entered (0 when not)."""
        return len(self._saved or ())

    def __exit__(self, *exc) -> None:
        for parent, conv, bn_name, bn, weight, bias in reversed(
                self._saved or ()):
            conv.weight.data = weight
            conv.bias = bias
            parent._modules[bn_name] = bn
        self._saved = None


__all__ = ['FusedConvBN', 'conv_bn_pairs']
