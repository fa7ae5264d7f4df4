"""Every config parses, builds its model and carries the delta it claims."""
import glob
import os.path as osp
import re

import pytest
import yaml

from conftest import ROOT, load_config, run_tool
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from projects.apis.run_checks import check_model_types

CONFIG_ROOT = osp.join(ROOT, 'configs')
CONFIGS = sorted(
    p for p in glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True)
    if '_base_' not in p)


def _resize(cfg, split='train_dataloader'):
    return [t for t in cfg[split].dataset.pipeline
            if t['type'] == 'Resize'][0]


@pytest.mark.slow
@pytest.mark.parametrize(
    'path', CONFIGS, ids=lambda p: osp.relpath(p, CONFIG_ROOT))
def test_config_builds(path):
    register_all_modules()
    cfg = load_config(path)
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
    return load_config(osp.join(ROOT, 'configs', name))


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
    sais640 = _cfg('sais/sais_r50_fpn_8xb2-1x_coco-640.py')
    assert _resize(sais640)['scale'] == (640, 640)
    assert _resize(sais640, 'test_dataloader')['scale'] == (640, 640)
    r101 = _cfg('sais/sais_r101_fpn_8xb2-1x_coco-768.py')
    assert r101.model.backbone.depth == 101
    x101 = _cfg('sais/sais_x101-64x4d_fpn_8xb2-1x_coco-768.py')
    assert x101.model.backbone.type == 'ResNeXt'


def test_ablation_deltas():
    keep = _resize(_cfg('sais/sais_r50_fpn_8xb2-1x_coco-1333x800.py'))
    assert keep['scale'] == (1333, 800) and keep['keep_ratio'] is True
    head = _cfg('sais/sais-no-center-aware_r50_fpn_8xb2-1x_coco-768.py'
                ).model.bbox_head
    assert head.center_aware is False and head.fuse_towers is True
    head = _cfg('sais/sais-no-fusion_r50_fpn_8xb2-1x_coco-768.py'
                ).model.bbox_head
    assert head.fuse_towers is False and head.center_aware is True


def test_small_data_configs_point_at_data():
    fn = _cfg('sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py')
    assert fn.train_dataloader.dataset.data_root == 'data/fruits_nuts/'
    assert fn.train_dataloader.dataset.ann_file == 'train.json'
    assert fn.val_evaluator.ann_file == 'data/fruits_nuts/val.json'
    assert fn.model.bbox_head.num_classes == 3
    cm = _cfg('sais/sais_r50_fpn_1xb2-200i_coco-mini-384.py')
    assert cm.val_evaluator.ann_file == \
        'data/coco-mini/annotations/instances_val2017.json'
    assert cm.model.bbox_head.num_classes == 80


# {algorithm}_{backbone}[_{neck}]_{gpus}xb{batch}-{schedule}_{dataset}[-{input}]
NAME = re.compile(r'^(?P<algorithm>[a-z0-9]+(-[a-z0-9]+)*)'
                  r'_(?P<backbone>[a-z0-9]+(-[a-z0-9]+)*)'
                  r'(_(?P<neck>fpn|ssd))?'
                  r'_(?P<schedule>\d+xb\d+(-[a-z0-9]+)+)'
                  r'_(?P<dataset>coco|coco-mini|fruits-nuts|feral-cats)'
                  r'(-(?P<input>\d+(x\d+)?))?\.py$')
METHOD_CONFIGS = [p for p in CONFIGS if osp.dirname(p) != CONFIG_ROOT]
HEADLINES = [p for p in CONFIGS if osp.dirname(p) == CONFIG_ROOT]


@pytest.mark.parametrize(
    'path', METHOD_CONFIGS, ids=lambda p: osp.relpath(p, CONFIG_ROOT))
def test_names_follow_mmdet_scheme(path):
    match = NAME.match(osp.basename(path))
    assert match, f'{osp.relpath(path, ROOT)} does not follow ' \
        '{algorithm}_{backbone}_{neck}_{schedule}_{dataset}[-{input}].py'
    cfg = load_config(path)
    size = match['input']
    pipeline = cfg.test_dataloader.dataset.pipeline
    resize = [t for t in pipeline if t['type'] == 'Resize'][0]
    if size and 'x' in size:  # keep-ratio W x H
        assert tuple(resize['scale']) == tuple(map(int, size.split('x')))
    elif size:  # fixed square input
        assert tuple(resize['scale']) == (int(size), int(size))
    batch = int(match['schedule'].split('xb')[1].split('-')[0])
    assert cfg.train_dataloader.batch_size == batch


@pytest.mark.parametrize('path', HEADLINES, ids=osp.basename)
def test_headline_configs_are_one_line_aliases(path):
    """configs/sais_r50.py (the usage line) and each method's headline
    config only point into the method folder: same resolved config."""
    with open(path) as f:
        code = [ln for ln in f if ln.strip() and not ln.startswith('#')]
    assert len(code) == 1 and code[0].startswith("_base_ = './"), path
    target = osp.join(CONFIG_ROOT, code[0].split("'")[1])
    assert osp.dirname(target) != CONFIG_ROOT
    assert load_config(path).to_dict() == load_config(target).to_dict()


def test_usage_config_builds_sais():
    register_all_modules()
    model = MODELS.build(_cfg('sais_r50.py').model)
    assert type(model.bbox_head).__name__ == 'SAISHead'
    assert type(model.mask_head).__name__ == 'SAISMaskHead'


def test_input_size_is_one_variable_of_the_fixed_size_base():
    """384 (small data), 640 and 768 (COCO) differ only in Resize's scale."""
    def without_scale(cfg):
        return [{k: v for k, v in t.items() if k != 'scale'}
                for t in cfg.train_dataloader.dataset.pipeline +
                cfg.test_dataloader.dataset.pipeline]

    cfgs = [_cfg('sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py'),
            _cfg('sais/sais_r50_fpn_8xb2-1x_coco-640.py'),
            _cfg('sais/sais_r50_fpn_8xb2-1x_coco-768.py')]
    assert [_resize(c)['scale'] for c in cfgs] == \
        [(384, 384), (640, 640), (768, 768)]
    assert [c.img_scale for c in cfgs] == [(384, 384), (640, 640),
                                           (768, 768)]
    assert without_scale(cfgs[0]) == without_scale(cfgs[1]) == \
        without_scale(cfgs[2])
    yolact700 = _cfg('yolact/yolact_r50_fpn_1xb8-55e_coco-700.py')
    yolact550 = _cfg('yolact/yolact_r50_fpn_1xb8-55e_coco-550.py')
    assert _resize(yolact700)['scale'] == (700, 700)
    assert without_scale(yolact700) == without_scale(yolact550)


def test_small_data_configs_share_init_and_schedule():
    for path in METHOD_CONFIGS:
        if '200i' not in path:
            continue
        cfg = load_config(path)
        assert cfg.train_cfg.max_iters == 200 and \
            cfg.train_dataloader.batch_size == 2, path
        if cfg.model.backbone.type.startswith('ResNet'):
            assert cfg.model.backbone.init_cfg.checkpoint == \
                'checkpoints/resnet50_augnet_selfsup.pth', path


@pytest.mark.slow
def test_usage_line_without_coco_names_the_missing_path(tmp_path):
    proc = run_tool('tools/train.py', 'configs/sais_r50.py', '--work-dir',
                    str(tmp_path / 'work'), env=dict(PYTHONPATH=''))
    assert proc.returncode != 0
    assert 'data/coco/' in proc.stderr
    assert 'train_dataloader.dataset' in proc.stderr
    assert not (tmp_path / 'work').exists()


def _metafile(folder):
    with open(osp.join(folder, 'metafile.yml')) as f:
        return yaml.safe_load(f)


@pytest.mark.parametrize('folder', sorted({osp.dirname(p)
                                           for p in METHOD_CONFIGS}),
                         ids=osp.basename)
def test_metafile_lists_every_config_of_its_folder(folder):
    """model-index format (Collections, Models with Name, In Collection,
    Config, Metadata, Results, Paper); each config once, each link real."""
    meta = _metafile(folder)
    collections = {c['Name']: c for c in meta['Collections']}
    for c in collections.values():
        assert c['Paper']['Title'] and c['Metadata']['Architecture']
        assert osp.isfile(osp.join(ROOT, c['README']))
    listed = [m['Config'] for m in meta['Models']]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(
        osp.relpath(p, ROOT) for p in METHOD_CONFIGS
        if osp.dirname(p) == folder)
    for m in meta['Models']:
        assert m['In Collection'] in collections, m['Name']
        assert m['Name'] == osp.basename(m['Config'])[:-3]
        if 'Reported In' in m:  # a source's figures, never ours
            assert m.get('Results') or m['Metadata'].get(
                'Training Memory (GB)'), m['Name']


@pytest.mark.parametrize('path', [
    'sais/sais_r50_fpn_1xb2-800i_coco-mini-384.py',
    'yolact/yolact_r50_fpn_1xb2-800i_coco-mini-384.py'])
def test_800i_configs_change_only_the_schedule(path):
    """The coco-mini 800-iteration configs are their 200-iteration config
    (the small-data recipe) with only the schedule's length, its lr step,
    and the validation and checkpoint cadence changed."""
    long = _cfg(path).to_dict()
    short = _cfg(path.replace('-800i_', '-200i_')).to_dict()
    assert long['train_cfg'] == dict(short['train_cfg'], max_iters=800,
                                     val_interval=200)
    step = long['param_scheduler'][1]
    assert (step['end'], step['milestones']) == (800, [600])
    assert long['param_scheduler'][0] == short['param_scheduler'][0]
    assert long['default_hooks']['checkpoint']['interval'] == 200
    for cfg in (long, short):
        for key in ('train_cfg', 'param_scheduler', 'default_hooks',
                    'small_data_800i'):
            cfg.pop(key, None)
    assert long == short
