"""SAIS: Single-stage Anchor-free Instance Segmentation (Xiang et al.).

FCOS-based box head with mask coefficients from fused cls+reg towers
(:class:`SAISHead`), center-aware targets (:mod:`.center_aware`) and a
YOLACT-style prototype mask head (:class:`SAISMaskHead`), run by mmdet's
``SingleStageInstanceSegmentor``.
"""
from .center_aware import assign_locations, centerness
from .sais_head import SAISHead
from .sais_mask_head import SAISMaskHead

__all__ = ['SAISHead', 'SAISMaskHead', 'assign_locations', 'centerness']
