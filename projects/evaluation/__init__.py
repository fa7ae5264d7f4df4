"""Evaluation pieces MMEngine's runner builds from configs."""
from .empty_results import EmptyResultsCOCO, ZooCocoMetric

__all__ = ['EmptyResultsCOCO', 'ZooCocoMetric']
