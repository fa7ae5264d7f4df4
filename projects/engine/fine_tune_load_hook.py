"""``load_from`` for fine-tuning, summarised in one log line.

Why our own: MMEngine loads ``load_from`` with ``strict=False`` (as
MMDetection users expect: a COCO checkpoint fine-tunes on a dataset with
another class count) and logs every key that does not fit, a size mismatch
with both shapes per tensor, which fills screens for a new class count or
head. This hook loads the same tensors (every checkpoint tensor whose key
and shape the model has) at the same point of the run (after the weights'
initialisation and ``load_or_resume``, before the first iteration) and says
in one line how many were loaded and how many skipped, and why.
"""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdet.registry import HOOKS
from projects.engine.checkpoint import compare_state, load_safe_checkpoint


def _first(keys, n: int = 3) -> str:
    keys = list(keys)
    return ', '.join(keys[:n]) + (', ...' if len(keys) > n else '')


def load_summary(path: str, fit) -> str:
    """The log line of a :class:`~projects.engine.checkpoint.StateFit`."""
    total = len(fit.loadable) + len(fit.shape) + len(fit.unexpected)
    parts = [f'load_from {path!r}: loaded {len(fit.loadable)} of the '
             f'checkpoint\'s {total} tensors']
    skipped = []
    if fit.shape:
        skipped.append(f'{len(fit.shape)} of another shape (' + _first(
            f'{k} {list(a)} -> {list(b)}' for k, a, b in fit.shape) +
            '; another class count or head)')
    if fit.unexpected:
        skipped.append(f'{len(fit.unexpected)} the model does not have '
                       f'({_first(fit.unexpected)})')
    if skipped:
        parts.append('skipped ' + ' and '.join(skipped))
    if fit.missing:
        parts.append(f'{len(fit.missing)} of the model\'s tensors are not '
                     'in the checkpoint and keep their initialisation ('
                     f'{_first(fit.missing)})')
    return '; '.join(parts)


@HOOKS.register_module()
class FineTuneLoadHook(Hook):
    """Load a checkpoint's fitting tensors into the model before the first
    iteration and log :func:`load_summary` (``tools/train.py`` puts it in
    place of ``load_from`` when the run does not resume).

    Args:
        checkpoint (str): the checkpoint (read by :func:`~projects.engine.
            checkpoint.load_safe_checkpoint`: pickled code is refused).

    Raises:
        UnsafeCheckpointError, UnreadableCheckpointError: in
            ``before_train``, see :func:`load_safe_checkpoint`.
    """

    priority = 'VERY_HIGH'

    def __init__(self, checkpoint: str) -> None:
        self.checkpoint = checkpoint

    def before_train(self, runner) -> None:
        if runner.iter > 0:  # resumed: the weights are the resumed run's
            return
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        fit = compare_state(model, load_safe_checkpoint(self.checkpoint))
        model.load_state_dict(fit.loadable, strict=False)
        runner.logger.info(load_summary(self.checkpoint, fit))
