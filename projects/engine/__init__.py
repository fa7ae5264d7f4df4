"""Engine pieces of the zoo that MMEngine's runner builds from configs."""
from .cpu_amp_optim_wrapper import CPUBf16OptimWrapper, enable_amp

__all__ = ['CPUBf16OptimWrapper', 'enable_amp']
