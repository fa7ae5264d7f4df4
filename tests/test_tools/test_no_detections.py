"""A model that detects nothing gets COCO's AP table with zeros and a
warning from tools/test.py, and the benchmark flags its row."""
import json

import pytest
import torch

from conftest import TINY_CFG, run_tool
from projects.benchmark.coco_results import match_record


def zoo_style_checkpoint(path: str, seed: int = 0) -> None:
    """The tiny SAIS, seeded random weights, saved as mmdet's model zoo
    does: ``{'state_dict': ..., 'meta': {...}}`` and nothing else."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    import projects  # noqa: F401
    register_all_modules()
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(TINY_CFG).model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(mmdet_version='3.3.0', epoch=0, iter=0)), path)


@pytest.mark.slow
def test_test_py_prints_zero_ap_table_when_nothing_is_detected(
        tmp_path, fruits_nuts):
    ckpt = str(tmp_path / 'model.pth')
    zoo_style_checkpoint(ckpt)
    proc = run_tool('tools/test.py', TINY_CFG, ckpt, '--eval', 'bbox',
                    'segm', '--work-dir', str(tmp_path / 'test'),
                    '--cfg-options', 'model.test_cfg.score_thr=1.0')
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'nothing was detected on any of the 4 test images' in log
    assert 'testing results of the whole dataset is empty' not in log
    table = [ln for ln in log.splitlines() if 'Average Precision' in ln]
    assert len(table) == 2 * 6  # bbox and segm: AP, AP50, AP75, S, M, L
    assert all(ln.rstrip().endswith(('= 0.000', '= -1.000'))
               for ln in table)
    assert any(ln.rstrip().endswith('= 0.000') for ln in table)
    [path] = (tmp_path / 'test').glob('*/test_metrics.json')
    metrics = json.loads(path.read_text())['metrics']
    assert metrics['coco/segm_mAP'] == 0.0
    assert metrics['coco/bbox_mAP'] == 0.0
    assert metrics['coco/num_detections'] == 0.0
    rec = dict(config=TINY_CFG, checkpoint=ckpt, metrics=metrics,
               path=str(path))
    ap = match_record(TINY_CFG, ckpt, [rec])
    assert ap['no_detections'] is True
    assert ap['segm']['AP'] == 0.0


def test_benchmark_row_with_detections_is_not_flagged():
    metrics = {'coco/segm_mAP': 0.1, 'coco/num_detections': 12.0}
    rec = dict(config='a/x.py', checkpoint=None, metrics=metrics, path='p')
    assert match_record('x.py', None, [rec])['no_detections'] is False
    rec['metrics'] = {}  # mmdet's CocoMetric before ZooCocoMetric
    assert match_record('x.py', None, [rec])['no_detections'] is True
