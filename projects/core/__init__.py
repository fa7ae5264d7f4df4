"""Pieces that several methods of the zoo share, one concept per file."""
from .checkpoint import MMENGINE_CHECKPOINT_GLOBALS, allow_mmengine_checkpoints
from .prototype_stats import PrototypeStatsHook, prototype_stats
from .prototypes import Protonet, assemble_masks, crop_masks

__all__ = [
    'MMENGINE_CHECKPOINT_GLOBALS', 'allow_mmengine_checkpoints', 'Protonet',
    'assemble_masks', 'crop_masks', 'PrototypeStatsHook', 'prototype_stats'
]
