"""The SOLO family (SOLO, Decoupled SOLO, Decoupled SOLO light, SOLOv2):
mmdet 3.3's heads, subclassed only where post-processing needs bounding
(see :mod:`projects.solo.grid_postprocess`)."""
from .grid_postprocess import grid_predict
from .solo_heads import (ZooDecoupledSOLOHead, ZooDecoupledSOLOLightHead,
                         ZooSOLOHead)
from .solov2_head import ZooSOLOV2Head

__all__ = [
    'ZooDecoupledSOLOHead', 'ZooDecoupledSOLOLightHead', 'ZooSOLOHead',
    'ZooSOLOV2Head', 'grid_predict'
]
