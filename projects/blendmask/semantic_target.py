"""Semantic targets of BlendMask's auxiliary loss, from instance masks."""
from typing import Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor


def semantic_targets(gt_instances: InstanceData, out_shape: Tuple[int, int],
                     device: torch.device) -> Tensor:
    """Per-cell class labels of one image, built from its instance masks.

    AdelaiDet's auxiliary basis loss (``BASIS_MODULE.LOSS_ON``,
    ``adet/modeling/blendmask/basis_module.py``) reads precomputed
    ``basis_sem`` maps from extra files (``prepare_thing_sem_from_instance``,
    a recurring question in AdelaiDet issues 46, 59 and 120). Here the map is
    the union of each class's GT instance masks, computed on the fly: every
    mask is area-downsampled to ``out_shape`` and a cell belongs to the
    instance when at least half of its pixels do. Instances are painted
    largest first, so a small object that overlaps a large one of another
    class keeps its label.

    Args:
        gt_instances (InstanceData): ``labels`` (G,) in [0, num_classes) and
            ``masks`` (BitmapMasks or PolygonMasks of G masks, H x W, padded
            to the batch input shape).
        out_shape (tuple[int, int]): (h, w) of the semantic logits.
        device (torch.device): Device of the returned tensor.

    Returns:
        Tensor: shape (h, w), int64; 0 is background and ``c + 1`` the
        thing class ``c``.
    """
    target = torch.zeros(out_shape, dtype=torch.long, device=device)
    if len(gt_instances) == 0:
        return target
    masks = gt_instances.masks.to_tensor(dtype=torch.float32, device=device)
    cover = F.interpolate(masks[None], out_shape, mode='area')[0] >= 0.5
    order = masks.sum((1, 2)).argsort(descending=True)
    for i in order.tolist():
        target[cover[i]] = int(gt_instances.labels[i]) + 1
    return target
