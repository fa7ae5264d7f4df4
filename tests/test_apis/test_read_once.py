"""The data checks of tools/train.py and tools/test.py parse each
annotation file once (a COCO train2017 file is 448 MB of JSON), and the
checks still see everything they saw when each read the file itself."""
import json

import pytest
from mmengine.config import Config

from conftest import ROOT
from projects.apis import dataset_check
from projects.apis.preflight import check_annotated_data, read_annotations
from projects.apis.run_checks import ConfigCheckError

CONFIG = f'{ROOT}/configs/sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py'
SPLITS = ['train_dataloader', 'val_dataloader']


@pytest.fixture
def json_reads(monkeypatch):
    """Paths passed to json.load by the dataset check module, in order."""
    reads = []
    real = json.load

    def counting(f, *args, **kwargs):
        reads.append(f.name)
        return real(f, *args, **kwargs)

    monkeypatch.setattr(dataset_check.json, 'load', counting)
    return reads


def test_each_annotation_file_is_parsed_once(fruits_nuts, json_reads,
                                             monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = Config.fromfile(CONFIG)
    reports = check_annotated_data(cfg, SPLITS)
    assert sorted(json_reads) == sorted(
        {r.ann_file for r in reports})  # train.json and val.json, once each
    assert len(json_reads) == 2
    # the checks saw the real files: 14 train and 4 val photos
    assert [r.num_images for r in reports] == [14, 4]
    assert all(sum(r.instances.values()) > 0 for r in reports)
    # classes came from the file's categories, as before
    assert cfg.train_dataloader.dataset.metainfo.classes == (
        'date', 'fig', 'hazelnut')


def test_a_split_sharing_a_file_reads_it_once(fruits_nuts, json_reads,
                                              monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = Config.fromfile(CONFIG)
    cfg.test_dataloader = cfg.val_dataloader
    annotations = read_annotations(cfg, SPLITS + ['test_dataloader'])
    assert len(annotations) == len(json_reads) == 2


def test_a_file_that_is_not_coco_names_the_split(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    bad = tmp_path / 'val.json'
    bad.write_text('{"images": []}')
    cfg = Config.fromfile(CONFIG)
    cfg.val_dataloader.dataset.ann_file = str(bad)
    with pytest.raises(ConfigCheckError,
                       match=r'val_dataloader\.dataset\.ann_file: .*val\.json'
                       r': no annotations, categories list'):
        read_annotations(cfg, SPLITS)
