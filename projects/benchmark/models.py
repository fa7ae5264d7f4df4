"""Build a config's model for benchmarking, and name its method (from the
metafiles) and backbone the way the SAIS paper's Table IV does."""
import os.path as osp
from typing import Optional, Tuple

from mmengine.config import Config, ConfigDict
from torch import nn

from .metafiles import MethodIndex


def backbone_name(backbone_cfg: dict) -> str:
    """'R-50', 'R-50-DCN', 'X-101-64x4d', 'D-53', else the type."""
    kind = backbone_cfg.get('type', '?')
    depth = backbone_cfg.get('depth')
    if kind == 'ResNeXt':
        return (f"X-{depth}-{backbone_cfg.get('groups')}x"
                f"{backbone_cfg.get('base_width')}d")
    if kind.startswith('ResNet'):
        dcn = backbone_cfg.get('dcn') or kind == 'ResNetDCNInterval'
        return f'R-{depth}' + ('-DCN' if dcn else '')
    if kind == 'Darknet':
        return f'D-{depth}'
    return kind


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

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        UnsafeCheckpointError: ``checkpoint`` pickles code (refused before
            anything of it is loaded).
        UnreadableCheckpointError: ``checkpoint`` is truncated or not one.
    """
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.runner import load_checkpoint

    import projects  # noqa: F401  (registers the zoo's modules)
    from projects.core.checkpoint import (allow_mmengine_checkpoints,
                                          check_checkpoint_fits,
                                          load_safe_checkpoint)

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


def describe(cfg: Config, config_path: Optional[str] = None,
             index: Optional[MethodIndex] = None) -> Tuple[str, str]:
    """(method, backbone) of a config.

    Args:
        cfg (Config): the loaded config.
        config_path (str, optional): its file; default ``cfg.filename``.
        index (MethodIndex, optional): the metafiles; default those of the
            repository's ``configs/``.
    """
    index = index or MethodIndex()
    method = index.method_of(config_path or cfg.filename, cfg.model)
    return method, backbone_name(cfg.model.backbone)
