"""What a head's dense ``forward`` returns, declared by the head's own
package: the ONNX export reads it to flatten the outputs into a graph's
named tensors and to put them back together for ``predict_by_feat``.

mmdet's heads return nested outputs: a tuple of groups, each group a list
with one tensor per FPN level (``cls_scores``), a single tensor
(``prototypes``) or ``None`` outside training (``sem_logits``). A method
declares its heads' groups next to the head class::

    @register_head_outputs(HeadOutputs((('prototypes', SINGLE), )))
    @MODELS.register_module()
    class SAISMaskHead(BaseMaskHead):
        ...

mmdet's own heads that the zoo exports (FCOS, CondInst's box head,
YOLACT's box head, the SOLO family) are declared here. Lookups follow the
head's MRO, so a subclass without its own entry uses its parent's.

Why our own: mmdet 3.3 and MMDeploy describe no head's outputs as data;
MMDeploy rewrites each head's functions instead.
"""
from dataclasses import dataclass
from typing import Callable, Dict, Tuple, Type

from .class_table import ClassTable

#: a list of tensors, one per FPN level
LEVELS = 'levels'
#: one tensor
SINGLE = 'single'
#: ``None`` outside training: not an output of the exported network
TRAIN_ONLY = 'train_only'
KINDS = (LEVELS, SINGLE, TRAIN_ONLY)


@dataclass(frozen=True)
class HeadOutputs:
    """The dense outputs of one head class.

    Attributes:
        groups (tuple[tuple[str, str]]): ``(name, kind)`` of each output
            group in the order the head returns them; ``kind`` is one of
            :data:`LEVELS`, :data:`SINGLE`, :data:`TRAIN_ONLY`.
        split (bool): True when the head's ``forward`` needs the detections
            and is split into ``forward_dense(x)`` (network) and
            ``forward_instances(*dense, results_list)`` (post-processing);
            False when ``forward(x)`` is dense already.
        post_modules (tuple[str]): sub-modules with weights that run in
            post-processing, not in the exported network (YOLACT++'s mask
            re-scoring net): post-processing needs the checkpoint.

    Raises:
        ValueError: a kind not in :data:`KINDS`.
    """
    groups: Tuple[Tuple[str, str], ...]
    split: bool = False
    post_modules: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, kind in self.groups:
            if kind not in KINDS:
                raise ValueError(f'output {name!r}: kind {kind!r} not in '
                                 f'{KINDS}')


FCOS_OUTPUTS = (('cls_scores', LEVELS), ('bbox_preds', LEVELS),
                ('centernesses', LEVELS))
PROTONET_OUTPUTS = (('prototypes', SINGLE), ('segm_preds', TRAIN_ONLY))



def _mmdet_heads() -> Dict[type, HeadOutputs]:
    """mmdet's heads that the zoo exports (imported on first lookup)."""
    from mmdet.models.dense_heads import (CondInstBboxHead,
                                          DecoupledSOLOHead, FCOSHead,
                                          SOLOHead, SOLOV2Head, YOLACTHead)
    return {
        CondInstBboxHead: HeadOutputs(FCOS_OUTPUTS +
                                      (('param_preds', LEVELS), )),
        FCOSHead: HeadOutputs(FCOS_OUTPUTS),
        YOLACTHead: HeadOutputs((('cls_scores', LEVELS),
                                 ('bbox_preds', LEVELS),
                                 ('coeff_preds', LEVELS))),
        SOLOV2Head: HeadOutputs((('kernel_preds', LEVELS),
                                 ('cls_preds', LEVELS),
                                 ('mask_feats', SINGLE))),
        DecoupledSOLOHead: HeadOutputs((('mask_preds_x', LEVELS),
                                        ('mask_preds_y', LEVELS),
                                        ('cls_preds', LEVELS))),
        SOLOHead: HeadOutputs((('mask_preds', LEVELS), ('cls_preds', LEVELS))),
    }


#: Each exportable head class's layout: mmdet's, and the ones the methods
#: declare with :func:`register_head_outputs`.
HEAD_OUTPUTS: ClassTable[HeadOutputs] = ClassTable(
    'ONNX output layout', _mmdet_heads,
    'A method declares its heads with register_head_outputs '
    '(projects/layers/head_outputs.py).')


def register_head_outputs(layout: HeadOutputs) -> Callable[[Type], Type]:
    """A class decorator that declares ``layout`` for the class and its
    subclasses (unless a subclass declares its own).

    Args:
        layout (HeadOutputs): the head's dense outputs.

    Returns:
        Callable: the decorator; it returns the class unchanged.
    """
    return HEAD_OUTPUTS.register(layout)


def head_outputs(head: object) -> HeadOutputs:
    """The layout of ``head``'s class or its nearest declared parent.

    Args:
        head (nn.Module): a box or mask head.

    Returns:
        HeadOutputs: its dense outputs.

    Raises:
        NotImplementedError: no layout for the head's class or parents; the
            message names the head and the declared classes.
    """
    return HEAD_OUTPUTS.lookup(head)
