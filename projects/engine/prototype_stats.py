"""Health of the prototype mask branch during training, as a hook.

Why our own: the collapse of the prototype branch (every prototype ReLU
dead, all mask logits 0, the mask loss stuck at ln 2) is invisible in
MMEngine's log until the evaluation reports mask AP 0; this hook logs the
state of the prototypes and of the mask coefficients at every iteration.
"""
from typing import Dict, Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from torch import Tensor, nn


def prototype_stats(prototypes: Tensor) -> Dict[str, float]:
    """Summary of one batch of prototypes.

    Args:
        prototypes (Tensor): shape (B, k, H, W), after the activation.

    Returns:
        dict: ``proto_active`` (fraction of the B * k * H * W values above
        0), ``proto_alive`` (number of the k prototypes above 0 anywhere in
        the batch), ``proto_abs`` (mean absolute value).
    """
    p = prototypes.detach().float()
    return dict(
        proto_active=float((p > 0).float().mean()),
        proto_alive=float((p > 0).flatten(2).any(-1).any(0).sum()),
        proto_abs=float(p.abs().mean()))


def _find_protonet(model: nn.Module) -> Optional[nn.Module]:
    head = getattr(model, 'mask_head', None)
    if head is None:
        return None
    protonet = getattr(head, 'protonet', None)
    return protonet if isinstance(protonet, nn.Module) else None


@HOOKS.register_module()
class PrototypeStatsHook(Hook):
    """Logs :func:`prototype_stats` of every training iteration to the
    message hub (``train/proto_active``, ...), so that MMEngine's logger
    prints them beside the losses and ``scalars.json`` keeps them.

    Works for any model whose ``mask_head.protonet`` returns the prototypes
    (SAIS, YOLACT, YOLACT++, SSS); a model without one is left alone.
    """

    priority = 'NORMAL'

    def __init__(self) -> None:
        self._latest: Optional[Dict[str, float]] = None
        self._handle = None

    def before_train(self, runner) -> None:
        model = runner.model
        model = getattr(model, 'module', model)
        protonet = _find_protonet(model)
        if protonet is None:
            runner.logger.warning('PrototypeStatsHook: the model has no '
                                  'mask_head.protonet; nothing is logged')
            return

        def keep(module, args, output):
            protos = output[0] if isinstance(output, (tuple, list)) \
                else output
            if module.training and isinstance(protos, Tensor):
                self._latest = prototype_stats(protos)

        self._handle = protonet.register_forward_hook(keep)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if self._latest is None:
            return
        stats, self._latest = self._latest, None
        for key, value in stats.items():
            runner.message_hub.update_scalar(f'train/{key}', value)

    def after_train(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
