"""Class names and head sizes against the annotation files (issue 14 point
1): wrong classes stop before training, missing ones are read from the
file, and every zoo config passes."""
import copy
import glob
import json
import os.path as osp
import re
from collections import Counter

import pytest
from mmengine.config import Config

from conftest import DATA, ROOT, load_config
from projects.apis.class_check import check_classes, class_heads
from projects.apis.run_checks import ConfigCheckError, check_data

FERAL = osp.join(DATA, 'feral_cats') + '/'
FRUITS = osp.join(DATA, 'fruits_nuts') + '/'
SMALL_DATA = sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*200i*.py')))


def _cfg(name: str, root: str = None, **dataset) -> Config:
    """A zoo config; with ``root``, its train/val data moved there."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[split].dataset
        if root:
            ds.update(data_root=root, data_prefix=dict(img='images/'),
                      ann_file='train.json' if split.startswith('train')
                      else 'val.json')
        ds.update(dataset)
    return cfg


def _count(ann_file: str, names) -> int:
    with open(ann_file) as f:
        coco = json.load(f)
    ids = {c['id'] for c in coco['categories'] if c['name'] in names}
    return sum(a['category_id'] in ids for a in coco['annotations'])


@pytest.mark.parametrize('path', SMALL_DATA,
                         ids=[osp.basename(p) for p in SMALL_DATA])
def test_every_small_data_config_passes(path):
    cfg = load_config(path)
    # the whole config as plain data (pretty_text would say the same, at
    # half a second of yapf formatting per config)
    before = copy.deepcopy(cfg.to_dict())
    classes = check_classes(cfg)
    assert classes and cfg.to_dict() == before  # nothing changed
    heads = list(class_heads(cfg.model))
    assert heads and all(n == len(classes) for _, _, n in heads)


def test_small_data_configs_found():
    assert len(SMALL_DATA) >= 40


def test_classes_naming_none_of_the_file():
    """The issue's case: a fruits_nuts copy pointed at a one-class set."""
    cfg = _cfg('sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py', FERAL)
    with pytest.raises(ConfigCheckError) as e:
        check_classes(cfg)
    msg = str(e.value)
    n = _count(FERAL + 'train.json', ['cat'])
    assert ("train_dataloader.dataset.metainfo.classes=('date', 'fig', "
            "'hazelnut')") in msg
    assert "declares the categories ('cat',)" in msg
    assert f'{n} of {n} annotations would be dropped' in msg
    assert "not in the file: ('date', 'fig', 'hazelnut')" in msg


def test_classes_naming_only_some_of_the_file():
    cfg = _cfg('sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py',
               metainfo=dict(classes=('date', 'fig')))
    with pytest.raises(ConfigCheckError) as e:
        check_classes(cfg)
    n = _count(FRUITS + 'train.json', ['hazelnut'])
    total = _count(FRUITS + 'train.json', ['date', 'fig', 'hazelnut'])
    assert n > 0
    assert (f"left out: ('hazelnut',), so {n} of {total} annotations would "
            'be dropped') in str(e.value)
    assert "declares the categories ('date', 'fig', 'hazelnut')" in str(
        e.value)
    assert 'allow_class_subset=True' in str(e.value)


def test_class_subset_allowed_on_purpose():
    cfg = _cfg('sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py',
               metainfo=dict(classes=('date', 'fig')))
    cfg.dataset_check = dict(allow_class_subset=True)
    with pytest.raises(ConfigCheckError) as e:  # the head still says 3
        check_classes(cfg)
    assert str(e.value).endswith(
        "model.bbox_head.num_classes=3, but the dataset has 2 classes "
        "('date', 'fig'): set model.bbox_head.num_classes=2")
    cfg.model.bbox_head.num_classes = 2
    assert check_classes(cfg) == ('date', 'fig')


def test_classes_in_another_order_than_the_file():
    cfg = _cfg('sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py',
               metainfo=dict(classes=('fig', 'date', 'hazelnut')))
    with pytest.raises(ConfigCheckError) as e:
        check_classes(cfg)
    assert "list them as ('date', 'fig', 'hazelnut')" in str(e.value)


@pytest.mark.parametrize('name,keys', [
    ('sais/sais_r50_fpn_8xb2-1x_coco-768.py', ['model.bbox_head']),
    ('mask_rcnn/mask-rcnn_r50_fpn_8xb2-1x_coco-1333x800.py',
     ['model.roi_head.bbox_head', 'model.roi_head.mask_head']),
    ('yolact/yolact_r50_fpn_1xb8-55e_coco-550.py',
     ['model.bbox_head', 'model.mask_head']),
    ('solo/solov2_r50_fpn_8xb2-1x_coco-1333x800.py', ['model.mask_head']),
])
def test_no_classes_are_read_from_the_file(name, keys):
    """A COCO config (no metainfo) on a one-class file: classes and every
    class head are set from the file (mmdet would keep COCO's 80)."""
    cfg = _cfg(name, FERAL)
    assert not cfg.train_dataloader.dataset.get('metainfo')
    assert check_classes(cfg) == ('cat', )
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[split].dataset.metainfo.classes == ('cat', )
    heads = {k: n for k, _, n in class_heads(cfg.model)}
    assert sorted(heads) == sorted(keys)
    assert set(heads.values()) == {1}
    assert cfg.model.get('rpn_head', {}).get('num_classes', 1) == 1


def test_head_size_differs_names_the_key():
    cfg = _cfg('sais/sais_r50_fpn_1xb2-200i_feral-cats-384.py')
    cfg.model.bbox_head.num_classes = 80
    with pytest.raises(ConfigCheckError) as e:
        check_classes(cfg)
    assert str(e.value).endswith(
        "model.bbox_head.num_classes=80, but the dataset has 1 class "
        "('cat',): set model.bbox_head.num_classes=1")


def test_head_default_num_classes_is_checked():
    """A head that leaves num_classes to its class default (80) counts."""
    cfg = _cfg('mask_rcnn/mask-rcnn_r50_fpn_1xb2-200i_feral-cats-384.py')
    del cfg.model.roi_head.mask_head['num_classes']
    with pytest.raises(ConfigCheckError) as e:
        check_classes(cfg)
    assert 'model.roi_head.mask_head.num_classes=80' in str(e.value)


def test_coco_file_without_classes_keeps_coco():
    cfg = _cfg('sais/sais_r50_fpn_1xb2-200i_coco-mini-384.py')
    with open(osp.join(DATA, 'coco-mini', 'annotations',
                       'instances_train2017.json')) as f:
        names = [c['name'] for c in json.load(f)['categories']]
    assert check_classes(cfg) == tuple(names)
    assert Counter(n for _, _, n in class_heads(cfg.model)) == {80: 1}


def test_docs_recipe_trains_a_new_dataset_with_its_classes(tmp_path):
    """The one-config recipe of docs/datasets.md, on a one-class set: the
    classes and the heads come from the file."""
    with open(osp.join(ROOT, 'docs', 'datasets.md')) as f:
        page = f.read()
    section = page.split('## Your own dataset in one config')[1]
    recipe = section.split('```python\n')[1].split('```')[0]
    base = re.search(r"_base_ = '\.\./(\S+)'", recipe).group(1)
    recipe = recipe.replace(f"'../{base}'", repr(
        osp.join(ROOT, 'configs', base))).replace(
            "'data/my_dataset/'", repr(FERAL))
    path = tmp_path / 'my_dataset.py'
    path.write_text(recipe)
    cfg = Config.fromfile(str(path))
    check_data(cfg, ['train_dataloader', 'val_dataloader'])
    assert check_classes(cfg) == ('cat', )
    assert [n for _, _, n in class_heads(cfg.model)] == [1]
    assert cfg.val_dataloader.dataset.metainfo.classes == ('cat', )
