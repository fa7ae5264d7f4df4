"""Seed the training process's RNGs from (seed, iteration) before each
iteration, so that a resumed run draws what the uninterrupted run drew.

MMEngine 0.10.7 restores the weights, optimizer, schedulers, message hub and
(for iteration-based loops) the data position on ``--resume``, and
re-seeds every process with the run's seed; it does not save or restore the
RNG states of torch, numpy and ``random`` of the training process. A
resumed run therefore makes its random draws in the forward pass (for
example the ``torch.randperm`` with which SAIS and YOLACT sample the masks
they train when there are more than ``max_masks_to_train`` positives) from
the state right after seeding, not from the state the uninterrupted run had
reached: the resumed losses differ from the first resumed iteration on.

Saving the states in the checkpoint is not enough either: between the
checkpoint and the next iteration the uninterrupted run validates and opens
new DataLoader iterators, each of which draws from the torch RNG, and the
resumed run does neither at that point. Seeding from ``(seed, iter)`` right
before every iteration makes each iteration's draws a function of the
iteration alone.

Data augmentation is not touched: it runs in DataLoader workers, which
MMEngine seeds with ``seed + worker id + rank x workers`` at every epoch,
and the resumed loop replays the data up to its iteration, so it draws the
same. With ``num_workers=0`` augmentation draws from this process's RNG
while the loop replays, and a resumed run's augmentation differs.
"""
import random
from typing import Optional, Union

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def iteration_seed(seed: int, iteration: int) -> int:
    """A 32-bit seed for ``iteration`` of a run seeded with ``seed``.

    Args:
        seed (int): The run's seed (``runner.seed``, already offset by rank
            when ``randomness.diff_rank_seed`` is set).
        iteration (int): 0-based training iteration.

    Returns:
        int: in ``[0, 2**32)``; different iterations get unrelated seeds.
    """
    state = np.random.SeedSequence([seed % 2**32, iteration]).generate_state(1)
    return int(state[0])


@HOOKS.register_module()
class IterSeedHook(Hook):
    """Before each training iteration, seed ``random``, numpy and torch with
    :func:`iteration_seed` of the run's seed and the iteration.

    Does nothing when the run has no seed. Registered for every config in
    ``configs/_base_/default_runtime.py`` (``default_hooks.iter_seed``).
    """

    priority = 'VERY_HIGH'

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[Union[dict, tuple,
                                                     list]] = None) -> None:
        """Seed the RNGs for iteration ``runner.iter``."""
        if runner.seed is None:
            return
        s = iteration_seed(runner.seed, runner.iter)
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)
