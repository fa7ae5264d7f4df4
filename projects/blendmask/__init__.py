"""BlendMask (Chen et al., CVPR 2020) and BlendMask-RT, issue 13.

An FCOS box head whose regression tower also predicts K x A x A attentions
per location (:class:`BlendMaskBboxHead`), a bottom module that predicts K
bases from P3-P5 (:class:`BasisModule`) and the blender that crops the
bases per instance and blends them with its attentions (:class:`Blender`),
both in :class:`BlendMaskMaskHead`; run by mmdet's
``SingleStageInstanceSegmentor``.
"""
from .basis_module import BasisModule
from .blender import Blender
from .blendmask_bbox_head import BlendMaskBboxHead
from .blendmask_mask_head import BlendMaskMaskHead, centerness_targets
from .semantic_target import semantic_targets

__all__ = ['BasisModule', 'Blender', 'BlendMaskBboxHead', 'BlendMaskMaskHead',
           'centerness_targets', 'semantic_targets']
