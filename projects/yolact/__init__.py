"""The YOLACT family (SSS, YOLACT, YOLACT++): what mmdet 3.3 lacks or gets
wrong, as registered subclasses of its YOLACT heads."""
from .mask_rescoring import FastMaskIoUNet
from .protonet import ZooYOLACTProtonet
from .protonet_pp import YOLACTPlusPlusProtonet
from .resnet_dcn_interval import ResNetDCNInterval
from .sss_head import SSSHead
from .yolact_head import ZooYOLACTHead

__all__ = [
    'FastMaskIoUNet', 'ResNetDCNInterval', 'SSSHead',
    'YOLACTPlusPlusProtonet', 'ZooYOLACTHead', 'ZooYOLACTProtonet'
]
