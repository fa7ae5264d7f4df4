"""Single-shot instance segmentation zoo on MMDetection 3.x.

Importing :mod:`projects` registers every head of the zoo in MMDetection's
``MODELS`` registry; configs do it through ``custom_imports``.
"""
from . import condinst, core, sais, solo, yolact, yolo_mask  # noqa: F401

__all__ = ['condinst', 'core', 'sais', 'solo', 'yolact', 'yolo_mask']
