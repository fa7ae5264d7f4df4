"""Single-shot instance segmentation zoo on MMDetection 3.x.

Importing :mod:`projects` registers every head of the zoo in MMDetection's
``MODELS`` registry and its engine pieces (``CPUBf16OptimWrapper``) in
MMEngine's; configs do it through ``custom_imports``.
"""
from . import (blendmask, condinst, core, engine, sais, solo,  # noqa: F401
               yolact, yolo_mask)

__all__ = ['blendmask', 'condinst', 'core', 'engine', 'sais', 'solo',
           'yolact', 'yolo_mask']
