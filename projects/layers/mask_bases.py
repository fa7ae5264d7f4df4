"""Which image-level mask bases a mask head predicts, declared by the head's
own package: ``'prototypes'`` (YOLACT §3.2's prototype masks, combined
linearly by per-detection mask coefficients: YOLACT, YOLACT++, SSS, SAIS)
or ``'bases'`` (BlendMask's K bases, blended by per-detection attention
maps; BlendMask slides, Figure 1 "Blending process"). The prototype figure
(``tools/analysis/show_prototypes.py``) reads it to choose its panels.

A method declares it next to the head class::

    @register_mask_bases('prototypes')
    @MODELS.register_module()
    class SAISMaskHead(BaseMaskHead):
        ...

mmdet's ``YOLACTProtonet`` (and so every subclass) is declared here.
"""
from typing import Callable, Dict, Optional, Type

from .class_table import ClassTable

KINDS = ('prototypes', 'bases')



def _mmdet_heads() -> Dict[type, str]:
    from mmdet.models.dense_heads import YOLACTProtonet
    return {YOLACTProtonet: 'prototypes'}


#: Each mask head class's kind of bases: mmdet's ``YOLACTProtonet``, and
#: the ones the methods declare with :func:`register_mask_bases`.
MASK_BASES: ClassTable[str] = ClassTable('mask bases', _mmdet_heads)


def register_mask_bases(kind: str) -> Callable[[Type], Type]:
    """A class decorator: the class and its subclasses predict ``kind``.

    Args:
        kind (str): ``'prototypes'`` or ``'bases'``.

    Returns:
        Callable: the decorator; it returns the class unchanged.

    Raises:
        ValueError: ``kind`` is not one of :data:`KINDS`.
    """
    if kind not in KINDS:
        raise ValueError(f'mask bases kind {kind!r} not in {KINDS}')
    return MASK_BASES.register(kind)


def mask_bases_of(cls: Type) -> Optional[str]:
    """The declared kind of ``cls`` or its nearest declared parent.

    Args:
        cls (type): a mask head class.

    Returns:
        str | None: ``'prototypes'``, ``'bases'``, or None when the head
        declares neither (SOLO, CondInst, Mask R-CNN, ...).
    """
    return MASK_BASES.get(cls)
