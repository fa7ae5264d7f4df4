"""Single-shot instance segmentation zoo on MMDetection 3.x.

Importing :mod:`projects` registers every head of the zoo in MMDetection's
``MODELS`` registry; configs do it through ``custom_imports``.
"""
from . import (blendmask, condinst, core, sais, solo, yolact,  # noqa: F401
               yolo_mask)

__all__ = ['blendmask', 'condinst', 'core', 'sais', 'solo', 'yolact',
           'yolo_mask']
