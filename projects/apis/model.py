"""The detector of a config with a checkpoint's weights: the one place the
tools build a model outside MMEngine's Runner (benchmark, deployment,
prototype figures). A checkpoint is read with ``weights_only`` and refused
when it does not fit the config."""
import copy
import os.path as osp
import re
from typing import Optional

import torch
from mmengine.config import Config, ConfigDict
from torch import nn

from projects.engine.checkpoint import (allow_mmengine_checkpoints,
                                        check_checkpoint_fits,
                                        load_safe_checkpoint)


def strip_pretrained(cfg) -> None:
    """Drop every ``init_cfg`` of type 'Pretrained' in place: benchmark
    weights come from ``--checkpoint`` or a seeded random init, never from
    a download or a file the config names."""
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for v in cfg.values():
            strip_pretrained(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            strip_pretrained(v)


def build_model(cfg: Config, checkpoint: Optional[str], device: str,
                seed: int = 0) -> nn.Module:
    """The config's model with mmdet's ``init_weights`` (seeded) and then
    the checkpoint's weights, on ``device``.

    Args:
        cfg (Config): a zoo config, loaded by ``Config.fromfile`` (which
            imports its ``custom_imports``: the zoo's modules are
            registered).
        checkpoint (str, optional): an MMEngine checkpoint; None keeps the
            seeded ``init_weights``.
        device (str): ``'cpu'`` or ``'cuda'``.
        seed (int): torch seed of the initialisation.

    Returns:
        nn.Module: the detector, in training mode.

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        UnsafeCheckpointError: ``checkpoint`` pickles code (refused before
            anything of it is loaded).
        UnreadableCheckpointError: ``checkpoint`` is truncated or not one.
    """
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.runner import load_checkpoint

    register_all_modules()

    if checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint}: no such file')
    state = load_safe_checkpoint(checkpoint) if checkpoint else None
    model_cfg = ConfigDict(cfg.model)
    strip_pretrained(model_cfg)
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    model.init_weights()
    if checkpoint:
        # weights that do not fit are refused, not half loaded
        check_checkpoint_fits(model, state, checkpoint,
                              getattr(cfg, 'filename', 'config'))
        allow_mmengine_checkpoints()
        load_checkpoint(model, checkpoint, map_location='cpu',
                        logger='silent')
    return model.to(device)


def load_detector(cfg: Config, checkpoint: Optional[str] = None,
                  seed: int = 0) -> nn.Module:
    """Build ``cfg.model`` on the CPU, in eval mode, with the weights of
    ``checkpoint``.

    The file is read by :func:`projects.engine.checkpoint.
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
            or shapes do not fit the model (:func:`~projects.engine.
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
