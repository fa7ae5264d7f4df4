"""paste_masks: box-window upsampling gives whole-image upsampling's masks."""
import pytest
import torch
import torch.nn.functional as F

from projects.core.prototypes import crop_masks, paste_masks


def _cropped(n=40, size=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    masks = torch.rand(n, size, size, generator=g)
    xy = torch.rand(n, 2, generator=g) * 300
    wh = 1 + torch.rand(n, 2, generator=g) * 150
    boxes = torch.cat([xy, xy + wh], 1)
    boxes[0] = torch.tensor([0., 0., 384., 384.])  # whole image
    boxes[1] = torch.tensor([380., 380., 384., 384.])  # corner, < 1 px
    return crop_masks(masks, boxes, scale=size / 384)


@pytest.mark.parametrize('out_hw', [(600, 800), (384, 384), (427, 640),
                                    (50, 97)])
def test_same_masks_as_whole_image_upsampling(out_hw):
    masks = _cropped()
    ref = F.interpolate(masks[None], out_hw, mode='bilinear',
                        align_corners=False)[0] > 0.5
    out = paste_masks(masks, *out_hw, thr=0.5)
    assert out.dtype == torch.bool and out.shape == ref.shape
    assert ref.sum() > 0.01 * ref.numel()
    # float rounding may flip a pixel within ~1e-7 of the threshold only
    assert (out != ref).sum() <= 1e-6 * ref.numel()


def test_empty_and_all_zero_masks():
    assert paste_masks(torch.zeros(0, 8, 8), 30, 40, 0.5).shape == (0, 30, 40)
    out = paste_masks(torch.zeros(2, 8, 8), 30, 40, 0.5)
    assert out.shape == (2, 30, 40) and not out.any()


def test_negative_threshold_is_refused():
    with pytest.raises(ValueError, match='thr >= 0'):
        paste_masks(torch.rand(1, 8, 8), 16, 16, -1.0)
