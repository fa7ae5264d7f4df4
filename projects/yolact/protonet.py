"""YOLACT protonet with 0-based semantic segmentation targets."""
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import YOLACTProtonet
from mmdet.registry import MODELS


@MODELS.register_module()
class ZooYOLACTProtonet(YOLACTProtonet):
    """mmdet's :class:`~mmdet.models.dense_heads.YOLACTProtonet`, with the
    semantic segmentation auxiliary loss (YOLACT §3.2 / SSS's auxiliary
    semantic head) aimed at the right channels.

    What differs: MMDetection 3.3 builds the semantic target of instance
    ``i`` in channel ``gt_labels[i] - 1``, a leftover of 1-based labels, while
    mmdet 3.x labels are 0-based: class ``c``'s target lands in channel
    ``c - 1`` and class 0's in the last channel (MMDetection issue 5023). The
    parent's ``_get_targets_single`` uses the labels only there, so this
    subclass hands it labels shifted by one and reuses the rest unchanged.
    Everything else (protonet, mask loss, prediction) is mmdet's.
    """

    def _get_targets_single(self, mask_preds: Tensor, segm_pred: Tensor,
                            gt_instances: InstanceData,
                            positive_info: InstanceData) -> tuple:
        """Targets of one image; see the parent. ``segm_targets`` (C, h, w)
        holds class ``c``'s downsampled GT masks in channel ``c``.
        """
        shifted = gt_instances.clone()
        shifted.labels = gt_instances.labels + 1  # parent subtracts 1
        return super()._get_targets_single(mask_preds, segm_pred, shifted,
                                           positive_info)
