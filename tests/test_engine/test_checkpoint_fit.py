"""Weights that do not fit the config are refused, with what does not fit
and what the checkpoint was trained with (``check_checkpoint_fits``);
tools/test.py, tools/demo.py and tools/benchmark.py stop on them."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, TINY_CFG, run_tool
from projects.engine.checkpoint import (CheckpointMismatchError,
                                        check_checkpoint_fits,
                                        load_safe_checkpoint)

YOLACT_CFG = osp.join(ROOT, 'tests', 'configs', 'yolact_tiny_fruits_nuts.py')


def build(cfg):
    from projects.apis import build_model
    return build_model(cfg, None, 'cpu')


@pytest.fixture(scope='module')
def sais_checkpoint(tmp_path_factory):
    """A tiny SAIS (3 fruits_nuts classes) saved as mmengine saves one:
    ``state_dict`` and ``meta`` with the config text, experiment name and
    dataset classes."""
    cfg = Config.fromfile(TINY_CFG)
    path = str(tmp_path_factory.mktemp('ckpt') / 'sais_tiny.pth')
    torch.save(dict(
        state_dict=build(cfg).state_dict(),
        meta=dict(cfg=cfg.pretty_text,
                  experiment_name='sais_tiny_fruits_nuts_20261206_020304',
                  dataset_meta=dict(classes=('date', 'fig', 'hazelnut')))),
        path)
    return path


def test_fitting_checkpoint_passes(sais_checkpoint):
    model = build(Config.fromfile(TINY_CFG))
    check_checkpoint_fits(model, load_safe_checkpoint(sais_checkpoint))
    # mmengine's DDP-wrapped keys fit too
    state = {'module.' + k: v for k, v in model.state_dict().items()}
    check_checkpoint_fits(model, dict(state_dict=state))


def test_other_class_count_names_shapes_and_training_config(
        sais_checkpoint):
    cfg = Config.fromfile(TINY_CFG)
    cfg.model.bbox_head.num_classes = 1
    with pytest.raises(CheckpointMismatchError) as e:
        check_checkpoint_fits(build(cfg), load_safe_checkpoint(
            sais_checkpoint), sais_checkpoint, 'one_class.py', ('cat', ))
    msg = str(e.value)
    assert "does not fit 'one_class.py'" in msg
    assert ('2 tensors of another shape (bbox_head.conv_cls.weight: '
            '[3, 32, 3, 3] in the checkpoint, [1, 32, 3, 3] in the model; '
            'bbox_head.conv_cls.bias: [3] in the checkpoint, [1] in the '
            'model)' in msg)
    assert 'missing' not in msg and 'not in the model' not in msg
    assert ('trained with sais_tiny_fruits_nuts (model '
            'SingleStageInstanceSegmentor; 3 classes: date, fig, hazelnut)'
            in msg)
    assert 'this config builds SingleStageInstanceSegmentor (1 class: cat)' \
        in msg


def test_other_method_counts_missing_and_unexpected_keys(sais_checkpoint):
    model = build(Config.fromfile(YOLACT_CFG))
    with pytest.raises(CheckpointMismatchError) as e:
        check_checkpoint_fits(model, load_safe_checkpoint(sais_checkpoint))
    msg = str(e.value)
    own = set(model.state_dict())
    theirs = set(load_safe_checkpoint(sais_checkpoint)['state_dict'])
    assert f'{len(own - theirs)} keys missing from the checkpoint' in msg
    assert f'{len(theirs - own)} keys not in the model' in msg
    assert 'this config builds YOLACT' in msg


def test_checkpoint_without_meta_says_so():
    model = torch.nn.Linear(2, 3)
    with pytest.raises(CheckpointMismatchError,
                       match='names no config.*builds Linear'):
        check_checkpoint_fits(model, dict(weight=torch.zeros(3, 2)))


@pytest.mark.slow
@pytest.mark.parametrize('tool', ['test', 'demo', 'benchmark'])
def test_tools_refuse_a_checkpoint_of_another_method(tool, sais_checkpoint,
                                                     fruits_nuts, tmp_path):
    image = osp.join(fruits_nuts, 'images', sorted(
        f for f in __import__('os').listdir(osp.join(fruits_nuts, 'images'))
    )[0])
    args = dict(
        test=['tools/test.py', YOLACT_CFG, sais_checkpoint, '--work-dir',
              str(tmp_path)],
        demo=['tools/demo.py', image, YOLACT_CFG, '--weights',
              sais_checkpoint, '--out-dir', str(tmp_path)],
        benchmark=['tools/benchmark.py', YOLACT_CFG, '--checkpoint',
                   sais_checkpoint, '--skip-train', '--runs', '1',
                   '--warmup', '1', '--out-dir', str(tmp_path / 'b')])[tool]
    r = run_tool(*args)
    assert r.returncode != 0
    assert 'does not fit' in r.stderr and 'keys not in the model' in \
        r.stderr and 'trained with sais_tiny_fruits_nuts' in r.stderr, \
        r.stderr[-2000:]
    assert 'coco/segm_mAP' not in r.stdout


@pytest.mark.slow
def test_fine_tuning_another_class_count_loads_what_fits_in_one_line(
        fruits_nuts, tmp_path):
    # a one-class tiny SAIS fine-tuned on the three fruits_nuts classes
    cfg = Config.fromfile(TINY_CFG)
    cfg.model.bbox_head.num_classes = 1
    one_class = str(tmp_path / 'one_class.pth')
    torch.save(dict(state_dict=build(cfg).state_dict()), one_class)
    work = tmp_path / 'ft'
    r = run_tool('tools/train.py', osp.join(
        ROOT, 'tests', 'configs', 'sais_tiny_resume_fruits_nuts.py'),
        '--work-dir', str(work), '--cfg-options', f'load_from={one_class}',
        'train_cfg.max_iters=2', 'optim_wrapper.optimizer.lr=0.0')
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-3000:]
    saved = load_safe_checkpoint(one_class)['state_dict']
    lines = [ln for ln in log.splitlines() if "load_from '" in ln]
    assert len(lines) == 1, lines
    assert (f"loaded {len(saved) - 2} of the checkpoint's {len(saved)} "
            'tensors; skipped 2 of another shape (bbox_head.conv_cls.weight '
            '[1, 32, 3, 3] -> [3, 32, 3, 3]') in lines[0]
    assert 'size mismatch for' not in log  # mmengine's key-by-key lines
    # lr 0: the fitting convolutions are the checkpoint's after 2 steps
    after = load_safe_checkpoint(str(work / 'iter_2.pth'))['state_dict']
    key = 'neck.lateral_convs.0.conv.weight'
    assert torch.equal(after[key], saved[key])
    assert after['bbox_head.conv_cls.weight'].shape[0] == 3
