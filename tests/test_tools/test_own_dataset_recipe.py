"""docs/datasets.md's "Your own dataset in one config", followed as
written on a small one-class dataset made from data/feral_cats: the
dataset check passes and tools/train.py trains; without the recipe's
offline init line the preflight names the key that cannot load."""
import json
import os
import os.path as osp
import re

import pytest
from mmengine.config import Config

from conftest import DATA, ROOT, run_tool
from projects.apis.run_checks import ConfigCheckError, check_pretrained

DOC = osp.join(ROOT, 'docs', 'datasets.md')
COCO_768 = osp.join(ROOT, 'configs/sais/sais_r50_fpn_8xb2-1x_coco-768.py')


def recipe_config() -> str:
    """The recipe's config block, as docs/datasets.md prints it."""
    text = open(DOC, encoding='utf-8').read()
    section = text.split('## Your own dataset in one config', 1)[1]
    return re.search(r'```python\n(.*?)```', section, re.S).group(1)


def one_class_dataset(root: str, train: int = 2, val: int = 1) -> None:
    """``root``/images (links to feral_cats photos), train.json and
    val.json: the first images of feral_cats' train split."""
    src = osp.join(DATA, 'feral_cats')
    coco = json.load(open(osp.join(src, 'train.json')))
    os.makedirs(osp.join(root, 'images'))
    images = coco['images'][:train + val]
    for split, imgs in (('train', images[:train]), ('val', images[train:])):
        ids = {im['id'] for im in imgs}
        for im in imgs:
            link = osp.join(root, 'images', im['file_name'])
            if not osp.exists(link):
                os.symlink(osp.join(src, 'images', im['file_name']), link)
        json.dump(dict(images=imgs, categories=coco['categories'],
                       annotations=[a for a in coco['annotations']
                                    if a['image_id'] in ids]),
                  open(osp.join(root, f'{split}.json'), 'w'))


def test_coco_config_without_offline_init_names_the_key():
    cfg = Config.fromfile(COCO_768)
    with pytest.raises(ConfigCheckError) as e:
        check_pretrained(cfg)
    msg = str(e.value)
    assert ("model.backbone.init_cfg.checkpoint='torchvision://resnet50' "
            'cannot load here') in msg
    assert 'torchvision' in msg and \
        'checkpoints/resnet50_augnet_selfsup.pth' in msg
    cfg.model.backbone.init_cfg.checkpoint = 'checkpoints/nope.pth'
    with pytest.raises(ConfigCheckError, match="'checkpoints/nope.pth': no "
                       'such file'):
        check_pretrained(cfg)


def test_recipe_block_fixes_it(tmp_path):
    path = tmp_path / 'recipe.py'
    path.write_text(recipe_config().replace(
        "'../sais/", f"'{ROOT}/configs/sais/"))
    cfg = Config.fromfile(str(path))
    assert cfg.model.backbone.init_cfg.checkpoint == \
        'checkpoints/resnet50_augnet_selfsup.pth'
    cwd = os.getcwd()
    os.chdir(ROOT)  # the checkpoint path is relative to the repository
    try:
        check_pretrained(cfg)
    finally:
        os.chdir(cwd)


@pytest.mark.slow
def test_recipe_trains_as_written(tmp_path):
    data = tmp_path / 'my_dataset'
    one_class_dataset(str(data))
    # the two changes a test needs: absolute _base_ and data_root
    text = recipe_config().replace(
        "'../sais/", f"'{ROOT}/configs/sais/").replace(
        "'data/my_dataset/'", f"'{data}/'")
    config = tmp_path / 'sais_r50_fpn_1xb2-1x_my-dataset-768.py'
    config.write_text(text)
    r = run_tool('tools/misc/check_dataset.py', str(config))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    work = tmp_path / 'work'
    # one epoch of the 2 images (1 iteration), its validation at the end
    r = run_tool('tools/train.py', str(config), '--work-dir', str(work),
                 '--cfg-options', 'train_cfg.max_epochs=1')
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-3000:]
    assert "classes ('cat',)" in log or "'cat'" in log
    assert osp.isfile(work / 'epoch_1.pth')
    assert 'coco/segm_mAP' in log
