"""tools/misc/reproduced.py, which ends `make main`: the measured AP beside
the committed run's that the config's metafile names."""
import json
import os.path as osp

import pytest

from conftest import ROOT, load_script

MAIN = osp.join(ROOT, 'configs/sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py')


def _metrics(tmp_path, segm, bbox):
    path = tmp_path / 'test_metrics.json'
    path.write_text(json.dumps(dict(metrics={'coco/segm_mAP': segm,
                                             'coco/bbox_mAP': bbox})))
    return str(path)


def test_measured_beside_committed(tmp_path, capsys):
    tool = load_script('tools/misc/reproduced.py')
    run = tool.committed_run(MAIN)
    committed = tool.run_metrics(run)
    segm, bbox = committed['coco/segm_mAP'], committed['coco/bbox_mAP']
    assert 0 < segm < 1 and 0 < bbox < 1
    assert tool.main([MAIN, _metrics(tmp_path, segm - 0.015, bbox)])
    out = capsys.readouterr().out
    assert (f'mask AP: measured {segm * 100 - 1.5:.1f}, committed '
            f'{segm * 100:.1f} (-1.5)') in out
    assert 'reproduced: yes (within 2 AP points)' in out
    assert not tool.main([MAIN, _metrics(tmp_path, segm, bbox - 0.05)])
    assert ('reproduced: no (box AP -5.0: more than the 2 AP points '
            'allowed)') in capsys.readouterr().out


def test_config_without_committed_run_says_so(tmp_path, capsys):
    tool = load_script('tools/misc/reproduced.py')
    other = osp.join(ROOT, 'configs/sais/sais_r50_fpn_8xb2-1x_coco-768.py')
    with pytest.raises(SystemExit) as e:
        tool.main([other, _metrics(tmp_path, 0.1, 0.1)])
    assert e.value.code == 2
    assert 'no metafile Model with a committed Run' in capsys.readouterr().err
