"""ZooYOLACTProtonet's faster crop and protonet give mmdet's values: the
separable crop equals YOLACTProtonet.crop_single (values and gradients) on
YOLACT's real shapes, and the protonet without the ReLU after the
upsampling gives the same prototypes as mmdet's."""
import pytest
import torch
from mmengine.config import Config

from mmdet.models.dense_heads import YOLACTProtonet
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from conftest import ROOT

CFG = f'{ROOT}/configs/yolact/yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py'


@pytest.fixture(scope='module')
def heads():
    """(ours, mmdet's) protonets with the same random weights, at the
    config's channels (256 in, 32 prototypes)."""
    register_all_modules()
    cfg = Config.fromfile(CFG).model.mask_head
    cfg.pop('proto_norm')
    torch.manual_seed(0)
    ours = MODELS.build(cfg).eval()
    theirs = MODELS.build(dict(cfg, type='YOLACTProtonet')).eval()
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def _boxes(n, seed=0):
    """(n, 4) relative boxes as crop_mask_preds passes them: mostly inside,
    some past the border, tiny and reversed ones."""
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 1.1 - 0.05
    wh = torch.rand(n, 2, generator=g) * 0.6
    boxes = torch.cat([xy, xy + wh], 1)
    boxes[0] = torch.tensor([0., 0., 1., 1.])
    boxes[1] = torch.tensor([0.5, 0.5, 0.501, 0.5005])  # under a pixel
    boxes[2] = torch.tensor([0.7, 0.6, 0.2, 0.1])  # reversed corners
    return boxes


def test_crop_equals_mmdets(heads):
    ours, _ = heads
    masks = torch.rand(96, 96, 100, requires_grad=True)
    boxes = _boxes(100)
    a = ours.crop_single(masks, boxes)
    b = YOLACTProtonet.crop_single(ours, masks, boxes)
    assert torch.equal(a, b) and (a == 0).any() and (a != 0).any()
    grad = torch.rand_like(a)
    ga, = torch.autograd.grad(a, masks, grad)
    gb, = torch.autograd.grad(b, masks, grad)
    assert torch.equal(ga, gb)
    for padding in (0, 2):
        assert torch.equal(
            ours.crop_single(masks, boxes, padding),
            YOLACTProtonet.crop_single(ours, masks, boxes, padding))


def test_protonet_without_the_noop_relu_equals_mmdets(heads):
    ours, theirs = heads
    assert isinstance(ours.protonet[7], torch.nn.Identity)
    assert isinstance(theirs.protonet[7], torch.nn.ReLU)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    x = torch.randn(1, 256, 12, 12)
    with torch.no_grad():
        assert torch.equal(ours.protonet(x), theirs.protonet(x))
