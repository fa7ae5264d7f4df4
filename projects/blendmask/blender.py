"""BlendMask blender: crop the bases per instance and blend by attention."""
from typing import List

import torch.nn.functional as F
from mmcv.ops import RoIAlign
from torch import Tensor, nn

from mmdet.structures.bbox import bbox2roi


class Blender(nn.Module):
    """Blender of BlendMask (slides "BlendMask", Figure 1 "Blending
    process" and Figure 2; AdelaiDet ``adet/modeling/blendmask/blender.py``).

    For each instance, the bases (B, K, H_b, W_b) are cropped by its box with
    mmcv's RoIAlign (``aligned=True``, spatial scale 1 / ``basis_stride``,
    AdelaiDet's ``ROIAlignV2``) to R x R (``pooler_resolution``, 56); its
    K x A x A attention (A = ``attn_size``, 14) is upsampled bilinearly to
    R x R, softmaxed over the K bases, multiplied with the crops and summed
    over K: mask logits (N, R, R), a sigmoid away from probabilities.

    The module has no parameters; differs from AdelaiDet's in taking boxes
    (and their image index) instead of detectron2 ``Instances``.

    Args:
        num_bases (int): Number of bases K. Defaults to 4.
        attn_size (int): Side A of each instance's attention maps.
            Defaults to 14.
        pooler_resolution (int): Side R of the cropped bases and of the mask
            logits (AdelaiDet ``BOTTOM_RESOLUTION``). Defaults to 56.
        basis_stride (int): Stride of the bases in input pixels.
            Defaults to 4.
        sampling_ratio (int): RoIAlign samples per bin side
            (AdelaiDet ``POOLER_SAMPLING_RATIO``). Defaults to 1.

    Raises:
        ValueError: if any size is below 1.
    """

    def __init__(self,
                 num_bases: int = 4,
                 attn_size: int = 14,
                 pooler_resolution: int = 56,
                 basis_stride: int = 4,
                 sampling_ratio: int = 1) -> None:
        super().__init__()
        for key, value in dict(num_bases=num_bases, attn_size=attn_size,
                               pooler_resolution=pooler_resolution,
                               basis_stride=basis_stride).items():
            if value < 1:
                raise ValueError(f'{key}={value} must be >= 1')
        self.num_bases = num_bases
        self.attn_size = attn_size
        self.pooler_resolution = pooler_resolution
        self.roi_align = RoIAlign(
            pooler_resolution, spatial_scale=1. / basis_stride,
            sampling_ratio=sampling_ratio, aligned=True)

    @property
    def attn_len(self) -> int:
        """int: K * A * A, the attention values per instance."""
        return self.num_bases * self.attn_size**2

    def crop(self, bases: Tensor, boxes: List[Tensor]) -> Tensor:
        """RoIAlign crops of the bases.

        Args:
            bases (Tensor): shape (B, K, H_b, W_b).
            boxes (list[Tensor]): per image, shape (n_i, 4), (x1, y1, x2, y2)
                in input pixels.

        Returns:
            Tensor: shape (sum n_i, K, R, R), the images' crops in order.
        """
        return self.roi_align(bases, bbox2roi(boxes))

    def merge(self, crops: Tensor, attns: Tensor) -> Tensor:
        """Blend cropped bases with attentions (slides Figure 1).

        Args:
            crops (Tensor): shape (N, K, R, R).
            attns (Tensor): shape (N, K * A * A), attention logits, K-major.

        Returns:
            Tensor: mask logits, shape (N, R, R).

        Raises:
            ValueError: if ``attns`` is not (N, K * A * A).
        """
        n = crops.size(0)
        if attns.shape != (n, self.attn_len):
            raise ValueError(
                f'attns has shape {tuple(attns.shape)}, expected '
                f'({n}, {self.attn_len}) = (N, num_bases * attn_size**2)')
        attns = attns.view(n, self.num_bases, self.attn_size, self.attn_size)
        attns = F.interpolate(
            attns, crops.shape[-2:], mode='bilinear',
            align_corners=False).softmax(dim=1)
        return (crops * attns).sum(dim=1)

    def forward(self, bases: Tensor, boxes: List[Tensor],
                attns: Tensor) -> Tensor:
        """Mask logits of every instance.

        Args:
            bases (Tensor): shape (B, K, H_b, W_b).
            boxes (list[Tensor]): per image, shape (n_i, 4), input pixels.
            attns (Tensor): shape (sum n_i, K * A * A), images in order.

        Returns:
            Tensor: shape (sum n_i, R, R), logits inside each box.
        """
        return self.merge(self.crop(bases, boxes), attns)
