"""Name a config's method (from the metafiles) and backbone the way the SAIS
paper's Table IV does. The model itself is built by
:func:`projects.apis.build_model`."""
from typing import Optional, Tuple

from mmengine.config import Config

from projects.apis.metafiles import MethodIndex


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
