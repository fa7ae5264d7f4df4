"""tools/analysis/optimize_anchors.py on real fruits_nuts boxes."""
import json
import os.path as osp
import re

import pytest

from mmengine.config import Config

from conftest import ROOT, run_tool

# every test here runs a tool in a subprocess: the slow tier
pytestmark = pytest.mark.slow

# conftest's run_tool puts the repository on PYTHONPATH; the tool must not
# need it (``projects`` is an installed package), so these runs clear it.
INSTALLED = dict(PYTHONPATH='')
POOR = osp.join(ROOT, 'tests', 'configs', 'yolact_poor_anchors_fruits_nuts.py')


def _recalls(stdout):
    rows = {}
    for name in ('config', 'optimised'):
        m = re.search(rf'^\s*{name}\s+([\d.]+)', stdout, re.M)
        rows[name] = float(m.group(1))
    return rows


def test_optimised_recall_beats_poor_start_and_snippet_inherits(
        tmp_path, fruits_nuts):
    out = tmp_path / 'anchors.py'
    proc = run_tool('tools/analysis/optimize_anchors.py', POOR,
                    '--num-boxes', '200', '--restarts', '2', '--out',
                    str(out), env=INSTALLED)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rec = _recalls(proc.stdout)
    assert rec['config'] < 50  # 8-128 px squares vs ~60x75 px objects
    assert rec['optimised'] > rec['config'] + 20
    # the snippet is a config delta another config can inherit
    child = tmp_path / 'child.py'
    child.write_text(f'_base_ = {str(out)!r}\n')
    gen = Config.fromfile(str(child)).model.bbox_head.anchor_generator
    assert gen.octave_base_scale is None and len(gen.scales) == 1
    from mmdet.registry import TASK_UTILS
    from mmdet.utils import register_all_modules
    register_all_modules()
    TASK_UTILS.build(gen)  # a valid AnchorGenerator


def test_dataset_without_boxes_stops_clearly(tmp_path, fruits_nuts):
    with open(osp.join(fruits_nuts, 'train.json')) as f:
        coco = json.load(f)
    coco['annotations'] = []
    (tmp_path / 'empty.json').write_text(json.dumps(coco))
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        f'_base_ = {POOR!r}\n'
        f'train_dataloader = dict(dataset=dict(ann_file={str(tmp_path / "empty.json")!r},'
        ' filter_cfg=dict(filter_empty_gt=False)))\n')
    proc = run_tool('tools/analysis/optimize_anchors.py', str(cfg),
                    '--num-boxes', '50', env=INSTALLED)
    assert proc.returncode != 0
    assert 'yields no GT boxes' in proc.stderr and 'empty.json' in proc.stderr


def test_ssd_anchors_are_refused_by_name(tmp_path):
    # from another directory: the config's custom_imports of ``projects``
    # resolve to the installed package
    proc = run_tool(osp.join(ROOT, 'tools/analysis/optimize_anchors.py'),
                    osp.join(ROOT, 'configs', 'yolact',
                             'sss_r50_ssd_1xb2-200i_fruits-nuts-384.py'),
                    cwd=str(tmp_path), env=INSTALLED)
    assert proc.returncode != 0
    assert "type='SSDAnchorGenerator'" in proc.stderr
    assert 'yolact/sss_r50_ssd_1xb2-200i_fruits-nuts-384.py' in proc.stderr
