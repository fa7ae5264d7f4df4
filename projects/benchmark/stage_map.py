"""The stage maps of :mod:`projects.core.stage_map`, where they live now
(``InferencePrecision`` in ``projects.core`` needs them too); kept here so
that ``projects.benchmark.stage_map`` imports keep working. One registry:
``register_stage_map`` from either module registers for both."""
from projects.core.stage_map import (NOT_HEADS, SINGLE_STAGE, TWO_STAGE,
                                     StageMap, default_stage_maps,
                                     register_stage_map, stage_map_of)

__all__ = ['NOT_HEADS', 'SINGLE_STAGE', 'TWO_STAGE', 'StageMap',
           'default_stage_maps', 'register_stage_map', 'stage_map_of']
