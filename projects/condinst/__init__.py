"""CondInst: Conditional Convolutions for Instance Segmentation (Tian, Shen,
Chen, ECCV 2020), and its real-time variant CondInst-RT.

mmdet 3.3's CondInst (FCOS box head that also predicts each instance's
mask-head filters, a mask branch on P3-P5 and a dynamic mask head) with:
the dynamic head's parameter layout fixed and the Table 1/3 ablation
switches (:class:`ZooCondInstMaskHead`), a shared box tower for the RT
recipe (:class:`ZooCondInstBboxHead`) and a build-time check that the two
heads agree on the parameter count (:class:`ZooCondInst`).
"""
from .bbox_head import ZooCondInstBboxHead
from .detector import ZooCondInst
from .dynamic_mask_head import (ZooCondInstMaskHead, dynamic_layer_channels,
                                dynamic_param_count)

__all__ = [
    'ZooCondInst', 'ZooCondInstBboxHead', 'ZooCondInstMaskHead',
    'dynamic_layer_channels', 'dynamic_param_count'
]
