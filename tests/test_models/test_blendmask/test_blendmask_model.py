"""BlendMask end to end on real fruits_nuts photos, and its configs."""
import glob
import os.path as osp

import mmcv
import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, model_inputs, real_dataset
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

CONFIG_DIR = osp.join(ROOT, 'configs', 'blendmask')
FRUITS = osp.join(CONFIG_DIR, 'blendmask_r50_fpn_1xb2-200i_fruits-nuts-384.py')
RT_FRUITS = osp.join(CONFIG_DIR,
                     'blendmask-rt_r50_fpn_1xb2-200i_fruits-nuts-384.py')
CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, '*.py')))


def _model(path):
    register_all_modules()
    cfg = Config.fromfile(path)
    cfg.model.backbone.init_cfg = None  # random weights, no checkpoint
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


@pytest.mark.slow
@pytest.mark.parametrize('path', [FRUITS, RT_FRUITS], ids=osp.basename)
def test_train_losses_on_real_photos(path, fruits_nuts):
    """Polygon GT masks of two real training photos: every loss finite and
    positive, the semantic target built from those polygons."""
    cfg, model = _model(path)
    model.train()
    ds = real_dataset(cfg, size=256)
    losses = model(**model_inputs(model, [ds[0], ds[1]], True), mode='loss')
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_centerness',
                           'loss_mask', 'loss_basis_sem'}
    for key, value in losses.items():
        assert torch.isfinite(value) and value.item() > 0, key
    # an untrained blend is near 0.5 everywhere: BCE near ln 2
    assert 0.3 < losses['loss_mask'].item() < 1.5


def _predict(score_thr, fruits_nuts):
    cfg, model = _model(FRUITS)
    model.eval()
    model.bbox_head.test_cfg.score_thr = score_thr
    model.bbox_head.test_cfg.max_per_img = 5
    ds = real_dataset(cfg, 'val_dataloader')
    sample = ds[0]
    with torch.no_grad():
        res = model(**model_inputs(model, [sample], False), mode='predict')
    img = mmcv.imread(sample['data_samples'].img_path)
    return res[0].pred_instances, img.shape[:2]


@pytest.mark.slow
def test_predict_masks_at_original_image_size(fruits_nuts):
    """A 800 x 600 photo resized to 384 x 384: masks come back at the size
    of the file on disk, inside their boxes."""
    pred, (h, w) = _predict(0.0, fruits_nuts)
    assert (h, w) == (600, 800)
    n = len(pred)
    assert n == 5
    assert pred.masks.shape == (n, h, w) and pred.masks.dtype == torch.bool
    assert pred.bboxes.shape == (n, 4)
    assert pred.bboxes[:, 2].max() <= w + 1e-3
    assert pred.bboxes[:, 3].max() <= h + 1e-3
    assert 'param_preds' not in pred
    for box, mask in zip(pred.bboxes, pred.masks):
        ys, xs = torch.nonzero(mask, as_tuple=True)
        if len(xs):
            assert xs.min() >= box[0].floor() - 1 and xs.max() <= box[2] + 1
            assert ys.min() >= box[1].floor() - 1 and ys.max() <= box[3] + 1


@pytest.mark.slow
def test_zero_detections_are_well_formed(fruits_nuts):
    pred, (h, w) = _predict(1.0, fruits_nuts)
    assert len(pred) == 0
    assert pred.bboxes.shape == (0, 4)
    assert pred.masks.shape == (0, h, w)
    assert pred.scores.shape == (0, ) and pred.labels.shape == (0, )


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_heads_agree(path):
    """Bases, attention size and classes agree between the two heads."""
    model = Config.fromfile(path).model
    box, mask = model.bbox_head, model.mask_head
    assert box.num_bases == mask.num_bases == 4
    assert box.attn_size == mask.attn_size == 14
    assert mask.pooler_resolution == 56 and mask.basis_stride == 4
    assert box.num_classes == mask.num_classes
    assert model.neck.num_outs == len(box.strides)


def test_rt_settings():
    """AdelaiDet Base-RT + RT_R_50_4x_syncbn_shtw."""
    cfg = Config.fromfile(
        osp.join(CONFIG_DIR, 'blendmask-rt_r50_fpn_8xb2-4x_coco-736x512.py'))
    head = cfg.model.bbox_head
    assert head.strides == [8, 16, 32] and cfg.model.neck.num_outs == 3
    assert head.regress_ranges[:2] == ((-1, 64), (64, 128))
    assert (head.stacked_convs, head.num_share_convs) == (0, 3)
    assert cfg.model.mask_head.num_convs == 2
    assert cfg.model.backbone.frozen_stages == -1
    test_resize = [t for t in cfg.test_dataloader.dataset.pipeline
                   if t.type == 'Resize'][0]
    assert test_resize.scale == (736, 512) and test_resize.keep_ratio
    train_resize = [t for t in cfg.train_dataloader.dataset.pipeline
                    if 'Resize' in t.type][0]
    assert [s[1] for s in train_resize.scales] == list(range(256, 609, 32))
    assert cfg.train_cfg.max_epochs == 48
    small = Config.fromfile(RT_FRUITS).model
    assert small.bbox_head.strides == [8, 16, 32]
    assert small.bbox_head.num_share_convs == 3
    assert small.bbox_head.num_classes == 3
    assert small.backbone.init_cfg.checkpoint.endswith('augnet_selfsup.pth')
