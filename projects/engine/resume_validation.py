"""Validate a resumed run at the point it resumes from, when the
uninterrupted run validated there and the stopped run did not.

MMEngine 0.10.7's train loops write the checkpoint of an iteration (of an
epoch) in ``after_train_iter`` (``after_train_epoch``), and only then
validate if that point is a validation point. A resumed loop goes on with
the next iteration. So a run stopped between the checkpoint and the end of
its validation never validates at that point: its learning curve misses
it, and a run stopped there at its last iteration ends without final
metrics. MMEngine has no option for this; the hook below runs that
validation before the first resumed iteration, unless an earlier run in
the same work dir already logged it.
"""
from typing import Optional

from mmengine.hooks import Hook, LoggerHook
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmdet.registry import HOOKS
from .scalars import scalar_records


def validation_logged(work_dir: str, step: int,
                      skip_dir: Optional[str] = None) -> bool:
    """Whether a run in ``work_dir`` logged a validation at ``step``.

    Reads every ``<timestamp>/vis_data/scalars.json`` that MMEngine's
    ``LocalVisBackend`` wrote under ``work_dir`` (:func:`scalar_records`);
    a validation record is one with a ``step`` and no ``iter`` (training
    records carry both).

    Args:
        work_dir (str): the runner's work dir.
        step (int): the step the validation was logged at.
        skip_dir (str, optional): a ``<timestamp>`` folder name to leave out
            (the current run's own).

    Returns:
        bool: True if such a record exists. A line that is not JSON (a
        file cut short by a kill) is skipped.
    """
    return any('iter' not in rec and rec.get('step') == step
               for rec in scalar_records(work_dir, skip_dir))


@HOOKS.register_module()
class ValidateAtResumeHook(Hook):
    """Run the validation the resumed point was due, before training on.

    ``tools/train.py`` adds this hook to every resumed run. At
    ``before_train`` (the weights, optimizer and loop position are
    restored by then) it applies the loop's own rule, with its dynamic
    intervals: the resumed iteration (epoch) is at least ``val_begin`` and
    a multiple of the validation interval, or the last one. If so it runs
    the val loop once, logged at that iteration as the uninterrupted run's
    would be, unless an earlier run in the work dir logged a validation
    at that step already (:func:`validation_logged`; the stop came after
    that validation finished). The step is known where the logger hook
    logs metrics by iteration for an iteration-based loop, or for an
    epoch-based loop either way; an iteration-based loop that logs metrics
    by epoch always validates again, as the step does not name the point.

    Iteration- and epoch-based loops are handled; other loops, runs
    without a val loop and fresh runs (point 0) are left alone.
    """

    priority = 'LOWEST'  # after every other hook's before_train

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            done, last = loop.iter, loop.max_iters
        elif isinstance(loop, EpochBasedTrainLoop):
            done, last = loop.epoch, loop.max_epochs
        else:
            return
        if runner.val_loop is None or done == 0 or done < loop.val_begin:
            return
        # the interval the loop itself would use right after this point
        loop._decide_current_val_interval()
        if not (done % loop.val_interval == 0 or done == last):
            return
        step = self._logged_step(runner, loop)
        if step is not None and validation_logged(
                runner.work_dir, step, skip_dir=runner.timestamp):
            runner.logger.info(
                f'resumed at {done}, a validation point that an earlier run '
                f'in {runner.work_dir} validated already (step {step} in its '
                'scalars.json): training on')
            return
        runner.logger.info(
            f'resumed at {done}, a validation point: validating before '
            'training on (the checkpoint was written before the '
            'validation)')
        runner.val_loop.run()

    @staticmethod
    def _logged_step(runner, loop) -> Optional[int]:
        """The step MMEngine's LoggerHook logs this point's validation at,
        or None when it does not name the point (or there is no
        LoggerHook)."""
        logger_hook = next(
            (h for h in runner.hooks if isinstance(h, LoggerHook)), None)
        if logger_hook is None:
            return None
        by_epoch = logger_hook.log_metric_by_epoch
        if isinstance(loop, IterBasedTrainLoop):
            return None if by_epoch else runner.iter
        return runner.epoch if by_epoch else runner.iter
