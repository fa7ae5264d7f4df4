"""Pieces that several methods of the zoo share, one concept per file."""
from .atomic_backend import AtomicLocalBackend, atomic_write_bytes
from .checkpoint import (MMENGINE_CHECKPOINT_GLOBALS,
                         UnreadableCheckpointError, UnsafeCheckpointError,
                         allow_mmengine_checkpoints, load_safe_checkpoint)
from .conv_bn_fusion import FusedConvBN, conv_bn_pairs
from .empty_results import EmptyResultsCOCO, ZooCocoMetric
from .inference_precision import InferencePrecision, InferencePrecisionHook
from .iter_seed_hook import IterSeedHook, iteration_seed
from .nan_guard import NonFiniteLossError, NonFiniteLossHook
from .prototype_stats import PrototypeStatsHook, prototype_stats
from .prototypes import Protonet, assemble_masks, crop_masks

__all__ = [
    'FusedConvBN', 'conv_bn_pairs',
    'MMENGINE_CHECKPOINT_GLOBALS', 'allow_mmengine_checkpoints', 'Protonet',
    'assemble_masks', 'crop_masks', 'PrototypeStatsHook', 'prototype_stats',
    'AtomicLocalBackend', 'atomic_write_bytes', 'UnreadableCheckpointError',
    'UnsafeCheckpointError', 'load_safe_checkpoint', 'EmptyResultsCOCO',
    'ZooCocoMetric', 'IterSeedHook', 'iteration_seed', 'NonFiniteLossError',
    'NonFiniteLossHook', 'InferencePrecision', 'InferencePrecisionHook'
]
