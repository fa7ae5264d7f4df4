"""The small-data train loaders never end a pass: mmengine's
iteration-based loop sleeps 2 s at the end of every pass of a finite
sampler, every 7 iterations on fruits_nuts."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from conftest import ROOT

DATASETS = ('fruits_nuts_instance', 'feral_cats_instance',
            'coco_mini_instance')


@pytest.mark.parametrize('name', DATASETS)
def test_small_data_train_sampler_is_infinite(name):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'datasets',
                                   f'{name}.py'))
    assert cfg.train_dataloader.sampler == dict(type='InfiniteSampler',
                                                shuffle=True)


def test_second_pass_follows_the_first_without_stopping(fruits_nuts):
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py'))
    loader_cfg = cfg.train_dataloader.copy()
    loader_cfg.update(num_workers=0, persistent_workers=False)
    loader_cfg.dataset.data_root = osp.join(ROOT, loader_cfg.dataset.data_root)
    # the pipeline is not what is tested: pack the file names only
    loader_cfg.dataset.pipeline = [
        dict(type='PackDetInputs', meta_keys=('img_path', ))]
    loader_cfg.dataset.filter_cfg = None
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    default_cfg = loader_cfg.copy()
    default_cfg.sampler = dict(type='DefaultSampler', shuffle=True)
    first_pass = [d.img_path for b in Runner.build_dataloader(
        default_cfg, seed=0) for d in b['data_samples']]
    assert len(first_pass) == 14
    it = iter(loader)
    seen = [d.img_path for _ in range(10) for d in next(it)['data_samples']]
    # the first pass is DefaultSampler's (same seed), the next goes on
    assert seen[:14] == first_pass
    assert len(seen) == 20 and set(seen[14:]) <= set(first_pass)
