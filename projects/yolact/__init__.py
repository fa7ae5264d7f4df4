"""The YOLACT family (SSS, YOLACT, YOLACT++): what mmdet 3.3 lacks or gets
wrong, as registered subclasses of its YOLACT heads."""
from .protonet import ZooYOLACTProtonet
from .yolact_head import ZooYOLACTHead

__all__ = ['ZooYOLACTHead', 'ZooYOLACTProtonet']
