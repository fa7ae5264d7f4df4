"""SOLOv2 head with bounded post-processing."""
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads import SOLOV2Head
from mmdet.registry import MODELS
from projects.layers.graph_ops import register_graph_postprocess
from .graph_postprocess import solov2_graph_postprocess
from .grid_postprocess import cell_strides, grid_predict
from .solo_heads import GridCheckMixin


@register_graph_postprocess(solov2_graph_postprocess, boxes_from_masks=True)
@MODELS.register_module()
class ZooSOLOV2Head(GridCheckMixin, SOLOV2Head):
    """SOLOv2 head (Wang et al., "SOLOv2: Dynamic and Fast Instance
    Segmentation", NeurIPS 2020): each grid cell predicts a 1x1 kernel that
    is convolved with a unified mask feature map (§3.2), followed by Matrix
    NMS (§3.3).

    Differs from mmdet's ``SOLOV2Head`` in post-processing only: mmdet runs
    the dynamic convolution for every (cell, class) pair above
    ``score_thr``, giving one full mask per pair before ``nms_pre`` applies.
    Here each distinct cell's mask is built once, in chunks, for its area
    and maskness, and masks are kept only for the top ``nms_pre``
    candidates (:func:`~projects.solo.grid_postprocess.grid_predict`).
    Boxes are the tight boxes of the masks (mmdet's are zeros).
    """

    def _predict_by_feat_single(self,
                                kernel_preds: Tensor,
                                cls_scores: Tensor,
                                mask_feats: Tensor,
                                img_meta: dict,
                                cfg: ConfigDict = None) -> InstanceData:
        """Masks, labels and scores of one image.

        Args:
            kernel_preds (Tensor): Dynamic kernels of every cell, shape
                (num_cells, kernel_out_channels).
            cls_scores (Tensor): shape (num_cells, num_classes), after
                sigmoid and point NMS.
            mask_feats (Tensor): Unified mask features, shape (1, E, h, w),
                1/``mask_stride`` of the padded input.
            img_meta (dict): Meta information of the image.
            cfg (ConfigDict, optional): Test config; the head's by default.

        Returns:
            InstanceData: See :func:`grid_predict`.
        """
        cfg = self.test_cfg if cfg is None else cfg
        k = self.dynamic_conv_size

        def cell_masks(cells: Tensor) -> Tensor:
            kernels = kernel_preds.index_select(0, cells)
            kernels = kernels.view(len(cells), -1, k, k)
            return F.conv2d(mask_feats, kernels, stride=1)[0].sigmoid()

        h, w = mask_feats.shape[-2:]
        return grid_predict(
            cls_scores, cell_masks,
            cell_strides(self.num_grids, self.strides, cls_scores.device),
            (h * self.mask_stride, w * self.mask_stride), img_meta, cfg)
