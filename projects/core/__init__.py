"""Pieces that several methods of the zoo share, one concept per file."""
from .checkpoint import MMENGINE_CHECKPOINT_GLOBALS, allow_mmengine_checkpoints
from .prototypes import Protonet, assemble_masks, crop_masks

__all__ = [
    'MMENGINE_CHECKPOINT_GLOBALS', 'allow_mmengine_checkpoints', 'Protonet',
    'assemble_masks', 'crop_masks'
]
