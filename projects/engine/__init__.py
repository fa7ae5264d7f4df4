"""Engine pieces of the zoo that MMEngine's runner builds from configs or
that the tools call around it: hooks, the CPU bf16 optim wrapper,
checkpoint reading and writing, resume, the reader of the scalars MMEngine
logs, inference precision and CPU distributed set-up. Imports the shared
layers and OpenMMLab only."""
from .atomic_backend import AtomicLocalBackend, atomic_write_bytes
from .checkpoint import (MMENGINE_CHECKPOINT_GLOBALS, CheckpointMismatchError,
                         UnreadableCheckpointError, UnsafeCheckpointError,
                         allow_mmengine_checkpoints, check_checkpoint_fits,
                         load_safe_checkpoint)
from .cpu_amp_optim_wrapper import (CPUBf16OptimWrapper,
                                    CPUChannelsLastOptimWrapper, enable_amp,
                                    enable_channels_last)
from .fine_tune_load_hook import FineTuneLoadHook, load_summary
from .inference_precision import InferencePrecision, InferencePrecisionHook
from .iter_seed_hook import IterSeedHook, iteration_seed
from .nan_guard import NonFiniteLossError, NonFiniteLossHook
from .prototype_stats import PrototypeStatsHook, prototype_stats
from .resume_validation import ValidateAtResumeHook
from .scalars import scalar_records

__all__ = [
    'AtomicLocalBackend', 'atomic_write_bytes', 'MMENGINE_CHECKPOINT_GLOBALS',
    'CheckpointMismatchError', 'UnreadableCheckpointError',
    'UnsafeCheckpointError', 'allow_mmengine_checkpoints',
    'check_checkpoint_fits', 'load_safe_checkpoint', 'CPUBf16OptimWrapper',
    'CPUChannelsLastOptimWrapper', 'enable_channels_last',
    'enable_amp', 'FineTuneLoadHook', 'load_summary', 'InferencePrecision',
    'InferencePrecisionHook', 'IterSeedHook', 'iteration_seed',
    'NonFiniteLossError', 'NonFiniteLossHook', 'PrototypeStatsHook',
    'prototype_stats', 'ValidateAtResumeHook', 'scalar_records'
]
