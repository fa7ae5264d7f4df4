"""SAIS-RT (configs/_base_/models/sais-rt_r50_fpn.py): SAIS on FPN P3-P5
with thinner towers and a lighter protonet.

Real fruits_nuts photos go through the config's own pipelines at 384x384
(flips off); the models are built with a seeded random init (no
pretrained weights), as the benchmark builds them.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.structures import InstanceData

from conftest import ROOT, load_script, model_inputs, real_dataset
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from projects.apis import build_model

SIZE = 384
RT = 'configs/sais/sais-rt_r50_fpn_1xb2-200i_fruits-nuts-384.py'
SAIS = 'configs/sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py'


def _cfg(path: str = RT) -> Config:
    register_all_modules()
    return Config.fromfile(osp.join(ROOT, path))


@pytest.fixture(scope='module')
def cfg(fruits_nuts):
    return _cfg()


@pytest.fixture(scope='module')
def model(cfg):
    return build_model(cfg, None, 'cpu')


@pytest.fixture(scope='module')
def train_samples(cfg):
    ds = real_dataset(cfg, 'train_dataloader', SIZE)
    return [ds[0], ds[1]]


def _levels_of_positives(head, box):
    """FPN level of every positive location of one GT ``box`` (x1, y1, x2,
    y2 in pixels) on the SIZE x SIZE input."""
    sizes = [(SIZE // s, SIZE // s) for s in head.strides]
    points = head.prior_generator.grid_priors(sizes, device='cpu')
    gt = InstanceData(bboxes=torch.tensor([box]),
                      labels=torch.tensor([0]))
    labels, _, pos_inds, _ = head.get_targets(points, [gt])
    assert all(len(lab) == h * w for lab, (h, w) in zip(labels, sizes))
    level_of = torch.cat([torch.full((h * w, ), lvl)
                          for lvl, (h, w) in enumerate(sizes)])
    assert sum(int((lab < head.num_classes).sum()) for lab in labels) == \
        len(pos_inds[0])
    return level_of[pos_inds[0]].unique().tolist()


@pytest.mark.parametrize('box,rt_levels,sais_levels', [
    ([100., 100., 140., 140.], [0], [0]),  # 40 px: P3 in both
    ([100., 100., 260., 260.], [1, 2], [1, 2]),  # 160 px: P4 and P5
    ([10., 10., 374., 374.], [2], [2, 3]),  # 364 px: SAIS's P5 and P6
    ([0., 0., 384., 384.], [2], [2, 3]),  # the whole input
])
def test_large_objects_go_to_p5(box, rt_levels, sais_levels):
    """P3-P5 with FCOS-RT's ranges (64, 128): a location whose largest
    box distance exceeds 128 px goes to P5, also those that SAIS (P3-P7)
    sends to P6 (over 256 px); none is dropped. Up to 128 px both agree."""
    heads = [MODELS.build(_cfg(path).model.bbox_head) for path in (RT, SAIS)]
    assert [h.strides for h in heads] == [[8, 16, 32], [8, 16, 32, 64, 128]]
    assert _levels_of_positives(heads[0], box) == rt_levels
    assert _levels_of_positives(heads[1], box) == sais_levels


def test_three_fpn_levels_on_a_real_image(cfg, model):
    """The neck gives P3-P5 of a 384x384 photo (48, 24, 12), the box head
    predicts on these three and the protonet reads P3 (prototypes at 1/4
    of the input)."""
    sample = real_dataset(cfg, 'test_dataloader', SIZE)[0]
    data = model_inputs(model, [sample], False)
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
        cls, box, ctr, coeff = model.bbox_head(feats)
        protos, = model.mask_head(feats)
    assert [tuple(f.shape) for f in feats] == \
        [(1, 256, n, n) for n in (48, 24, 12)]
    assert [c.shape[-1] for c in cls] == [48, 24, 12]
    assert [c.shape[1] for c in coeff] == [32] * 3
    assert model.bbox_head.prior_generator.num_levels == 3
    assert tuple(protos.shape) == (1, 32, 96, 96)


@pytest.mark.slow
def test_losses_are_finite_on_a_real_batch(model, train_samples):
    """Two real photos: every loss is finite and positive, every GT
    instance (the large ones too) owns positive locations, and the mask
    loss reaches the coefficient conv and the protonet."""
    model.train()
    model.zero_grad()
    data = model_inputs(model, train_samples, True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_centerness',
                           'loss_mask'}
    for name, value in losses.items():
        assert torch.isfinite(value) and value.item() > 0, name
    infos = model.bbox_head.get_positive_infos()
    for info, sample in zip(infos, data['data_samples']):
        assert set(info.pos_assigned_gt_inds.tolist()) == set(
            range(len(sample.gt_instances)))
    losses['loss_mask'].backward()
    assert model.bbox_head.conv_coeff.weight.grad.abs().sum() > 0
    assert model.mask_head.protonet.conv_protos.weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_predicts_masks_at_the_original_size(cfg, model):
    """A real 800x600 photo at 384x384: masks come back at 600x800, boxes
    inside it. Score threshold 0, since an untrained model's scores are
    the focal prior's (about 0.01)."""
    sample = real_dataset(cfg, 'test_dataloader', SIZE)[0]
    assert sample['data_samples'].ori_shape == (600, 800)
    model.eval()
    test_cfg = model.bbox_head.test_cfg
    model.bbox_head.test_cfg = ConfigDict(test_cfg, score_thr=0.)
    try:
        with torch.no_grad():
            res = model(**model_inputs(model, [sample], False),
                        mode='predict')
    finally:
        model.bbox_head.test_cfg = test_cfg
    pred = res[0].pred_instances
    n = len(pred)
    assert 0 < n <= cfg.model.test_cfg.max_per_img
    assert pred.masks.shape == (n, 600, 800) and pred.masks.dtype == \
        torch.bool
    assert pred.bboxes[:, 0::2].max() <= 800
    assert pred.bboxes[:, 1::2].max() <= 600
    assert 'coeffs' not in pred


@pytest.mark.slow
def test_head_flops_under_half_of_backbone_and_neck(fruits_nuts):
    """At 384 the head forward (box head and protonet) costs under 0.5x,
    and within the 0.3x design margin of, the backbone+neck FLOPs; SAIS's
    head costs more than its backbone+neck (the check tells them apart)."""
    flops = load_script('tools/analysis/sais_rt_flops.py')
    rt = flops.model_flops(RT, size=SIZE)
    sais = flops.model_flops(SAIS, size=SIZE)
    ratio = rt['head_forward'] / rt['backbone_neck']
    assert ratio < 0.5
    assert ratio <= 0.3, 'margin for post-processing (sais_rt_flops.py)'
    assert sais['head_forward'] > sais['backbone_neck']
    # the same ResNet-50 (FPN without P6/P7 convs): only the head shrank
    assert 0.99 < rt['backbone_neck'] / sais['backbone_neck'] <= 1
    assert rt['predict'] >= rt['backbone_neck'] + rt['head_forward']
