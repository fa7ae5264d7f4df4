"""The YOLACT family (SSS, YOLACT, YOLACT++): what mmdet 3.3 lacks or gets
wrong, as registered subclasses of its YOLACT heads."""
from .protonet import ZooYOLACTProtonet

__all__ = ['ZooYOLACTProtonet']
