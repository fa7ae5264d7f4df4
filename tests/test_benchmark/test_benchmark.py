"""tools/benchmark.py: two tiny real configs give Table IV, the raw-timing
JSON and the plot; a broken config gives an error row; the stage split,
the AP merge and the memory measurement are checked on their own."""
import glob
import json
import os.path as osp
import time

import pytest
import torch
from conftest import ROOT, TINY_CFG, fixed_size_pipeline, run_tool

from projects.benchmark import StageTimer, TABLE_COLUMNS
from projects.benchmark.coco_results import (coco_ap, find_test_metrics,
                                             match_record)
from projects.benchmark.models import build_model, describe

YOLACT_TINY = osp.join(ROOT, 'tests', 'configs', 'yolact_tiny_fruits_nuts.py')
STAGES = ('preprocess', 'backbone_neck', 'head_forward', 'post')


def _metrics(segm_ap: float) -> dict:
    m = {}
    for kind, ap in (('bbox', segm_ap / 2), ('segm', segm_ap)):
        for s, v in (('mAP', ap), ('mAP_50', 2 * ap), ('mAP_75', ap / 2),
                     ('mAP_s', -1.0), ('mAP_m', ap), ('mAP_l', ap)):
            m[f'coco/{kind}_{s}'] = v
    return m


def _write_metrics(folder, config, metrics, checkpoint='x.pth'):
    folder.mkdir(parents=True)
    (folder / 'test_metrics.json').write_text(
        json.dumps(dict(config=config, checkpoint=checkpoint,
                        metrics=metrics)))


@pytest.fixture(scope='module')
def bench(tmp_path_factory, fruits_nuts):
    """One run of the tool: the two tiny configs, a config with an unknown
    head and a missing config; AP from test_metrics.json files in the
    layout tools/test.py writes (the YOLACT one empty, as CocoMetric's
    result when nothing is detected)."""
    tmp = tmp_path_factory.mktemp('bench')
    _write_metrics(tmp / 'ap' / 'sais' / '20260101_000000',
                   'tests/configs/sais_tiny_fruits_nuts.py', _metrics(0.25))
    _write_metrics(tmp / 'ap' / 'yolact' / '20260101_000000',
                   'tests/configs/yolact_tiny_fruits_nuts.py', {})
    broken = tmp / 'broken_head.py'
    broken.write_text(f"_base_ = {TINY_CFG!r}\n"
                      "model = dict(bbox_head=dict(type='NoSuchHead'))\n")
    no_train_data = tmp / 'no_train_data.py'
    no_train_data.write_text(
        f"_base_ = {TINY_CFG!r}\n"
        "train_dataloader = dict(dataset=dict(ann_file='gone.json'))\n")
    configs = [TINY_CFG, YOLACT_TINY, str(broken), str(tmp / 'missing.py'),
               str(no_train_data)]
    proc = run_tool('tools/benchmark.py', *configs, '--ap-from',
                    str(tmp / 'ap'), '--out-dir', str(tmp / 'out'),
                    '--runs', '3', '--warmup', '1', '--images', '2',
                    '--train-steps', '1', '--train-warmup', '1')
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = glob.glob(str(tmp / 'out' / '*'))
    assert len(out) == 1, out
    with open(osp.join(out[0], 'benchmark.json')) as f:
        data = json.load(f)
    md = open(osp.join(out[0], 'benchmark.md')).read()
    return dict(dir=out[0], data=data, md=md, proc=proc,
                rows={r['name']: r for r in data['rows']})


def _table(md: str) -> list:
    """The first Markdown table as lists of cells."""
    lines = [ln for ln in md.splitlines() if ln.startswith('|')]
    table = []
    for ln in lines:
        cells = [c.strip() for c in ln.strip('|').split('|')]
        if table and len(cells) != len(table[0]):
            break
        table.append(cells)
    return table


def test_table_iv_columns_and_rows(bench):
    table = _table(bench['md'])
    assert tuple(table[0]) == TABLE_COLUMNS
    body = {row[0]: dict(zip(TABLE_COLUMNS, row)) for row in table[2:]}
    assert len(body) == 5
    sais = body['SAIS (`sais_tiny_fruits_nuts`)']
    yolact = body['YOLACT (`yolact_tiny_fruits_nuts`)']
    for row in (sais, yolact):
        assert row['backbone'] == 'R-18' and row['input size'] == '256x256'
        assert float(row['ms/img'].split()[0]) > 0
        assert float(row['params'].split()[0]) > 0
        assert float(row['FLOPs'].split()[0]) > 0
        assert row['train memory'].endswith('GiB')
    # AP merged from test_metrics.json; COCO's -1 (no small objects) is '-'
    assert (sais['AP'], sais['AP50'], sais['APs'], sais['box AP']) == \
        ('25.0', '50.0', '-', '12.5')
    # an empty CocoMetric result (no detections) is AP 0, said so
    assert yolact['AP'] == '0.0' and yolact['box AP'] == '0.0'
    assert 'no detections' in yolact['notes']


def test_broken_configs_give_error_rows(bench):
    rows = bench['rows']
    assert 'NoSuchHead' in rows['broken_head']['error']
    assert 'missing.py' in rows['missing']['error']
    table = _table(bench['md'])
    notes = {r[0]: r[-1] for r in table[2:]}
    assert any('error' in n and 'NoSuchHead' in n for n in notes.values())
    assert any('error' in n and 'missing.py' in n for n in notes.values())
    # the good rows still completed
    assert len(rows['sais_tiny_fruits_nuts']['latency_ms']['total']) == 3


def test_failed_training_keeps_the_rest_of_its_row(bench):
    row = bench['rows']['no_train_data']
    assert 'gone.json' in row['train_error'] and 'train' not in row
    assert len(row['latency_ms']['total']) == 3 and row['complexity']
    notes = {r[0]: r[-1] for r in _table(bench['md'])[2:]}
    assert 'training: ' in notes['SAIS (`no_train_data`)']


def test_json_has_every_raw_timing(bench):
    for name in ('sais_tiny_fruits_nuts', 'yolact_tiny_fruits_nuts'):
        row = bench['rows'][name]
        lat = row['latency_ms']
        assert all(len(lat[s]) == 3 for s in STAGES + ('total', ))
        for i in range(3):  # the stages split the total exactly
            assert sum(lat[s][i] for s in STAGES) == \
                pytest.approx(lat['total'][i], rel=1e-9)
        assert min(lat['backbone_neck']) > 0 and min(lat['head_forward']) > 0
        med = sorted(lat['total'])[1]
        assert row['latency_stats']['total']['median'] == pytest.approx(med)
        train = row['train']
        assert len(train['step_s']) == 1 and train['step_s'][0] > 0
        assert train['input_shape'] == [2, 3, 256, 256]
        assert train['peak_rss_mib'] >= train['rss_before_train_mib'] > 100


def test_params_and_flops_are_the_models(bench):
    from mmengine.config import Config
    cfg = Config.fromfile(TINY_CFG)
    model = build_model(cfg, None, 'cpu')
    params = sum(p.numel() for p in model.parameters())
    cx = bench['rows']['sais_tiny_fruits_nuts']['complexity']
    assert cx['params'] == params
    assert cx['input_shape'] == [1, 3, 256, 256]
    # more than the backbone's first conv, far less than a 1 TFLOP model
    assert 2 * 64 * 3 * 49 * 128 * 128 < cx['flops'] < 1e12


def test_deformable_convolution_flops():
    """mmcv's DCNv2 counts as the convolution it replaces plus its offset
    conv (mmengine alone counts it 0)."""
    from mmcv.ops import ModulatedDeformConv2dPack
    from mmengine.analysis import FlopAnalyzer

    from projects.benchmark.complexity import flop_analyzer
    x = (torch.rand(1, 16, 20, 24), )
    dcn = ModulatedDeformConv2dPack(16, 32, 3, padding=1).eval()
    conv = torch.nn.Conv2d(16, 32, 3, padding=1)
    with torch.no_grad():
        expected = (FlopAnalyzer(conv, x).total() +
                    FlopAnalyzer(dcn.conv_offset, x).total())
        assert expected == 20 * 24 * (32 + 27) * 16 * 9
        assert flop_analyzer(dcn, x).total() == expected


def test_flops_of_a_model_without_detections(fruits_nuts):
    """An untrained SOLO detects nothing and returns fresh empty tensors,
    which the tracer would prune back to 0 FLOPs; the heads still count."""
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from projects.benchmark import complexity
    from projects.benchmark.complexity import flop_analyzer
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'solo_r50_fruits_nuts.py'))
    cfg.model.backbone.depth = 18
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    cfg.model.neck.out_channels = 32
    cfg.model.mask_head.update(in_channels=32, feat_channels=32,
                               stacked_convs=1)
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.pipeline = fixed_size_pipeline(dataset_cfg.pipeline, 128)
    model = build_model(cfg, None, 'cpu').eval()
    batch = pseudo_collate([DATASETS.build(dataset_cfg)[0]])
    result = complexity(model, batch)
    assert result['detections'] == 0
    inputs = model.data_preprocessor(batch, False)['inputs']
    with torch.no_grad():
        backbone = flop_analyzer(model.backbone, (inputs, )).total()
    assert result['flops'] > backbone > 0


def test_memory_ratio_and_plot(bench):
    (ratio, ) = bench['data']['memory_ratios']
    rows = bench['rows']
    sais = rows['sais_tiny_fruits_nuts']['train']['peak_rss_mib']
    yolact = rows['yolact_tiny_fruits_nuts']['train']['peak_rss_mib']
    assert ratio['input_size'] == '256x256'
    assert ratio['ratio'] == pytest.approx(sais / yolact)
    assert f"= **{ratio['ratio']:.2f}**" in bench['md']
    assert '(head forward + post-processing) / backbone+neck' in bench['md']
    png = osp.join(bench['dir'], 'latency_vs_mask_ap.png')
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert sorted(bench['data']['plot_left_out']) == [
        'broken_head', 'missing', 'no_train_data']


def test_progress_bar_over_configs_and_rounds(bench):
    err = bench['proc'].stderr
    assert 'configs: build, FLOPs, warm-up' in err
    assert 'timing rounds' in err and '3/3' in err


def test_stage_timer_attributes_time_to_the_right_stage(fruits_nuts):
    """A 200 ms sleep in the backbone shows in backbone+neck only, one in the
    box decoding and NMS (predict_by_feat) in post-processing only (per-stage
    minimum of 3 runs; the other stages may move by less than 100 ms on a
    busy CPU)."""
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    cfg = Config.fromfile(TINY_CFG)
    model = build_model(cfg, None, 'cpu').eval()
    batch = pseudo_collate([DATASETS.build(cfg.test_dataloader.dataset)[0]])
    timer = StageTimer(model)

    def best():
        runs = [timer(batch) for _ in range(3)]
        return {s: min(r[s] for r in runs) for s in STAGES}

    base = best()
    head_predict = model.bbox_head.predict_by_feat
    backbone_forward = model.backbone.forward

    def slow(fn):
        def wrapped(*a, **k):
            time.sleep(0.2)
            return fn(*a, **k)
        return wrapped

    model.backbone.forward = slow(backbone_forward)
    t = best()
    assert t['backbone_neck'] >= 200
    assert t['post'] - base['post'] < 100
    del model.backbone.forward
    model.bbox_head.predict_by_feat = slow(head_predict)
    t = best()
    assert t['post'] >= 200
    assert t['backbone_neck'] - base['backbone_neck'] < 100
    assert t['head_forward'] - base['head_forward'] < 100
    timer.close()
    assert 'extract_feat' not in vars(model)
    assert 'forward' not in vars(model.mask_head)


def test_ap_records(tmp_path):
    _write_metrics(tmp_path / 'a' / '1', 'configs/m.py', _metrics(0.1),
                   checkpoint=str(tmp_path / 'a.pth'))
    time.sleep(0.01)
    _write_metrics(tmp_path / 'a' / '2', 'configs/m.py', _metrics(0.3),
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


@pytest.mark.parametrize('config', sorted(
    glob.glob(osp.join(ROOT, 'configs', '*.py'))), ids=osp.basename)
def test_every_config_names_a_known_method(config):
    from mmengine.config import Config
    method, backbone = describe(Config.fromfile(config))
    assert method in ('SAIS', 'YOLACT', 'YOLACT++', 'SSS', 'SOLO',
                      'Decoupled SOLO', 'Decoupled SOLO light', 'SOLOv2',
                      'YOLO-Mask')
    assert backbone.split('-')[0] in ('R', 'X', 'D')
    stem = osp.basename(config)
    expected = {'sais': 'SAIS', 'yolactpp': 'YOLACT++', 'sss': 'SSS',
                'solov2': 'SOLOv2', 'yolo': 'YOLO-Mask'}
    for prefix, name in expected.items():
        if stem.startswith(prefix + '_'):
            assert method == name


def test_checkpoint_count_must_match_configs():
    proc = run_tool('tools/benchmark.py', TINY_CFG, YOLACT_TINY,
                    '--checkpoint', 'a.pth')
    assert proc.returncode == 2
    assert '1 given for 2 configs' in proc.stderr


def test_cpu_rss_is_the_training_process_own(tmp_path):
    """ru_maxrss would carry the parent's size into the training process;
    the probe's VmHWM does not: started from a parent holding 1 GiB, the
    tiny SAIS still reports its own peak."""
    big = torch.ones(2**28)  # 1 GiB resident in this (parent) process
    out = tmp_path / 'train.json'
    proc = run_tool('-m', 'projects.benchmark.train_probe', TINY_CFG,
                    str(out), '--warmup', '0', '--steps', '1')
    assert proc.returncode == 0, proc.stderr[-2000:]
    del big
    train = json.loads(out.read_text())
    assert train['peak_rss_mib'] < 1000
