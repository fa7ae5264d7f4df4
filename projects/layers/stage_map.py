"""Which submodules of a detector are its backbone+neck and which its head
forward, per detector type: the network part of a prediction, as opposed to
its post-processing. Read by :class:`projects.benchmark.StageTimer` (what to
time), :class:`projects.engine.InferencePrecision` (what runs under bf16
autocast) and the CPU bf16 optim wrapper (whose head outputs are cast back
to fp32). A method whose detector type needs its own map declares it with
:func:`register_stage_map` in its package; every subclass of mmdet's
single-stage and two-stage detectors has a map already.

Why our own: mmdet 3.3 has no notion of inference stages; its detectors
differ in where the heads' network ends and post-processing starts. In a
single-stage detector every top-level child but the backbone, neck and
data pre-processor is a head whose ``forward`` is the network; in a
two-stage detector ``roi_head.predict`` mixes network calls (RoI
extractors, box and mask heads) with box decoding, NMS and mask pasting,
so only its submodules' calls are head forward.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Type

from torch import nn

from .class_table import ClassTable

NOT_HEADS = ('backbone', 'neck', 'data_preprocessor')


@dataclass(frozen=True)
class StageMap:
    """Dotted submodule paths per timed stage.

    Attributes:
        backbone_neck (tuple[str]): paths whose calls are backbone+neck.
        head_forward (tuple[str] | None): paths whose calls are head
            forward; None: every top-level child not in :data:`NOT_HEADS`.
    """
    backbone_neck: Tuple[str, ...] = ('backbone', 'neck')
    head_forward: Optional[Tuple[str, ...]] = None

    def modules(self, model: nn.Module) -> Dict[str, List[nn.Module]]:
        """The modules of each stage present in ``model``.

        A path the model lacks (no neck, a Faster R-CNN without mask
        branch) is skipped. A ``ModuleList``/``ModuleDict`` (never called
        itself, e.g. a cascade's ``roi_head.bbox_head``) stands for its
        children.

        Returns:
            dict: ``backbone_neck`` and ``head_forward`` -> list of modules.
        """
        heads = self.head_forward
        if heads is None:
            heads = tuple(name for name, _ in model.named_children()
                          if name not in NOT_HEADS)
        return dict(backbone_neck=_resolve(model, self.backbone_neck),
                    head_forward=_resolve(model, heads))


def _resolve(model: nn.Module, paths: Tuple[str, ...]) -> List[nn.Module]:
    found = []
    for path in paths:
        module = model
        for part in path.split('.'):
            module = getattr(module, part, None)
            if not isinstance(module, nn.Module):
                break
        else:
            if isinstance(module, (nn.ModuleList, nn.ModuleDict)):
                found.extend(module.children())
            else:
                found.append(module)
    return found


SINGLE_STAGE = StageMap()
TWO_STAGE = StageMap(head_forward=(
    'rpn_head', 'roi_head.bbox_roi_extractor', 'roi_head.bbox_head',
    'roi_head.mask_roi_extractor', 'roi_head.mask_head'))



def _mmdet_detectors() -> Dict[type, StageMap]:
    """mmdet's detector types (imported on first use: mmdet pulls in much,
    and this module is imported by code that may not need it)."""
    from mmdet.models.detectors import SingleStageDetector, TwoStageDetector
    from mmdet.models.detectors.single_stage_instance_seg import \
        SingleStageInstanceSegmentor
    return {SingleStageDetector: SINGLE_STAGE,
            SingleStageInstanceSegmentor: SINGLE_STAGE,
            TwoStageDetector: TWO_STAGE}


#: Each detector type's map: mmdet's single- and two-stage bases (so every
#: subclass, the zoo's included, has one), and those declared with
#: :func:`register_stage_map`.
STAGE_MAPS: ClassTable[StageMap] = ClassTable('stage map', _mmdet_detectors)


def register_stage_map(cls: Type[nn.Module], stage_map: StageMap) -> None:
    """Use ``stage_map`` for ``cls`` and its subclasses (unless a subclass
    has its own)."""
    STAGE_MAPS.declare(cls, stage_map)


def stage_map_of(model_or_cls) -> StageMap:
    """The :class:`StageMap` of the first class in the model's MRO that has
    one; :data:`SINGLE_STAGE` for an unknown detector type."""
    return STAGE_MAPS.get(model_or_cls, SINGLE_STAGE)
