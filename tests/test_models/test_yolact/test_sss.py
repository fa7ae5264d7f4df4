"""SSS (configs/sss_r50_*.py): SSD feature maps and anchors (the draft's
7,558 at 550x550), one head per level, cross-class Fast NMS, full-size masks.
"""
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config

import projects.yolact.yolact_head as yolact_head
from conftest import ROOT, model_inputs, real_dataset
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps
from mmdet.utils import register_all_modules

CONFIGS = osp.join(ROOT, 'configs')


def _stated_count(path):
    """The last 'N,NNN' that the config's comment gives as '= N,NNN'."""
    with open(path) as f:
        return int(re.findall(r'= (\d,\d{3})', f.read())[-1].replace(',', ''))


def _model(name):
    register_all_modules()
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    return cfg, MODELS.build(cfg.model).eval()


@pytest.mark.parametrize('name,size,comment', [
    ('yolact/sss_r50_ssd_1xb8-55e_coco-550.py', 550,
     '_base_/models/sss_deltas.py'),
    ('yolact/sss_r50_ssd_1xb2-200i_fruits-nuts-384.py', 384,
     '_base_/models/sss_r50_ssd_384.py'),
    ('yolact/sss_r50_ssd_1xb2-200i_coco-mini-384.py', 384,
     '_base_/models/sss_r50_ssd_384.py'),
])
def test_anchors_tile_the_feature_maps_and_count_as_stated(
        name, size, comment):
    _, model = _model(name)
    head = model.bbox_head
    with torch.no_grad():
        feats = model.extract_feat(torch.zeros(1, 3, size, size))
        cls_scores = head(feats)[0]
    sizes = [f.shape[-2:] for f in feats]
    gen = head.prior_generator
    for (h, w), (sw, sh) in zip(sizes, gen.strides):
        assert h * sh == pytest.approx(size) and w * sw == pytest.approx(size)
    priors = gen.grid_priors(sizes, device='cpu')
    assert sum(len(p) for p in priors) == _stated_count(
        osp.join(CONFIGS, comment))
    assert gen.num_base_priors == [4, 6, 6, 6, 6, 6]
    for score, p in zip(cls_scores, priors):  # one prediction per anchor
        assert score[0].numel() == len(p) * head.cls_out_channels
    if size == 550:
        assert [h for h, _ in sizes] == [35, 18, 9, 5, 3, 2]
        assert [len(p) for p in priors] == [4900, 1944, 486, 150, 54, 24]
        assert sum(len(p) for p in priors) == 7558


def test_predict_gives_masks_at_the_original_size_with_cross_class_nms(
        fruits_nuts, monkeypatch):
    cfg, model = _model('yolact/sss_r50_ssd_1xb2-200i_fruits-nuts-384.py')
    assert cfg.model.test_cfg.nms.type == 'cross_class_fast_nms'
    ds = real_dataset(cfg, 'val_dataloader')
    nms_types = []

    def spy(bboxes, scores, nms_cfg):
        nms_types.append(nms_cfg['type'])
        return multiclass_nms(bboxes, scores, nms_cfg)

    multiclass_nms = yolact_head.multiclass_nms
    monkeypatch.setattr(yolact_head, 'multiclass_nms', spy)
    data = model_inputs(model, [ds[0]], False)
    with torch.no_grad():
        result = model(**data, mode='predict')[0]
    assert nms_types == ['cross_class_fast_nms']
    pred = result.pred_instances
    h, w = result.ori_shape
    assert (h, w) == (600, 800) and result.img_shape == (384, 384)
    assert 0 < len(pred) <= cfg.model.test_cfg.max_per_img
    assert tuple(pred.masks.shape) == (len(pred), h, w)
    assert pred.masks.dtype == torch.bool
    # one NMS over all classes: no two kept boxes overlap by more than the
    # threshold, whatever their classes
    iou = bbox_overlaps(pred.bboxes, pred.bboxes).triu(diagonal=1)
    assert iou.max() <= 0.5 + 1e-6
