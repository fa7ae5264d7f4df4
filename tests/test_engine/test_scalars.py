"""scalar_records: the one reader of MMEngine's scalars.json files."""
import json

from projects.engine.scalars import scalar_records


def _write(work_dir, stamp, text):
    vis = work_dir / stamp / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(text)


def test_runs_in_timestamp_order_and_bad_lines_skipped(tmp_path):
    # written out of order: the reader sorts the runs by their folder
    _write(tmp_path, '20260102_000000',
           json.dumps({'iter': 30, 'step': 30}) + '\n')
    _write(tmp_path, '20260101_000000',
           '\n'.join([json.dumps({'iter': 10, 'step': 10}), '',
                      '[1, 2]',  # JSON, but not a record
                      json.dumps({'coco/segm_mAP': 0.1, 'step': 10}),
                      '{"iter": 20, "st']))  # cut short by a kill
    # a folder without vis_data (a run that died at start-up) is no run
    (tmp_path / '20260103_000000').mkdir()
    assert [(r.get('iter'), r['step']) for r in
            scalar_records(str(tmp_path))] == [(10, 10), (None, 10),
                                                (30, 30)]
    assert [r['step'] for r in scalar_records(
        str(tmp_path), skip_dir='20260101_000000')] == [30]
    assert list(scalar_records(str(tmp_path / 'missing'))) == []
