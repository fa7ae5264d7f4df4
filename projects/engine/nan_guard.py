"""Stop training at the first NaN or inf loss, before it is checkpointed.

MMEngine logs a NaN loss and goes on: the weights become NaN at the next
optimizer step, and every later checkpoint (and, with ``max_keep_ckpts``,
the good ones it removes) holds them. :class:`NonFiniteLossHook` checks every
loss term of every iteration after the step and raises
:class:`NonFiniteLossError` naming the iteration and the terms, before the
checkpoint hook (priority ``VERY_LOW``) could save that iteration, so the
last checkpoint written stays the last good one.
"""
import math
from typing import Dict, Optional, Union

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or inf; the message names the iteration (as
    in the log and the checkpoint names, 1-based) and the terms."""


def non_finite_terms(outputs: Dict[str, Union[torch.Tensor, float]]) -> Dict[
        str, float]:
    """The loss terms of ``outputs`` that are NaN or inf.

    Only entries whose name contains ``loss`` count (``loss``,
    ``loss_mask``, ...): other logged values such as an accuracy may be NaN
    by definition (no positive in the batch) without harm.

    Args:
        outputs (dict): ``name -> scalar`` (tensor or float), the
            ``log_vars`` a model's ``train_step`` returns.

    Returns:
        dict[str, float]: the non-finite loss terms with their values.
    """
    bad = {}
    for name, value in outputs.items():
        if 'loss' not in name:
            continue
        v = float(value.detach().float().mean()) if isinstance(
            value, torch.Tensor) else float(value)
        if not math.isfinite(v):
            bad[name] = v
    return bad


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise :class:`NonFiniteLossError` after the first iteration whose
    loss terms are not all finite.

    In distributed training every process takes part in the check (one
    ``all_reduce`` of a flag per iteration), so all of them stop at the same
    iteration. Registered for every config in
    ``configs/_base_/default_runtime.py`` (``default_hooks.nan_guard``).
    """

    priority = 'ABOVE_NORMAL'  # before LoggerHook and CheckpointHook

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[Union[dict, tuple, list]] = None,
                         outputs: Optional[dict] = None) -> None:
        """Check ``outputs`` (the iteration's ``log_vars``)."""
        bad = non_finite_terms(outputs or {})
        if get_world_size() > 1:
            flag = torch.tensor([float(bool(bad))])
            all_reduce(flag)
            if flag.item() == 0:
                return
        elif not bad:
            return
        last = runner.message_hub.get_info('last_ckpt')
        terms = ', '.join(f'{k} = {v}' for k, v in bad.items()) or \
            'a loss term on another process'
        raise NonFiniteLossError(
            f'iteration {runner.iter + 1}: non-finite loss: {terms}; '
            'training stopped before saving it. Last good checkpoint: '
            f'{last or "none written yet"}')
