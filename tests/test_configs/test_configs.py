"""Every config parses, builds its model and carries the delta it claims."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import ROOT
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from projects.core.run_checks import check_model_types

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*.py')))


def _resize(cfg, split='train_dataloader'):
    return [t for t in cfg[split].dataset.pipeline
            if t['type'] == 'Resize'][0]


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path):
    register_all_modules()
    cfg = Config.fromfile(path)
    check_model_types(cfg)
    model = MODELS.build(cfg.model)  # no weights are loaded here
    if hasattr(getattr(model, 'bbox_head', None), 'num_protos'):
        # SAIS and the YOLACT family: coefficients match the prototypes
        protos = getattr(model.mask_head, 'num_protos', None) or \
            model.mask_head.protonet.num_protos
        assert model.bbox_head.num_protos == protos
    if 'SOLO' in cfg.model.type:  # only the zoo's bounded heads
        assert type(model.mask_head).__name__.startswith('Zoo')
    assert cfg.custom_imports.imports == ['projects']


def _cfg(name):
    return Config.fromfile(osp.join(ROOT, 'configs', name))


def test_paper_settings():
    cfg = _cfg('sais_r50.py')
    assert _resize(cfg)['scale'] == (768, 768)
    assert _resize(cfg)['keep_ratio'] is False
    assert _resize(cfg, 'test_dataloader')['scale'] == (768, 768)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum) == ('SGD', 0.01, 0.9)
    assert cfg.auto_scale_lr.base_batch_size == 16
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.param_scheduler[1].milestones == [8, 11]
    head = cfg.model.bbox_head
    assert head.num_protos == 32 and head.fuse_towers and head.center_aware
    assert _resize(_cfg('sais_r50_640.py'))['scale'] == (640, 640)
    assert _cfg('sais_r101.py').model.backbone.depth == 101
    assert _cfg('sais_x101.py').model.backbone.type == 'ResNeXt'


def test_ablation_deltas():
    keep = _resize(_cfg('sais_r50_1333x800.py'))
    assert keep['scale'] == (1333, 800) and keep['keep_ratio'] is True
    assert _cfg('sais_r50_no_center_aware.py').model.bbox_head.center_aware \
        is False
    assert _cfg('sais_r50_no_fusion.py').model.bbox_head.fuse_towers is False


def test_small_data_configs_point_at_data():
    fn = _cfg('sais_r50_fruits_nuts.py')
    assert fn.train_dataloader.dataset.data_root == 'data/fruits_nuts/'
    assert fn.train_dataloader.dataset.ann_file == 'train.json'
    assert fn.val_evaluator.ann_file == 'data/fruits_nuts/val.json'
    assert fn.model.bbox_head.num_classes == 3
    cm = _cfg('sais_r50_coco_mini.py')
    assert cm.val_evaluator.ann_file == \
        'data/coco-mini/annotations/instances_val2017.json'
    assert cm.model.bbox_head.num_classes == 80
