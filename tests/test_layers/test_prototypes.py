"""paste_masks: box-window upsampling gives whole-image upsampling's masks."""
import pytest
import torch
import torch.nn.functional as F

from projects.layers.prototypes import crop_masks, paste_masks


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


def _paste_before_rewrite(masks, out_h, out_w, thr):
    """paste_masks as it was before the separable rewrite (commit
    600cae7): both source rows of every output row interpolated along x."""
    from projects.layers.prototypes import _bilinear_taps
    n, h, w = masks.shape
    out = torch.zeros((n, out_h, out_w), dtype=torch.bool)
    y0, y1, wy0, wy1 = _bilinear_taps(h, out_h, masks.device)
    x0, x1, wx0, wx1 = _bilinear_taps(w, out_w, masks.device)
    nonzero = masks != 0
    rows, cols = nonzero.any(2), nonzero.any(1)
    for i in range(n):
        r, c = rows[i].nonzero()[:, 0], cols[i].nonzero()[:, 0]
        if len(r) == 0 or len(c) == 0:
            continue
        ya = int(torch.searchsorted(y1, int(r[0])))
        yb = int(torch.searchsorted(y0, int(r[-1]), right=True))
        xa = int(torch.searchsorted(x1, int(c[0])))
        xb = int(torch.searchsorted(x0, int(c[-1]), right=True))
        top, bottom = masks[i][y0[ya:yb]], masks[i][y1[ya:yb]]
        cx0, cx1, cwx0, cwx1 = x0[xa:xb], x1[xa:xb], wx0[xa:xb], wx1[xa:xb]
        top = top[:, cx0] * cwx0 + top[:, cx1] * cwx1
        bottom = bottom[:, cx0] * cwx0 + bottom[:, cx1] * cwx1
        out[i, ya:yb, xa:xb] = (top * wy0[ya:yb, None] +
                                bottom * wy1[ya:yb, None]) > thr
    return out


@pytest.mark.parametrize('out_hw', [(600, 800), (640, 640), (50, 97)])
def test_identical_to_the_formula_before_the_rewrite(out_hw):
    """YOLACT's real shapes: 100 cropped 96x96 masks (prototypes of a 384
    input) pasted at fruits_nuts' 600x800, feral_cats' 640x640 and a
    downscale; every pixel as before (same products and sums)."""
    masks = _cropped(n=100)
    masks[5] = 0  # an empty mask
    assert torch.equal(paste_masks(masks, *out_hw, thr=0.5),
                       _paste_before_rewrite(masks, *out_hw, 0.5))
