"""The detector of a config with a checkpoint's weights, for the deployment
tools."""
import copy
from typing import Optional

import torch
from mmengine.config import Config
from torch import nn

from projects.benchmark.models import strip_pretrained
from projects.core.checkpoint import load_safe_checkpoint


def load_detector(cfg: Config, checkpoint: Optional[str] = None,
                  seed: int = 0) -> nn.Module:
    """Build ``cfg.model`` on the CPU, in eval mode, with the weights of
    ``checkpoint``.

    The file is read by :func:`projects.core.checkpoint.
    load_safe_checkpoint` (``weights_only``, pickled code refused), as
    tools/test.py reads it; ``Pretrained`` inits are dropped, so every
    weight comes from the file, and a file that does not fit the config is
    refused instead of being half loaded.

    Args:
        cfg (Config): a detector config (its ``custom_imports`` already
            imported, as ``Config.fromfile`` does).
        checkpoint (str, optional): an MMEngine checkpoint (``state_dict``
            inside) or a bare state dict; None keeps the seeded random
            initialisation of the layers (no ``init_weights``).
        seed (int): torch seed of that initialisation.

    Returns:
        nn.Module: the detector.

    Raises:
        FileNotFoundError, UnsafeCheckpointError, UnreadableCheckpointError:
            see :func:`load_safe_checkpoint`.
        ValueError: the checkpoint's keys or shapes do not fit the model;
            names the first misfits.
    """
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    state = None
    if checkpoint is not None:
        state = load_safe_checkpoint(checkpoint)
        state = state.get('state_dict', state)
    model_cfg = copy.deepcopy(cfg.model)
    strip_pretrained(model_cfg)
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    if state is not None:
        misfit = (f'checkpoint {checkpoint!r} does not fit config '
                  f'{getattr(cfg, "filename", "")}')
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as e:  # a tensor of another shape
            first = (str(e).splitlines()[1:] or [str(e)])[0].strip()
            raise ValueError(f'{misfit}: {first}') from None
        if missing or unexpected:
            raise ValueError(f'{misfit}: {len(missing)} missing keys '
                             f'{missing[:3]}, {len(unexpected)} unexpected '
                             f'keys {unexpected[:3]}')
    return model.eval()
