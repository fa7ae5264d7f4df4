"""What each head's dense forward returns, so that its tensors can travel
as one flat tuple (an ONNX graph's outputs) and be put back together.

mmdet's heads return nested outputs: a tuple of groups, each group a list
with one tensor per FPN level (``cls_scores``), a single tensor
(``prototypes``) or ``None`` outside training (``sem_logits``). An ONNX
graph has a flat list of named tensor outputs, and ``predict_by_feat``
needs the nested form back. Each head's package declares the name and
kind of every group (:mod:`projects.layers.head_outputs`); the number of
FPN levels follows from the number of tensors (all per-level groups of a
model have the same number of levels).
"""
from typing import List, Sequence

from torch import Tensor

from projects.layers.head_outputs import (KINDS, LEVELS, SINGLE, TRAIN_ONLY,
                                          HeadOutputs, head_outputs)

__all__ = ['KINDS', 'LEVELS', 'SINGLE', 'TRAIN_ONLY', 'HeadOutputs',
           'head_outputs', 'flatten', 'num_levels', 'unflatten',
           'output_names']


def flatten(outputs: Sequence, layout: HeadOutputs) -> List[Tensor]:
    """A head's nested outputs as a flat list of tensors.

    Args:
        outputs (Sequence): what the head returned, one item per group.
        layout (HeadOutputs): its layout.

    Returns:
        list[Tensor]: per-level groups expanded level by level, single
        tensors as they are, train-only groups left out.

    Raises:
        ValueError: the outputs do not follow the layout (a train-only
            output that is not None means the model is in training mode).
    """
    if len(outputs) != len(layout.groups):
        raise ValueError(f'{len(outputs)} output groups, layout has '
                         f'{[n for n, _ in layout.groups]}')
    flat: List[Tensor] = []
    for (name, kind), value in zip(layout.groups, outputs):
        if kind == TRAIN_ONLY:
            if value is not None:
                raise ValueError(f'output {name!r} is only computed in '
                                 'training; call model.eval() first')
        elif kind == LEVELS:
            flat.extend(value)
        else:
            flat.append(value)
    return flat


def num_levels(num_tensors: int, layouts: Sequence[HeadOutputs]) -> int:
    """FPN levels of the per-level groups, from the number of flat tensors.

    Args:
        num_tensors (int): length of the flat tuple.
        layouts (Sequence[HeadOutputs]): the layouts it was flattened with.

    Returns:
        int: levels per per-level group (0 when there is none).

    Raises:
        ValueError: the count does not fit the layouts.
    """
    kinds = [k for lay in layouts for _, k in lay.groups]
    per_level, single = kinds.count(LEVELS), kinds.count(SINGLE)
    rest = num_tensors - single
    if rest < 0 or (per_level and rest % per_level) or \
            (not per_level and rest):
        raise ValueError(
            f'{num_tensors} tensors do not fit {per_level} per-level and '
            f'{single} single outputs: is the ONNX file from another config?')
    return rest // per_level if per_level else 0


def unflatten(flat: Sequence[Tensor], layouts: Sequence[HeadOutputs]
              ) -> List[tuple]:
    """Inverse of :func:`flatten` for several heads' outputs in a row.

    Args:
        flat (Sequence[Tensor]): the flat tensors of all heads, in order.
        layouts (Sequence[HeadOutputs]): one layout per head.

    Returns:
        list[tuple]: per head, its outputs as the head returns them (lists
        for per-level groups, None for train-only groups).

    Raises:
        ValueError: the count does not fit the layouts.
    """
    levels = num_levels(len(flat), layouts)
    it = iter(flat)
    heads = []
    for layout in layouts:
        groups = []
        for _, kind in layout.groups:
            if kind == TRAIN_ONLY:
                groups.append(None)
            elif kind == LEVELS:
                groups.append([next(it) for _ in range(levels)])
            else:
                groups.append(next(it))
        heads.append(tuple(groups))
    return heads


def output_names(layouts: Sequence[HeadOutputs], levels: int,
                 prefixes: Sequence[str]) -> List[str]:
    """Names of the flat tensors, e.g. ``bbox_head.cls_scores.2`` (level 2)
    or ``mask_head.prototypes``.

    Args:
        layouts (Sequence[HeadOutputs]): one layout per head.
        levels (int): levels of the per-level groups.
        prefixes (Sequence[str]): one prefix per head.

    Returns:
        list[str]: in the order of :func:`flatten`.
    """
    names = []
    for prefix, layout in zip(prefixes, layouts):
        for name, kind in layout.groups:
            if kind == LEVELS:
                names += [f'{prefix}.{name}.{i}' for i in range(levels)]
            elif kind == SINGLE:
                names.append(f'{prefix}.{name}')
    return names
