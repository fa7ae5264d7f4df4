"""The machine's roofline (short real measurements at a quarter of the
sizes), the fraction arithmetic, and the benchmark's precision table on a
real fp32 / bf16 / ONNX-Runtime-slot timing of the tiny SAIS (the slot
also with projects.deploy's real OrtDetector)."""
import json

import pytest
import torch
from benchmark_helpers import tiny_sais  # noqa: F401
from conftest import load_script

from projects.benchmark import StageTimer, complexity
from projects.benchmark.coco_results import match_record
from projects.benchmark.precision import (PRECISION_COLUMNS, best_bf16,
                                          layout_label, network_ms,
                                          new_row_fields, parse_variant,
                                          precision_row, precision_section,
                                          summarise_variants, time_once,
                                          variant_name, variants_to_time)
from projects.benchmark.render import write_markdown
from projects.benchmark.roofline import (CASES, build_case, measure, peak,
                                         roofline_fraction)
from projects.engine.inference_precision import bf16_unsupported_reason

BF16 = bf16_unsupported_reason('cpu') is None
VARIANTS_TIMED = ['fp32', 'bf16', 'bf16+channels_last',
                  'bf16+channels_last+fused']
PRECISIONS = ('fp32', 'bf16') if BF16 else ('fp32', )


@pytest.fixture(scope='module')
def roofline():
    """Every case, quarter size (conv 64 -> 64 channels at 24x24, GEMM
    512^3), 1 warm-up and 3 timed calls."""
    return measure(CASES, PRECISIONS, warmup=1, repeats=3, scale=0.25)


def test_roofline_fields(roofline):
    assert roofline['device'] and roofline['cpu_capability']
    assert roofline['torch'] == torch.__version__
    assert roofline['threads'] == torch.get_num_threads()
    assert roofline['scale'] == 0.25 and roofline['repeats'] == 3
    assert set(roofline['results']) == set(CASES)
    conv_gmac = 24 * 24 * 64 * 64 * 9 / 1e9
    for case, by_precision in roofline['results'].items():
        assert set(by_precision) == set(PRECISIONS)
        for r in by_precision.values():
            assert r['gmac'] == pytest.approx(
                512**3 / 1e9 if case == 'gemm' else conv_gmac)
            assert r['median_ms'] > 0 and r['iqr_ms'] >= 0
            assert r['gmacs'] == pytest.approx(
                r['gmac'] / (r['median_ms'] / 1000))
    json.dumps(roofline)  # the tool writes it as it is
    assert peak(roofline) == roofline['results']['conv3x3']['fp32']['gmacs']
    with pytest.raises(KeyError, match='nope'):
        peak(roofline, 'nope')


def test_fraction_on_real_measurements(roofline):
    conv = roofline['results']['conv3x3']['fp32']
    gemm = roofline['results']['gemm']['fp32']
    # the peak case reaches itself; twice the time is half of it
    assert roofline_fraction(conv['gmac'], conv['median_ms'],
                             peak(roofline)) == pytest.approx(1.)
    assert roofline_fraction(conv['gmac'], 2 * conv['median_ms'],
                             peak(roofline)) == pytest.approx(0.5)
    assert roofline_fraction(gemm['gmac'], gemm['median_ms'],
                             peak(roofline)) == pytest.approx(
                                 gemm['gmacs'] / conv['gmacs'])
    for bad in (dict(ms=0.), dict(peak_gmacs=0.), dict(gmac=-1.)):
        args = dict(dict(gmac=1., ms=1., peak_gmacs=1.), **bad)
        with pytest.raises(ValueError, match=next(iter(bad))):
            roofline_fraction(**args)
    with pytest.raises(ValueError, match="'conv5x5'"):
        build_case('conv5x5')


def test_cpu_roofline_tool_writes_its_json(tmp_path, capsys):
    tool = load_script('tools/analysis/cpu_roofline.py')
    out = tmp_path / 'r' / 'roofline.json'
    result = tool.main(['--cases', 'gemm', '--precisions', 'fp32',
                        '--repeats', '2', '--warmup', '0', '--scale', '0.1',
                        '--out', str(out), '--note', 'test'])
    assert json.loads(out.read_text()) == result
    assert result['note'] == 'test' and '--scale 0.1' in result['command']
    assert 'GMAC/s' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        tool.parse_args(['--repeats', '0'])


def test_variant_names():
    assert variant_name('bf16', True) == 'bf16+channels_last'
    assert variant_name('bf16', True, True) == 'bf16+channels_last+fused'
    assert parse_variant('bf16+channels_last') == ('bf16', True, False)
    assert parse_variant('fp32') == ('fp32', False, False)
    assert parse_variant('fp32+fused') == ('fp32', False, True)
    assert layout_label('bf16+fused') == 'NCHW, BN folded'
    assert layout_label('bf16+channels_last') == 'channels-last'
    assert variants_to_time('fp32', False, True, fuse_conv_bn=True) == [
        'fp32', 'bf16', 'bf16+channels_last', 'fp32+fused', 'bf16+fused',
        'bf16+channels_last+fused']
    assert variants_to_time('bf16', True, False) == ['bf16+channels_last']
    with pytest.raises(ValueError, match="'fp16'"):
        variant_name('fp16', False)
    with pytest.raises(ValueError, match="'int8'"):
        parse_variant('int8')


@pytest.mark.slow
@pytest.mark.skipif(not BF16, reason='no bf16 on this CPU')
def test_precision_table_from_a_real_timing(tiny_sais, roofline,  # noqa
                                            tmp_path):
    """fp32, bf16 and bf16 channels-last of the tiny SAIS (128 px) in
    alternating order, and the ONNX Runtime slot filled by a predictor with
    mmdet's predict(inputs, data_samples) API (the PyTorch model itself,
    standing where projects.deploy.OrtDetector goes)."""
    model, batch = tiny_sais
    row = dict(name='sais_tiny', config='tests/configs/sais_tiny.py',
               method='SAIS', complexity=complexity(model, batch),
               latency_ms={}, detections=[],
               **new_row_fields(VARIANTS_TIMED, 'model.onnx'))
    row['latency_ms'] = {k: [] for k in row['variants']['bf16'][
        'latency_ms']}
    with StageTimer(model) as timer:
        state = dict(timer=timer, model=model, variants=VARIANTS_TIMED,
                     ort=model)
        time_once(state, None, batch)  # warm-up: nothing kept
        assert row['latency_ms']['total'] == []
        for r in range(2):
            time_once(state, row, batch, reverse=r % 2 == 1)
    from projects.benchmark.report import stats
    row['latency_stats'] = {k: stats(v) for k, v in
                            row['latency_ms'].items()}
    summarise_variants(row)
    assert len(row['ort']['latency_ms']) == 2
    assert row['variants']['bf16']['detections'] == row['detections']
    cells = dict(zip(PRECISION_COLUMNS, precision_row(row, peak(roofline))))
    fp32 = row['latency_stats']
    variant, bf16 = best_bf16(row)
    assert cells['fp32 ms'] == f"{fp32['total']['median']:.1f}"
    assert cells['bf16 ms'] == f"{bf16['total']['median']:.1f}"
    assert cells['bf16 layout'] == layout_label(variant)
    fused = row['variants']['bf16+channels_last+fused']
    assert fused['detections'] == row['detections']
    assert len(fused['latency_ms']['total']) == 2
    assert cells['ORT ms'] == \
        f"{row['ort']['latency_stats']['total']['median']:.1f}"
    gmac = row['complexity']['flops'] / 1e9
    rate = gmac / (network_ms(fp32) / 1000)
    assert cells['GMAC/s'] == f'{rate:.0f}'
    share = roofline_fraction(gmac, network_ms(fp32), peak(roofline))
    assert cells['% of fp32 peak'] == f'{100 * share:.0f}%'
    assert cells['mask AP fp32 / bf16'] == '- / -'
    # the section and the report: the table only for rows that have it
    text = precision_section([row], roofline)
    assert f'fp32 peak: {peak(roofline):.1f} GMAC/s' in text
    md = write_markdown([row], str(tmp_path / 'b.md'), 'header', {},
                        roofline)
    assert '| ' + ' | '.join(PRECISION_COLUMNS) + ' |' in md
    for key in ('variants', 'ort'):
        row.pop(key)
    assert 'bf16 ms' not in write_markdown(
        [row], str(tmp_path / 'c.md'), 'header', {}, roofline)


def test_bf16_ap_records_kept_apart():
    """tools/test.py --precision bf16 records go to the precision table,
    never to Table IV's fp32 AP, even when newer."""
    rec = dict(config='configs/m.py', checkpoint='a.pth', path='p')
    records = [dict(rec, metrics={'coco/segm_mAP': 0.30}),
               dict(rec, metrics={'coco/segm_mAP': 0.28}, precision='bf16')]
    assert match_record('m.py', 'a.pth', records)['segm']['AP'] == \
        pytest.approx(30.)
    assert match_record('m.py', 'a.pth', records, 'bf16')['segm']['AP'] == \
        pytest.approx(28.)
    assert match_record('m.py', 'a.pth', records[:1], 'bf16') is None
    # a BN-folded bf16 test is the fused variant's, not the plain one's
    records.append(dict(rec, metrics={'coco/segm_mAP': 0.27},
                        precision='bf16', fuse_conv_bn=True))
    assert match_record('m.py', 'a.pth', records, 'bf16')['segm']['AP'] == \
        pytest.approx(28.)
    assert match_record('m.py', 'a.pth', records, 'bf16',
                        fuse_conv_bn=True)['segm']['AP'] == pytest.approx(27.)


def test_ort_slot_errors_name_the_file(tiny_sais, tmp_path):  # noqa: F811
    from projects.benchmark.precision import load_ort
    model, _ = tiny_sais
    with pytest.raises(FileNotFoundError, match='gone.onnx'):
        load_ort(model, str(tmp_path / 'gone.onnx'))


def test_ort_slot_times_onnx_runtime(tiny_sais, tmp_path):  # noqa: F811
    """projects.deploy's export of the tiny SAIS at 128 px, timed in the
    benchmark's ORT slot next to eager fp32."""
    from projects.benchmark.precision import load_ort
    from projects.deploy import export_onnx
    model, batch = tiny_sais
    inputs = model.data_preprocessor(batch, False)['inputs']
    path = str(tmp_path / 'sais.onnx')
    export_onnx(model, path, inputs)
    row = dict(latency_ms={}, detections=[],
               **new_row_fields(['fp32'], path))
    row['latency_ms'] = {k: [] for k in ('preprocess', 'backbone_neck',
                                         'head_forward', 'post', 'total')}
    with StageTimer(model) as timer:
        state = dict(timer=timer, model=model, variants=['fp32'],
                     ort=load_ort(model, path))
        time_once(state, row, batch)
    assert 'ort_error' not in row and 'ort' in state
    assert len(row['ort']['latency_ms']) == 1
    assert row['ort']['latency_ms'][0] > 0
