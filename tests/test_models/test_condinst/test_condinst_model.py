"""The whole CondInst / CondInst-RT model (ResNet-50 + FPN + the zoo's
heads, untrained) on real fruits_nuts images: losses, predictions at the
original image size and the build-time parameter-count check."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, model_inputs, real_dataset
from mmdet.registry import MODELS
from mmdet.structures.mask import BitmapMasks
from mmdet.utils import register_all_modules

SIZE = 256
CONFIGS = {
    'condinst': 'condinst_r50_fpn_1xb2-200i_fruits-nuts-384.py',
    'condinst-rt': 'condinst-rt_r50_fpn_1xb2-200i_fruits-nuts-384.py',
}


def _cfg(key):
    return Config.fromfile(osp.join(ROOT, 'configs', 'condinst',
                                    CONFIGS[key]))


def _model(key='condinst', **test_cfg):
    register_all_modules()
    cfg = _cfg(key)
    cfg.model.backbone.init_cfg = None  # no checkpoint needed
    cfg.model.test_cfg.update(test_cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, cfg


def _losses(model, cfg, empty=False):
    ds = real_dataset(cfg, 'train_dataloader', SIZE)
    samples = [ds[0], ds[1]]
    if empty:
        gt = samples[0]['data_samples'].gt_instances
        samples[0]['data_samples'].gt_instances = gt[gt.labels < 0]
        assert len(samples[0]['data_samples'].gt_instances) == 0
    model.train()
    data = model_inputs(model, samples, True)
    return model.loss(data['inputs'], data['data_samples'])


@pytest.mark.slow
@pytest.mark.parametrize('key', ['condinst', 'condinst-rt'])
def test_loss_with_gt_is_finite_and_trains_the_controller(key):
    model, cfg = _model(key)
    losses = _losses(model, cfg)
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_centerness',
                           'loss_mask'}
    for name, value in losses.items():
        assert torch.isfinite(value) and value.item() > 0, name
    # Dice loss of an untrained mask head: far from 0, at most 1 per mask
    assert 0.3 < losses['loss_mask'].item() <= 1.0
    losses['loss_mask'].backward()
    grad = model.bbox_head.controller.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert model.mask_head.mask_feature_head.conv_pred.weight.grad \
        .abs().sum() > 0


@pytest.mark.slow
def test_loss_without_gt_is_well_formed():
    """One image of the batch without instances: only classification is
    penalised there; a batch with no instance at all gives zero box and
    mask losses and still back-propagates."""
    model, cfg = _model()
    ds = real_dataset(cfg, 'train_dataloader', SIZE)
    samples = [ds[0]]
    gt = samples[0]['data_samples'].gt_instances
    samples[0]['data_samples'].gt_instances = gt[gt.labels < 0]
    model.train()
    data = model_inputs(model, samples, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses['loss_cls'].item() > 0
    assert losses['loss_bbox'].item() == 0
    assert losses['loss_centerness'].item() == 0
    assert losses['loss_mask'].item() == 0
    sum(losses.values()).backward()
    mixed = _losses(*_model(), empty=True)
    assert all(torch.isfinite(v) for v in mixed.values())
    assert mixed['loss_mask'].item() > 0  # the other image's instances


def _predict(model, cfg):
    ds = real_dataset(cfg, 'val_dataloader', SIZE)
    sample = ds[0]
    model.eval()
    data = model_inputs(model, [sample], False)
    with torch.no_grad():
        res = model.predict(data['inputs'], data['data_samples'],
                            rescale=True)[0]
    return res.pred_instances, res.ori_shape


@pytest.mark.slow
@pytest.mark.parametrize('key', ['condinst', 'condinst-rt'])
def test_predict_masks_at_original_image_size(key):
    model, cfg = _model(key, score_thr=0.0, max_per_img=5)
    pred, (h, w) = _predict(model, cfg)
    assert (h, w) == (600, 800)  # fruits_nuts photos, input was 256x256
    n = len(pred)
    assert n == 5
    assert pred.masks.shape == (n, h, w) and pred.masks.dtype == torch.bool
    assert pred.bboxes.shape == (n, 4) and pred.scores.shape == (n, )
    assert pred.bboxes[:, 0::2].max() <= w + 1
    assert pred.bboxes[:, 1::2].max() <= h + 1
    assert 'param_preds' in pred and pred.param_preds.shape == \
        (n, model.mask_head.num_params)


@pytest.mark.slow
def test_zero_detections_give_an_empty_well_formed_result():
    model, cfg = _model(score_thr=1.0)
    pred, (h, w) = _predict(model, cfg)
    assert len(pred) == 0
    assert pred.bboxes.shape == (0, 4)
    assert pred.scores.shape == (0, ) and pred.labels.shape == (0, )
    assert pred.masks.shape == (0, h, w) == (0, 600, 800)


def test_rt_delta_is_p3_to_p5_with_a_shared_tower():
    cfg = _cfg('condinst-rt').model
    assert cfg.neck.num_outs == 3 and cfg.bbox_head.strides == [8, 16, 32]
    assert len(cfg.bbox_head.regress_ranges) == 3
    assert cfg.bbox_head.stacked_convs == 0
    assert cfg.bbox_head.num_share_convs == 3
    assert _cfg('condinst').model.bbox_head.stacked_convs == 4


def test_mismatched_param_counts_are_refused_at_build():
    register_all_modules()
    cfg = _cfg('condinst')
    cfg.model.backbone.init_cfg = None
    cfg.model.mask_head.rel_coords = False  # needs 153, box head says 169
    with pytest.raises(ValueError,
                       match=r'bbox_head.num_params=169.*num_params=153'):
        MODELS.build(cfg.model)
    cfg.model.bbox_head.num_params = 153
    assert MODELS.build(cfg.model).mask_head.num_params == 153


def test_gt_masks_are_real_bitmaps():
    """The fixture images carry polygon masks that the pipeline rasterises
    at the input size (guards the other tests' inputs)."""
    ds = real_dataset(_cfg('condinst'), 'train_dataloader', SIZE)
    gt = ds[0]['data_samples'].gt_instances
    assert len(gt) > 0
    masks = gt.masks if isinstance(gt.masks, BitmapMasks) else \
        gt.masks.to_bitmap()
    assert masks.masks.shape[1:] == (SIZE, SIZE)
    assert np.all(masks.masks.reshape(len(gt), -1).sum(1) > 0)
