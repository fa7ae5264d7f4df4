"""tools/misc/check_dataset.py, and the same checks at the start of
tools/train.py (issue 14 points 1 and 2), run as a user runs them."""
import json
import os
import os.path as osp
import re

import pytest

from conftest import DATA, ROOT, TINY_CFG, run_tool

pytestmark = pytest.mark.slow  # every test runs a tool in a subprocess

TOOL = 'tools/misc/check_dataset.py'
FERAL = osp.join(DATA, 'feral_cats')
FRUITS_CFG = osp.join(ROOT, 'configs', 'sais',
                      'sais_r50_fpn_1xb2-200i_fruits-nuts-384.py')


def _subset(tmp_path, src: str, n: int, split: str = 'train',
            start: int = 0) -> dict:
    """Images ``start:start + n`` of ``src``'s train.json, linked, as the
    split ``split``."""
    with open(osp.join(src, 'train.json')) as f:
        coco = json.load(f)
    coco['images'] = coco['images'][start:start + n]
    ids = {im['id'] for im in coco['images']}
    coco['annotations'] = [a for a in coco['annotations']
                           if a['image_id'] in ids]
    img_dir = tmp_path / 'images'
    img_dir.mkdir(exist_ok=True)
    for im in coco['images']:
        if not (img_dir / im['file_name']).exists():
            os.symlink(osp.join(src, 'images', im['file_name']),
                       img_dir / im['file_name'])
    (tmp_path / f'{split}.json').write_text(json.dumps(coco))
    return coco


def _delta(tmp_path, base: str, root: str, dataset: str = '') -> str:
    """A delta config moving ``base``'s train/val data to ``root``, with
    ``dataset`` (e.g. ``'metainfo=None, '``) added to both datasets."""
    path = tmp_path / 'cfg.py'
    path.write_text(f"""_base_ = {base!r}
data_root = {root!r}
train_dataloader = dict(dataset=dict(
    {dataset}data_root=data_root, ann_file='train.json',
    data_prefix=dict(img='images/')))
val_dataloader = dict(dataset=dict(
    {dataset}data_root=data_root, ann_file='val.json',
    data_prefix=dict(img='images/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'val.json')
test_evaluator = val_evaluator
""")
    return str(path)


def test_tool_summary_on_real_data():
    cfg = osp.join(ROOT, 'configs', 'sais',
                   'sais_r50_fpn_1xb2-200i_feral-cats-384.py')
    proc = run_tool(TOOL, cfg, '--split', 'train', 'val')
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(osp.join(FERAL, 'train.json')) as f:
        coco = json.load(f)
    n_img, n_ann = len(coco['images']), len(coco['annotations'])
    assert (f'train.json: {n_img} images (decoded), {n_ann} instances '
            '(0 crowd), 0 images without annotations') in proc.stdout
    assert f'instances per class: cat: {n_ann}' in proc.stdout
    assert 'most common 640x640' in proc.stdout
    assert proc.stdout.count('0 errors, 0 warnings') == 2


def test_tool_lists_every_problem_and_fails(tmp_path):
    coco = _subset(tmp_path, osp.join(DATA, 'fruits_nuts'), 3)
    broken = coco['images'][1]['file_name']
    os.remove(tmp_path / 'images' / broken)
    (tmp_path / 'images' / broken).write_bytes(b'')
    anns = coco['annotations']
    anns[1]['id'] = anns[0]['id']
    anns[2]['segmentation'] = [[1.0, 2.0, 3.0, 4.0]]
    (tmp_path / 'train.json').write_text(json.dumps(coco))
    (tmp_path / 'val.json').write_text(json.dumps(coco))
    cfg = _delta(tmp_path, FRUITS_CFG, str(tmp_path) + '/')
    proc = run_tool(TOOL, cfg, '--split', 'train')
    assert proc.returncode == 1
    out = proc.stdout
    ann_file = str(tmp_path / 'train.json')
    assert (f'error: {tmp_path}/images/{broken}: images[id='
            f'{coco["images"][1]["id"]}].file_name: failed to load image: '
            'the file is empty') in out
    assert (f'error: {ann_file}: annotations[id={anns[0]["id"]}].id: '
            'duplicate annotation id') in out
    assert (f'warning: {ann_file}: annotations[id={anns[2]["id"]}]'
            '.segmentation[0]: polygon of 4 numbers') in out
    assert '2 errors, 1 warnings' in out
    assert '2 fatal problem(s)' in proc.stderr


def test_train_stops_on_classes_of_another_dataset(tmp_path):
    """The issue's new user: a fruits_nuts copy with the paths of a
    one-class set and the class names left unchanged."""
    _subset(tmp_path, FERAL, 3)
    _subset(tmp_path, FERAL, 3, 'val')
    cfg = _delta(tmp_path, FRUITS_CFG, str(tmp_path) + '/')
    work = tmp_path / 'work'
    proc = run_tool('tools/train.py', cfg, '--work-dir', str(work))
    assert proc.returncode != 0
    assert ("train_dataloader.dataset.metainfo.classes=('date', 'fig', "
            "'hazelnut')") in proc.stderr
    assert "declares the categories ('cat',)" in proc.stderr
    assert re.search(r'(\d+) of \1 annotations would be dropped',
                     proc.stderr)
    assert 'need at least one array' not in proc.stderr
    assert not work.exists()  # stopped before the Runner


def test_train_stops_on_broken_validation_image(tmp_path):
    """A 0-byte JPEG in the validation split stops the run before its first
    iteration (mmdet would die at the first validation), naming the file."""
    _subset(tmp_path, osp.join(DATA, 'fruits_nuts'), 3)
    val = _subset(tmp_path, osp.join(DATA, 'fruits_nuts'), 2, 'val', 3)
    bad = tmp_path / 'images' / val['images'][0]['file_name']
    os.remove(bad)
    bad.write_bytes(b'')
    cfg = _delta(tmp_path, TINY_CFG, str(tmp_path) + '/')
    work = tmp_path / 'work'
    proc = run_tool('tools/train.py', cfg, '--work-dir', str(work))
    assert proc.returncode != 0
    assert 'val_dataloader: the dataset check found 1 fatal problem(s)' in \
        proc.stderr
    assert f'{bad}: images[id=' in proc.stderr
    assert 'Iter(train)' not in proc.stdout + proc.stderr
    assert not work.exists()


def test_train_reads_classes_from_the_file(tmp_path):
    """No classes in the config: classes and heads come from the file, and
    training (2 iterations) and validation run. The smoke run."""
    _subset(tmp_path, FERAL, 4)
    _subset(tmp_path, FERAL, 2, 'val', 4)
    cfg = _delta(tmp_path, TINY_CFG, str(tmp_path) + '/', 'metainfo=None, ')
    work = tmp_path / 'work'
    proc = run_tool('tools/train.py', cfg, '--work-dir', str(work))
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert "using classes=('cat',)" in log
    assert 'set num_classes=1 on model.bbox_head' in log
    assert re.search(r'Iter\(train\) \[2/2\].*loss: [0-9.]+', log)
    assert 'coco/segm_mAP' in log
    dumped = open(work / 'cfg.py').read()
    assert 'num_classes=1' in dumped and 'num_classes=3' not in dumped
