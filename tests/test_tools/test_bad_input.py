"""Bad input: clear errors that name the key or file, or training that works."""
import json
import os
import os.path as osp

import pytest

from conftest import ROOT, TINY_CFG, run_tool

# every test here runs a tool in a subprocess: the slow tier
pytestmark = pytest.mark.slow

# conftest's run_tool puts the repository on PYTHONPATH; the tools must not
# need it (``projects`` is an installed package), so these runs clear it.
INSTALLED = dict(PYTHONPATH='')


def _cfg(tmp_path, body):
    path = tmp_path / 'cfg.py'
    path.write_text(f"_base_ = {TINY_CFG!r}\n" + body)
    return str(path)


def test_missing_data_root_names_key_and_where_data_lives(tmp_path):
    cfg = _cfg(tmp_path, "train_dataloader = dict(dataset=dict("
               "data_root='/nonexistent/fruits_nuts/'))\n")
    work = tmp_path / 'work'
    proc = run_tool('tools/train.py', cfg, '--work-dir', str(work),
                    env=INSTALLED)
    assert proc.returncode != 0
    assert 'train_dataloader.dataset.data_root' in proc.stderr
    assert 'Tony607/mmdetection_instance_segmentation_demo' in proc.stderr
    assert not work.exists()  # nothing was created


def test_missing_annotation_file(tmp_path, fruits_nuts):
    cfg = _cfg(tmp_path, "val_dataloader = dict(dataset=dict("
               "ann_file='nope.json'))\n")
    proc = run_tool('tools/train.py', cfg, '--work-dir', str(tmp_path / 'w'),
                    env=INSTALLED)
    assert proc.returncode != 0
    assert 'val_dataloader.dataset.ann_file' in proc.stderr
    assert 'nope.json' in proc.stderr


def test_unknown_model_type(tmp_path):
    cfg = _cfg(tmp_path, "model = dict(bbox_head=dict(type='SAISHaed'))\n")
    proc = run_tool('tools/train.py', cfg, '--work-dir', str(tmp_path / 'w'),
                    env=INSTALLED)
    assert proc.returncode != 0
    assert "model.bbox_head.type='SAISHaed'" in proc.stderr
    assert 'SAISHead' in proc.stderr  # suggestion


def test_missing_config_file(tmp_path):
    proc = run_tool(osp.join(ROOT, 'tools', 'train.py'),
                    str(tmp_path / 'none.py'), cwd=str(tmp_path),
                    env=INSTALLED)
    assert proc.returncode != 0 and 'none.py' in proc.stderr


def _mini_dataset(tmp_path, fruits_nuts, edit):
    """A dataset folder with links to 3 real images and an edited JSON."""
    with open(osp.join(fruits_nuts, 'train.json')) as f:
        coco = json.load(f)
    images = coco['images'][:3]
    ids = {im['id'] for im in images}
    coco['images'] = images
    coco['annotations'] = [a for a in coco['annotations']
                           if a['image_id'] in ids]
    img_dir = tmp_path / 'images'
    img_dir.mkdir()
    for im in images:
        os.symlink(osp.join(fruits_nuts, 'images', im['file_name']),
                   img_dir / im['file_name'])
    edit(coco, img_dir)
    (tmp_path / 'train.json').write_text(json.dumps(coco))
    return str(tmp_path) + '/'


def _train_on(tmp_path, root, extra=''):
    cfg = _cfg(tmp_path, f"""
train_dataloader = dict(dataset=dict(
    data_root={root!r}, ann_file='train.json',
    filter_cfg=dict(filter_empty_gt=False)))
val_dataloader = dict(dataset=dict(data_root={root!r}, ann_file='train.json'))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file={root + 'train.json'!r})
test_evaluator = val_evaluator
train_cfg = dict(val_interval=100)
{extra}""")
    return run_tool('tools/train.py', cfg, '--work-dir',
                    str(tmp_path / 'work'), env=INSTALLED)


def test_image_without_annotations_and_zero_area_box_train(
        tmp_path, fruits_nuts):
    def edit(coco, _):
        first = coco['images'][0]['id']
        coco['annotations'] = [a for a in coco['annotations']
                               if a['image_id'] != first]
        zero = dict(coco['annotations'][0], id=10**6, area=0.0)
        zero['bbox'] = [zero['bbox'][0], zero['bbox'][1], 0.0, 0.0]
        coco['annotations'].append(zero)
    root = _mini_dataset(tmp_path, fruits_nuts, edit)
    # batch 1 so that one iteration sees the image with no GT alone
    proc = _train_on(tmp_path, root, "train_dataloader.update(batch_size=1, "
                     "sampler=dict(type='DefaultSampler', shuffle=False))\n"
                     "train_cfg.update(max_iters=3, val_interval=3)\n"
                     "default_hooks = dict(checkpoint=dict(interval=3))\n")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert osp.isfile(tmp_path / 'work' / 'iter_3.pth')
    assert 'loss_mask: 0.0000' in log  # the image with no GT


def test_undecodable_image_names_the_file(tmp_path, fruits_nuts):
    def edit(coco, img_dir):
        bad = coco['images'][0]['file_name']
        os.remove(img_dir / bad)
        (img_dir / bad).write_bytes(b'this is not a jpeg')
    root = _mini_dataset(tmp_path, fruits_nuts, edit)
    proc = _train_on(tmp_path, root)
    assert proc.returncode != 0
    assert 'failed to load image' in proc.stderr
    assert osp.join(root, 'images', '') in proc.stderr  # the file's path
