"""Blender (hand-computed blend, RoIAlign placement) and semantic targets."""
import math

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from mmdet.structures.mask import BitmapMasks
from projects.blendmask import (BasisModule, Blender, centerness_targets,
                                semantic_targets)


def test_merge_two_bases_by_hand():
    """K = 2 bases, A = R = 2 (no resizing of the attention): per cell the
    softmax over the two attention logits weighs the two bases."""
    blender = Blender(num_bases=2, attn_size=2, pooler_resolution=2)
    crops = torch.tensor([[[[1., 2.], [3., 4.]],
                           [[4., 0.], [0., 8.]]]])  # (1, K=2, 2, 2)
    ln3 = math.log(3.)
    a0 = [[0., ln3], [0., 0.]]
    a1 = [[0., 0.], [ln3, 100.]]
    attns = torch.tensor([a0, a1]).reshape(1, 8)  # K-major
    # cell (0,0): 1/2 * 1 + 1/2 * 4; (0,1): 3/4 * 2 + 1/4 * 0;
    # (1,0): 1/4 * 3 + 3/4 * 0; (1,1): e^-100 * 4 + 1 * 8
    expected = torch.tensor([[[2.5, 1.5], [0.75, 8.0]]])
    out = blender.merge(crops, attns)
    assert out.shape == (1, 2, 2)
    assert torch.allclose(out, expected, atol=1e-6)


def test_merge_upsamples_a_constant_attention():
    """A = 1 upsampled to R = 3 stays constant: softmax(0, ln 3) = (1/4,
    3/4) everywhere."""
    blender = Blender(num_bases=2, attn_size=1, pooler_resolution=3)
    crops = torch.stack([torch.full((3, 3), 4.), torch.full((3, 3), 8.)])
    out = blender.merge(crops[None], torch.tensor([[0., math.log(3.)]]))
    assert torch.allclose(out, torch.full((1, 3, 3), 1. + 6.))


def test_merge_rejects_wrong_attention_length():
    blender = Blender(num_bases=4, attn_size=14, pooler_resolution=56)
    with pytest.raises(ValueError, match='num_bases \\* attn_size'):
        blender.merge(torch.zeros(2, 4, 56, 56), torch.zeros(2, 4 * 8 * 8))


def _bright_rect_bases():
    """Bases at stride 4 of a 128 x 128 input: one basis, 1 on basis rows
    8-11 and columns 8-15 (input pixels y 32-47, x 32-63), 0 elsewhere."""
    bases = torch.zeros(1, 1, 32, 32)
    bases[0, 0, 8:12, 8:16] = 1
    return bases


def test_roi_align_puts_the_rectangle_in_place():
    """Box (24, 24, 88, 88): 64 input px over 56 bins. With aligned=True a
    bin j samples basis coordinate (24 + (j + .5) * 64 / 56) / 4 - .5, which
    lies fully inside the bright columns 8-15 for j in 9..32, inside rows
    8-11 for j in 9..18, and outside rows/columns 7-16 (all dark) for
    j <= 4 and for j >= 37 (columns), j >= 23 (rows)."""
    blender = Blender(num_bases=1, attn_size=1, pooler_resolution=56,
                      basis_stride=4)
    crop = blender.crop(_bright_rect_bases(),
                        [torch.tensor([[24., 24., 88., 88.]])])
    assert crop.shape == (1, 1, 56, 56)
    crop = crop[0, 0]
    assert torch.allclose(crop[9:19, 9:33], torch.ones(10, 24))
    assert crop[:5].abs().max() == 0 and crop[23:].abs().max() == 0
    assert crop[:, :5].abs().max() == 0 and crop[:, 37:].abs().max() == 0


def test_roi_align_boxes_index_their_own_image():
    """The second image's box crops the second image's bases. The box is
    the bright region; its 2 px-high first and last bins sample basis rows
    7.75 and 11.25 (aligned=True), 3/4 inside the region."""
    blender = Blender(num_bases=1, attn_size=1, pooler_resolution=8)
    bases = torch.cat([torch.zeros(1, 1, 32, 32), _bright_rect_bases()])
    box = torch.tensor([[32., 32., 64., 48.]])  # exactly the bright region
    crops = blender.crop(bases, [box, box])
    assert crops[0].abs().max() == 0
    expected = torch.ones(1, 8, 8)
    expected[0, [0, -1]] = 0.75
    assert torch.allclose(crops[1], expected)


def test_mask_target_is_cropped_in_the_same_frame():
    """The GT mask cropped by mmdet's crop_and_resize and the bases cropped
    by the blender put the same object in the same cells."""
    blender = Blender(num_bases=1, attn_size=1, pooler_resolution=56)
    mask = np.zeros((1, 128, 128), np.uint8)
    mask[0, 32:48, 32:64] = 1
    box = np.array([[24., 24., 88., 88.]], np.float32)
    target = BitmapMasks(mask, 128, 128).crop_and_resize(
        box, (56, 56), np.array([0]), device='cpu').to_tensor(
            torch.float32, 'cpu')[0]
    crop = blender.crop(_bright_rect_bases(), [torch.from_numpy(box)])[0, 0]
    inter = ((crop > 0.5) & (target > 0.5)).sum()
    union = ((crop > 0.5) | (target > 0.5)).sum()
    assert union > 200 and inter / union > 0.9


def test_semantic_target_is_the_union_per_class():
    """32 x 32 masks to 4 x 4 cells (stride 8); 0 is background."""
    masks = np.zeros((4, 32, 32), np.uint8)
    masks[0, 0:16, 0:16] = 1  # class 0: cells (0-1, 0-1)
    masks[1, 8:16, 8:16] = 1  # class 2, small, on top: cell (1, 1)
    masks[2, 16:32, 16:20] = 1  # class 0: half of cells (2-3, 2)
    masks[3, 0:2, 24:25] = 1  # class 1: 2 of 64 px of cell (0, 3)
    gt = InstanceData(labels=torch.tensor([0, 2, 0, 1]),
                      masks=BitmapMasks(masks, 32, 32))
    expected = torch.tensor([[1, 1, 0, 0],
                             [1, 3, 0, 0],
                             [0, 0, 1, 0],
                             [0, 0, 1, 0]])
    assert torch.equal(semantic_targets(gt, (4, 4), 'cpu'), expected)


def test_semantic_target_without_gt_is_background():
    gt = InstanceData(labels=torch.zeros(0, dtype=torch.long),
                      masks=BitmapMasks(np.zeros((0, 32, 32), np.uint8), 32,
                                        32))
    target = semantic_targets(gt, (4, 4), 'cpu')
    assert target.dtype == torch.long and target.shape == (4, 4)
    assert target.abs().max() == 0


def test_centerness_hand_values():
    points = torch.tensor([[50., 50.], [50., 40.], [10., 50.]])
    boxes = torch.tensor([[0., 0., 100., 100.]]).expand(3, 4)
    # l/r = 1, t/b = 1; t/b = 40/60; l/r = 10/90
    expected = torch.tensor([1., math.sqrt(40 / 60), math.sqrt(10 / 90)])
    assert torch.allclose(centerness_targets(points, boxes), expected)


@pytest.mark.parametrize('basis_stride,size', [(4, 32), (8, 16)])
def test_basis_module_resolution(basis_stride, size):
    """Bases at stride 4 (x2 upsampling) or 8 from P3-P5 of a 128 px
    input; semantic logits at P3 only while training."""
    module = BasisModule(in_channels=8, feat_channels=8, num_bases=3,
                         num_convs=1, basis_stride=basis_stride,
                         num_classes=2)
    feats = [torch.rand(2, 8, 128 // s, 128 // s) for s in (8, 16, 32)]
    bases, sem = module(feats)
    assert bases.shape == (2, 3, size, size)
    assert sem.shape == (2, 3, 16, 16)
    module.eval()
    assert module(feats)[1] is None


def test_basis_module_rejects_a_bad_stride():
    with pytest.raises(ValueError, match='basis_stride=2'):
        BasisModule(basis_stride=2)
