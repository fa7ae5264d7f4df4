"""AP records from tools/test.py's test_metrics.json: newest of the
config, preferring the benchmarked checkpoint; CocoMetric's empty result
is AP 0; a broken file is skipped with a warning naming it."""
import json
import time

import pytest
from benchmark_helpers import metrics, write_metrics

from projects.benchmark.coco_results import (coco_ap, find_test_metrics,
                                             match_record)


def test_ap_records(tmp_path):
    write_metrics(tmp_path / 'a' / '1', 'configs/m.py', metrics(0.1),
                  checkpoint=str(tmp_path / 'a.pth'))
    time.sleep(0.01)
    write_metrics(tmp_path / 'a' / '2', 'configs/m.py', metrics(0.3),
                  checkpoint=str(tmp_path / 'b.pth'))
    (tmp_path / 'bad' / '3').mkdir(parents=True)
    (tmp_path / 'bad' / '3' / 'test_metrics.json').write_text('{"x": 1')
    with pytest.warns(UserWarning, match='bad/3/test_metrics.json'):
        records = find_test_metrics([str(tmp_path)])
    assert len(records) == 2
    # newest of the config, unless another names the benchmarked checkpoint
    assert match_record('m.py', None, records)['segm']['AP'] == \
        pytest.approx(30.)
    rec = match_record('x/m.py', str(tmp_path / 'a.pth'), records)
    assert rec['segm']['AP'] == pytest.approx(10.)
    assert rec['same_checkpoint'] is True
    assert match_record('m.py', 'c.pth', records)['same_checkpoint'] is False
    assert match_record('other.py', None, records) is None
    assert coco_ap({}, 'segm') == {k: 0.0 for k in
                                   ('AP', 'AP50', 'AP75', 'APs', 'APm',
                                    'APl')}
    assert coco_ap({'coco/bbox_mAP': 0.5}, 'segm') is None
    with pytest.raises(FileNotFoundError, match='nowhere'):
        find_test_metrics([str(tmp_path / 'nowhere')])


def test_an_onnx_runtime_record_is_not_the_eager_ap(tmp_path):
    """tools/test.py --onnx writes the same config's test_metrics.json:
    it is the ONNX Runtime path's AP, never Table IV's eager one."""
    write_metrics(tmp_path / 'eager', 'configs/m.py', metrics(0.3))
    time.sleep(0.01)
    write_metrics(tmp_path / 'ort', 'configs/m.py', metrics(0.1))
    path = tmp_path / 'ort' / 'test_metrics.json'
    rec = json.loads(path.read_text())
    path.write_text(json.dumps(dict(rec, onnx='m_int8.onnx')))
    records = find_test_metrics([str(tmp_path)])
    assert match_record('m.py', None, records)['segm']['AP'] == \
        pytest.approx(30.)


def test_a_protocol_run_record_gives_the_ap_of_its_checkpoint(tmp_path):
    """tools/protocol.py's runs/<name>/run.json (its final validation on
    the val split) is an AP record: the memory stage's benchmark rows get
    the AP of the very weights they time."""
    from projects.benchmark.protocol import RunRecord
    for seed, ap in ((0, 0.029), (1, 0.025)):
        RunRecord(method='sais', seed=seed, lr=0.001,
                  config='configs/sais/sais_feral.py', device='cpu',
                  metrics=metrics(ap),
                  checkpoint=str(tmp_path / f'w{seed}' / 'iter_200.pth')
                  ).save(str(tmp_path / 'runs' / f'sais_s{seed}' /
                             'run.json'))
    records = find_test_metrics([str(tmp_path / 'runs')])
    assert len(records) == 2
    rec = match_record('configs/sais/sais_feral.py',
                       str(tmp_path / 'w0' / 'iter_200.pth'), records)
    assert rec['same_checkpoint'] is True
    assert rec['segm']['AP'] == pytest.approx(2.9)
    # weights no run wrote: the newest record, flagged as another's
    rec = match_record('sais_feral.py', str(tmp_path / 'other.pth'),
                       records)
    assert rec['same_checkpoint'] is False
