"""Validate a resumed run at the point it resumes from, when the
uninterrupted run validated there.

MMEngine 0.10.7's train loops write the checkpoint of an iteration (of an
epoch) in ``after_train_iter`` (``after_train_epoch``), and only then
validate if that point is a validation point. A resumed loop goes on with
the next iteration. So a run stopped between the checkpoint and the end of
its validation never validates at that point: its learning curve misses
it, and a run stopped there at its last iteration ends without final
metrics. MMEngine has no option for this; the hook below runs that
validation before the first resumed iteration.
"""
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmdet.registry import HOOKS


@HOOKS.register_module()
class ValidateAtResumeHook(Hook):
    """Run the validation the resumed point was due, before training on.

    ``tools/train.py`` adds this hook to every resumed run. At
    ``before_train`` (the weights, optimizer and loop position are
    restored by then) it applies the loop's own rule, with its dynamic
    intervals: the resumed iteration (epoch) is at least ``val_begin`` and
    a multiple of the validation interval, or the last one. If so it runs
    the val loop once, logged at that iteration as the uninterrupted run's
    would be. A run that was stopped after that validation had finished
    validates the same weights a second time; the later record of a step
    then stands for it.

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
        if done % loop.val_interval == 0 or done == last:
            runner.logger.info(
                f'resumed at {done}, a validation point: validating before '
                'training on (the checkpoint was written before the '
                'validation)')
            runner.val_loop.run()
