"""Model layers that several methods share, and the declarations a method
makes about its own heads for the floors above (stage map, ONNX output
layout, mask bases). Imports OpenMMLab only, never a method, engine, tool,
benchmark or deploy module."""
from .class_table import ClassTable
from .conv_bn_fusion import FusedConvBN, conv_bn_pairs
from .deform_conv import ParallelDCNv2, modulated_deform_conv2d_gather
from .fp32_modules import Fp32Modules, Fp32Outputs, fp32_only_types, to_fp32
from .graph_ops import GRAPH_POSTPROCESS, register_graph_postprocess
from .head_outputs import (HEAD_OUTPUTS, LEVELS, SINGLE, TRAIN_ONLY,
                           HeadOutputs, head_outputs, register_head_outputs)
from .mask_bases import MASK_BASES, mask_bases_of, register_mask_bases
from .nms import (cross_class_fast_nms, multiclass_nms, per_class_fast_nms,
                  standard_nms)
from .prototypes import Protonet, assemble_masks, crop_masks, paste_masks
from .roi_align import (ParallelRoIAlign, RegistrySingleRoIExtractor,
                        parallel_roi_align)
from .stage_map import (SINGLE_STAGE, STAGE_MAPS, TWO_STAGE, StageMap,
                        register_stage_map, stage_map_of)

__all__ = [
    'ClassTable', 'GRAPH_POSTPROCESS', 'register_graph_postprocess',
    'FusedConvBN', 'conv_bn_pairs', 'ParallelDCNv2',
    'modulated_deform_conv2d_gather', 'Fp32Modules',
    'Fp32Outputs', 'fp32_only_types', 'to_fp32', 'HEAD_OUTPUTS', 'LEVELS',
    'SINGLE', 'TRAIN_ONLY', 'HeadOutputs', 'head_outputs',
    'register_head_outputs', 'MASK_BASES', 'mask_bases_of',
    'register_mask_bases', 'cross_class_fast_nms', 'multiclass_nms',
    'per_class_fast_nms', 'standard_nms', 'Protonet', 'assemble_masks',
    'crop_masks', 'paste_masks', 'ParallelRoIAlign',
    'RegistrySingleRoIExtractor', 'parallel_roi_align', 'SINGLE_STAGE', 'STAGE_MAPS', 'TWO_STAGE',
    'StageMap', 'register_stage_map', 'stage_map_of'
]
