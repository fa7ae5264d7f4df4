"""validation_logged: how a resumed run tells that an earlier run in its
work dir validated at its resume point already (the end-to-end resume
cases are in tests/test_tools/test_tools.py)."""
import json

from projects.engine.resume_validation import validation_logged


def _write(work_dir, stamp, records, tail=''):
    vis = work_dir / stamp / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(
        ''.join(json.dumps(r) + '\n' for r in records) + tail)


def test_only_a_validation_record_at_that_step_counts(tmp_path):
    # training records carry both iter and step; the last line was cut
    # short by a kill
    _write(tmp_path, '20260101_000000',
           [{'loss': 1.0, 'iter': 192, 'step': 192},
            {'coco/segm_mAP': 0.03, 'step': 96}],
           tail='{"coco/segm_mAP": 0.05, "st')
    assert not validation_logged(str(tmp_path), 192)
    assert validation_logged(str(tmp_path), 96)
    # a validation that detected nothing has no coco/ keys: still logged
    _write(tmp_path, '20260102_000000', [{'time': 0.3, 'step': 192}])
    assert validation_logged(str(tmp_path), 192)


def test_the_current_run_is_left_out(tmp_path):
    _write(tmp_path, '20260101_000000', [{'coco/bbox_mAP': 0.1, 'step': 2}])
    assert validation_logged(str(tmp_path), 2)
    assert not validation_logged(str(tmp_path), 2,
                                 skip_dir='20260101_000000')
    assert not validation_logged(str(tmp_path / 'empty'), 2)
