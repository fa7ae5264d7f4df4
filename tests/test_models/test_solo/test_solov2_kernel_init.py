"""SOLOv2's small-data recipe starts its dynamic kernels small
(configs/_base_/models/solov2_small_data.py, issue 12): with mmdet's init
the first mask logits of the positive cells are saturated, which is where
the protocol's seed 2 collapsed from (docs/results/solov2_kernel_init)."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, model_inputs, real_dataset
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

DATASETS = ('feral-cats', 'fruits-nuts', 'coco-mini')
CONFIG = 'configs/solo/solov2_r50_fpn_1xb2-200i_{}-384.py'


def _first_mask_logits(cfg: Config, samples) -> torch.Tensor:
    """The mask logits of the positive cells that the dice loss receives at
    the first training step of ``cfg``'s freshly initialised model (R50
    without its pretrained weights): Tensor of shape (num_pos, h, w)."""
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    seen = []
    handle = model.mask_head.loss_mask.register_forward_hook(
        lambda module, args, out: seen.append(args[0].detach()))
    with torch.no_grad():
        model(**model_inputs(model, samples, True), mode='loss')
    handle.remove()
    return torch.cat(seen)


@pytest.fixture(scope='module')
def feral_cats_batch():
    """Two real feral_cats training photos at 256 x 256."""
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, CONFIG.format('feral-cats')))
    ds = real_dataset(cfg, 'train_dataloader', 256)
    return [ds[0], ds[1]]


@pytest.mark.slow
def test_first_mask_logits_are_not_saturated(feral_cats_batch):
    """With the recipe, under 5% of the positives' first mask logits are
    beyond +-4 (sigmoid under 0.02 or over 0.98), so the dice loss starts
    where the sigmoid still passes gradient; with mmdet's init (std 0.01)
    a large share is, and the masks start out covering most of the image."""
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, CONFIG.format('feral-cats')))
    mmdet_init = copy.deepcopy(cfg)
    mmdet_init.model.mask_head.pop('init_cfg')  # SOLOV2Head's default
    ours = _first_mask_logits(cfg, feral_cats_batch)
    theirs = _first_mask_logits(mmdet_init, feral_cats_batch)
    assert len(ours) > 0 and ours.shape == theirs.shape

    def saturated(x):
        return float((x.abs() > 4).float().mean())

    assert saturated(ours) < 0.05, saturated(ours)
    assert saturated(theirs) > 0.2, saturated(theirs)


@pytest.mark.parametrize('dataset', DATASETS)
def test_kernel_init_reaches_conv_kernel(dataset):
    """The override names a real layer (or the recipe is silently a
    no-op): ``conv_kernel`` starts at std 0.001, the other convs of the
    kernel and category branches keep mmdet's init."""
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, CONFIG.format(dataset)))
    torch.manual_seed(0)
    head = MODELS.build(cfg.model.mask_head)
    head.init_weights()
    with torch.no_grad():
        assert float(head.conv_kernel.weight.std()) == pytest.approx(
            0.001, rel=0.05)
        assert float(head.conv_cls.weight.std()) == pytest.approx(
            0.01, rel=0.05)
