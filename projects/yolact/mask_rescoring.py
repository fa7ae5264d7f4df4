"""YOLACT++'s fast mask re-scoring branch (YOLACT++, TPAMI 2020, §4.1 "Fast
Mask Re-Scoring Network") and the mask IoU it learns to predict."""
from typing import Sequence

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdet.registry import MODELS


def binary_mask_iou(pred_masks: Tensor, gt_masks: Tensor,
                    thr: float = 0.5) -> Tensor:
    """IoU between each predicted mask, thresholded, and its binary GT mask.

    As dbolya/yolact's ``MultiBoxLoss._mask_iou`` on ``pred_masks.gt(0.5)``,
    except that an empty union gives 0 instead of NaN.

    Args:
        pred_masks (Tensor): shape (N, H, W), soft masks in [0, 1].
        gt_masks (Tensor): shape (N, H, W), binary (0/1) GT masks.
        thr (float): a pixel is foreground where ``pred_masks > thr``.

    Returns:
        Tensor: shape (N,), the mask IoU of each pair, in [0, 1].
    """
    pred = (pred_masks > thr).to(gt_masks.dtype)
    inter = (pred * gt_masks).sum(dim=(1, 2))
    union = pred.sum(dim=(1, 2)) + gt_masks.sum(dim=(1, 2)) - inter
    return inter / union.clamp(min=1)


@MODELS.register_module()
class FastMaskIoUNet(BaseModule):
    """Fast mask re-scoring branch: the mask IoU of a predicted mask with its
    (unknown) GT mask, for every class.

    YOLACT++ §4.1: a 6-layer FCN with a ReLU after every conv and a global
    max pool, fed with YOLACT's cropped mask prediction before thresholding.
    As dbolya/yolact's ``FastMaskIoUNet`` with ``yolact_plus_base_config``:
    ``maskiou_net = [(8, 3, {'stride': 2}), (16, 3, {'stride': 2}), (32, 3,
    {'stride': 2}), (64, 3, {'stride': 2}), (128, 3, {'stride': 2})]`` plus
    ``(num_classes, 1)``, built by ``make_net(..., include_last_relu=True)``:
    3x3 convs with stride 2 and *no padding*, then a 1x1 conv to
    ``num_classes``, each followed by a ReLU, so predictions are >= 0 (not
    capped at 1). Weights are Xavier-uniform with zero bias, as dbolya
    initialises every conv outside the backbone.

    Without padding the input must be at least ``min_size`` pixels a side
    (63 for the default five stride-2 convs); the prototypes are 1/4 of the
    network input, so inputs of 252 pixels or more are fine.

    Args:
        num_classes (int): number of object classes (no background).
        channels (Sequence[int]): output channels of the stride-2 convs.
        kernel_size (int): kernel size of the stride-2 convs.
        stride (int): their stride.
        init_cfg (dict or list[dict], optional): initialisation config.
    """

    def __init__(self,
                 num_classes: int,
                 channels: Sequence[int] = (8, 16, 32, 64, 128),
                 kernel_size: int = 3,
                 stride: int = 2,
                 init_cfg=dict(
                     type='Xavier', distribution='uniform', layer='Conv2d')
                 ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_classes = num_classes
        layers, in_channels, self.min_size = [], 1, 1
        for out_channels in channels:
            layers += [nn.Conv2d(in_channels, out_channels, kernel_size,
                                 stride=stride), nn.ReLU(inplace=True)]
            in_channels = out_channels
            self.min_size = (self.min_size - 1) * stride + kernel_size
        layers += [nn.Conv2d(in_channels, num_classes, 1),
                   nn.ReLU(inplace=True)]
        self.convs = nn.Sequential(*layers)

    def forward(self, masks: Tensor) -> Tensor:
        """Predict the mask IoU of each mask for each class.

        Args:
            masks (Tensor): shape (N, H, W), cropped soft masks in [0, 1] at
                prototype resolution; N may be 0.

        Returns:
            Tensor: shape (N, num_classes), the predicted mask IoUs (>= 0).

        Raises:
            ValueError: if H or W is below ``min_size``.
        """
        if min(masks.shape[-2:]) < self.min_size:
            raise ValueError(
                f'FastMaskIoUNet needs masks of at least {self.min_size}x'
                f'{self.min_size} pixels, got {tuple(masks.shape[-2:])}: use '
                f'a larger input or fewer stride-2 convs (channels).')
        x = self.convs(masks.unsqueeze(1))
        return x.amax(dim=(2, 3))  # global max pool
