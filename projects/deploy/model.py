"""The detector of a config with a checkpoint's weights, for the deployment
tools."""
import copy
import re
from typing import Optional

import torch
from mmengine.config import Config
from torch import nn

from projects.benchmark.models import strip_pretrained
from projects.core.checkpoint import (check_checkpoint_fits,
                                      load_safe_checkpoint)


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
        CheckpointMismatchError: (a ``ValueError``) the checkpoint's keys
            or shapes do not fit the model (:func:`~projects.core.
            checkpoint.check_checkpoint_fits`).
    """
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    raw = state = None
    if checkpoint is not None:
        raw = load_safe_checkpoint(checkpoint)
        state = {re.sub(r'^module\.', '', k): v
                 for k, v in raw.get('state_dict', raw).items()}
    model_cfg = copy.deepcopy(cfg.model)
    strip_pretrained(model_cfg)
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    if raw is not None:
        check_checkpoint_fits(model, raw, checkpoint,
                              getattr(cfg, 'filename', 'config'))
        model.load_state_dict(state)
    return model.eval()
