"""The converged budget (protocol ``feral_cats_24e``): every method's
``*_1xb2-24e_feral-cats-384.py`` is its 200-iteration config for 24
epochs, and the FCOS-family heads start their box regression off the
standstill."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, load_config
from projects.benchmark.protocol import (FERAL_CATS, FERAL_CATS_24E,
                                         plateau_verdict, train_config)

FCOS_FAMILY = ('sais', 'sais_rt', 'fcos', 'condinst', 'condinst_rt',
               'blendmask', 'blendmask_rt')


def test_converged_protocol_has_every_method_in_the_issue_order():
    keys = [m.key for m in FERAL_CATS_24E.methods]
    assert sorted(keys) == sorted(m.key for m in FERAL_CATS.methods)
    assert keys[:8] == ['sais', 'sais_rt', 'yolact', 'yolactpp', 'solov2',
                        'condinst', 'blendmask', 'mask_rcnn']
    assert {m.key for m in FERAL_CATS_24E.methods if len(m.seeds) == 3} \
        == {'sais', 'yolact', 'mask_rcnn'}
    assert FERAL_CATS_24E.max_iters == 2304 and FERAL_CATS_24E.amp
    assert osp.isfile(osp.join(ROOT, FERAL_CATS_24E.lr_from, 'probe',
                               'choice.json'))


@pytest.mark.parametrize('method', FERAL_CATS_24E.methods,
                         ids=lambda m: m.key)
def test_24e_config_is_the_200i_config_for_24_epochs(method, tmp_path):
    cfg = load_config(osp.join(ROOT, method.config))
    short = load_config(osp.join(
        ROOT, method.config.replace('1xb2-24e', '1xb2-200i')))
    assert cfg.train_cfg.max_iters == 2304
    assert cfg.train_cfg.val_interval == 192
    steps = cfg.param_scheduler[-1]
    assert steps.milestones == [1536, 2048] and steps.end == 2304
    assert cfg.optim_wrapper == short.optim_wrapper
    assert cfg.train_dataloader == short.train_dataloader
    init = cfg.model.bbox_head.get('init_cfg') if 'bbox_head' in \
        cfg.model else None
    if method.key in FCOS_FAMILY:
        reg = [o for o in init.override if o.name == 'conv_reg']
        assert reg and reg[0].bias == 1.0
    # the rest of the model is the 200-iteration one
    cfg.model.get('bbox_head', {}).pop('init_cfg', None)
    assert cfg.model == short.model
    # the protocol's delta keeps the budget
    delta = tmp_path / 'run.py'
    delta.write_text(train_config(FERAL_CATS_24E, method, 0.001, 0,
                                  str(tmp_path), ROOT))
    run = Config.fromfile(str(delta))
    assert run.train_cfg.max_iters == 2304
    assert run.train_cfg.val_interval == 192
    assert run.default_hooks.checkpoint.interval == 96


@pytest.mark.parametrize('config', [
    'configs/fcos/fcos_r50_fpn_1xb2-24e_feral-cats-384.py',
    'configs/condinst/condinst_r50_fpn_1xb2-24e_feral-cats-384.py'])
def test_reg_bias_init_reaches_conv_reg_only(config):
    from projects.apis import build_model
    cfg = load_config(osp.join(ROOT, config))
    head = build_model(cfg, None, 'cpu').bbox_head
    assert torch.all(head.conv_reg.bias == 1.0)
    assert torch.allclose(head.conv_cls.bias,
                          torch.full_like(head.conv_cls.bias,
                                          -math.log(99)), atol=1e-4)
    assert abs(float(head.conv_reg.weight.detach().std()) - 0.01) < 0.002


def test_plateau_verdict_reads_the_last_quarter():
    curve = [dict(iter=i, segm_mAP=ap) for i, ap in
             ((192, 3.0), (1536, 9.0), (1728, 10.0), (2304, 10.8))]
    assert plateau_verdict(curve, 2304) == ('flat', pytest.approx(0.8))
    curve[-1]['segm_mAP'] = 12.0
    assert plateau_verdict(curve, 2304) == ('rising', pytest.approx(2.0))
    verdict, gain = plateau_verdict(curve[:2], 2304)
    assert verdict == 'too short' and math.isnan(gain)
