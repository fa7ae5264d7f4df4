"""The FCOS and Mask R-CNN baselines stand in the zoo's tables: the same
ResNet-50, init, data pipelines and schedules as SAIS; mmdet's own heads
with the dataset's classes; FCOS evaluated on boxes only."""
import json
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import ROOT

CONFIGS = osp.join(ROOT, 'configs')
SAIS = 'sais/sais_r50_fpn_{}.py'
FCOS = 'fcos/fcos_r50_fpn_{}.py'
MASK_RCNN = 'mask_rcnn/mask-rcnn_r50_fpn_{}.py'
SMALL = {'1xb2-200i_fruits-nuts-384': 3, '1xb2-200i_feral-cats-384': 1}
COCO = '8xb2-1x_coco-1333x800'


def _cfg(pattern: str, setting: str) -> Config:
    return Config.fromfile(osp.join(CONFIGS, pattern.format(setting)))


def _num_classes(cfg: Config) -> list:
    """Every num_classes of the model's heads."""
    model = cfg.model
    if model.type == 'MaskRCNN':
        return [model.roi_head.bbox_head.num_classes,
                model.roi_head.mask_head.num_classes]
    return [model.bbox_head.num_classes]


@pytest.mark.parametrize('pattern', [FCOS, MASK_RCNN])
@pytest.mark.parametrize('setting', [*SMALL, COCO])
def test_same_backbone_data_and_schedule_as_sais(pattern, setting):
    """Backbone (pytorch-style R-50 and its init), normalisation, the
    train/test pipelines, loaders, schedule and runtime equal SAIS's config
    of the same setting (lr aside: the protocol's probe sets it)."""
    ours = _cfg(pattern, setting)
    sais = _cfg(SAIS, setting)
    assert ours.model.backbone == sais.model.backbone
    assert ours.model.backbone.style == 'pytorch'
    for key in ('mean', 'std', 'bgr_to_rgb', 'pad_size_divisor'):
        assert ours.model.data_preprocessor[key] == \
            sais.model.data_preprocessor[key], key
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'train_cfg', 'param_scheduler', 'default_hooks',
                'randomness', 'auto_scale_lr', 'custom_imports'):
        assert ours.get(key) == sais.get(key), key
    for key in ('type', 'clip_grad'):
        assert ours.optim_wrapper[key] == sais.optim_wrapper[key], key
    opt, sais_opt = ours.optim_wrapper.optimizer, sais.optim_wrapper.optimizer
    assert {k: v for k, v in opt.items() if k != 'lr'} == \
        {k: v for k, v in sais_opt.items() if k != 'lr'}


@pytest.mark.parametrize('setting,classes', SMALL.items())
def test_small_data_configs(setting, classes):
    """selfsup init, the dataset's class count in every head, the lr the
    protocol's probe picked (docs/results/feral_cats_cpu/probe/choice.json),
    200 iterations."""
    with open(osp.join(ROOT, 'docs', 'results', 'feral_cats_cpu', 'probe',
                       'choice.json')) as f:
        choice = json.load(f)
    for key, pattern in (('fcos', FCOS), ('mask_rcnn', MASK_RCNN)):
        cfg = _cfg(pattern, setting)
        assert cfg.model.backbone.init_cfg.checkpoint == \
            'checkpoints/resnet50_augnet_selfsup.pth'
        assert len(cfg.metainfo.classes) == classes
        assert _num_classes(cfg) == [classes] * len(_num_classes(cfg))
        assert cfg.optim_wrapper.optimizer.lr == choice[key]['lr']
        assert cfg.train_cfg.max_iters == 200


def test_coco_configs_keep_mmdet_settings():
    """80 classes, torchvision init, mmdet's 1x keep-ratio input and lr
    steps; Mask R-CNN's RoI sizes and FCOS's improvements as in mmdet."""
    for pattern in (FCOS, MASK_RCNN):
        cfg = _cfg(pattern, COCO)
        assert _num_classes(cfg) == [80] * len(_num_classes(cfg))
        assert cfg.model.backbone.init_cfg.checkpoint == \
            'torchvision://resnet50'
        assert cfg.train_cfg.max_epochs == 12
        assert cfg.param_scheduler[1].milestones == [8, 11]
        resize = [t for t in cfg.train_dataloader.dataset.pipeline
                  if t.type == 'Resize'][0]
        assert resize.scale == (1333, 800) and resize.keep_ratio
    roi = _cfg(MASK_RCNN, COCO).model.roi_head
    # mmdet's RoIAlign settings; ParallelRoIAlign is mmcv's RoIAlign
    # (mmcv's kernel on GPU), named through RegistrySingleRoIExtractor
    assert roi.bbox_roi_extractor.roi_layer == dict(
        type='ParallelRoIAlign', output_size=7, sampling_ratio=0)
    assert roi.bbox_roi_extractor.type == 'RegistrySingleRoIExtractor'
    assert roi.mask_roi_extractor.roi_layer.output_size == 14
    assert _cfg(MASK_RCNN, COCO).model.train_cfg.rcnn.mask_size == 28
    head = _cfg(FCOS, COCO).model.bbox_head
    assert head.type == 'FCOSHead' and head.center_sampling
    assert head.norm_on_bbox and head.centerness_on_reg
    assert head.loss_bbox.type == 'GIoULoss'


@pytest.mark.parametrize('setting', [*SMALL, COCO])
def test_fcos_is_evaluated_on_boxes_only(setting):
    """FCOS predicts no masks: CocoMetric's `segm` would fail on its
    results; Mask R-CNN keeps both."""
    fcos = _cfg(FCOS, setting)
    sais = _cfg(SAIS, setting)
    for key in ('val_evaluator', 'test_evaluator'):
        assert fcos[key].metric == ['bbox'], key
        assert fcos[key].ann_file == sais[key].ann_file, key
        assert _cfg(MASK_RCNN, setting)[key] == sais[key], key
