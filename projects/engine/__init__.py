"""Engine pieces of the zoo that MMEngine's runner builds from configs."""
from .cpu_amp_optim_wrapper import CPUBf16OptimWrapper, enable_amp
from .fine_tune_load_hook import FineTuneLoadHook, load_summary

__all__ = ['CPUBf16OptimWrapper', 'enable_amp', 'FineTuneLoadHook',
           'load_summary']
