"""MMEngine DDP on CPU processes (gloo), for machines without a GPU.

MMEngine 0.10.7's ``pytorch`` launcher calls ``torch.cuda.set_device`` before
``init_process_group`` and wraps the model with
``device_ids=[LOCAL_RANK]``; on a CPU-only torch both fail. The Runner skips
its own initialisation when a process group already exists, and takes
``model_wrapper_cfg`` as given, so the fix is explicit: initialise the gloo
group here and wrap with ``device_ids=None`` (what torch's DDP expects for CPU
modules). On CUDA machines nothing changes.
"""
import os

import torch
import torch.distributed as dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config) -> bool:
    """Prepare ``cfg`` for ``--launcher pytorch`` on a machine without CUDA.

    Args:
        cfg (Config): The loaded config; ``cfg.launcher`` must be set.
            ``model_wrapper_cfg`` gets ``device_ids=None`` unless it has one.

    Returns:
        bool: True if a CPU process group was initialised here.

    Raises:
        RuntimeError: if the torchrun variables (``RANK``, ``WORLD_SIZE``,
            ``MASTER_ADDR``) are missing.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return False
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR')
               if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher pytorch needs {", ".join(missing)} '
                           'in the environment: start it with torchrun '
                           '(tools/dist_train.sh, tools/dist_test.sh)')
    backend = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend', 'gloo')
    if backend == 'nccl':  # nccl needs CUDA; gloo is torch's CPU backend
        backend = 'gloo'
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.setdefault('device_ids', None)
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    return True
