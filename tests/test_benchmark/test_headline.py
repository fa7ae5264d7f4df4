"""The headline: measured peak training memory ratio of every pair of
methods whose papers report one, against the papers' ratio, with the
figures and their source taken from the metafiles, and the training
state's ratio where the rows have it; rendering is deterministic."""
import copy

from benchmark_helpers import write_metafiles

from projects.benchmark import (MethodIndex, headline, memory_ratios,
                                paper_memory, render)
from projects.benchmark.report import (BREAKDOWN_COLUMNS, TRAIN_STATE_COLUMN,
                                       breakdown_columns, breakdown_row)


def _row(name: str, method: str, mib: float, size: str = '384x384',
         before: float = 500.) -> dict:
    stage = dict(median=10., iqr=1., n=3)
    return dict(
        name=name, config=f'configs/{name}.py', checkpoint=None,
        method=method, backbone='R-50', input_size=size,
        latency_ms={}, detections=[3, 3, 4],
        latency_stats=dict(preprocess=stage, backbone_neck=stage,
                           head_forward=stage, post=stage,
                           total=dict(median=40., iqr=2., n=3)),
        train=dict(step_s=[1.0], peak_rss_mib=mib,
                   rss_before_train_mib=before),
        ap=dict(segm=dict(AP=20.), bbox=dict(AP=10.)))


def _rows() -> list:
    return [_row('sais', 'SAIS', 1000.), _row('yolact', 'YOLACT', 2000.),
            _row('yolact_550', 'YOLACT', 2500., size='550x550'),
            _row('yolactpp', 'YOLACT++', 3000.)]


def test_ratio_against_the_metafile_figures(tmp_path):
    rows = _rows()
    paper = paper_memory(rows, MethodIndex(write_metafiles(tmp_path)))
    assert paper == {'SAIS': (1.8, 'SAIS paper, Table IV'),
                     'YOLACT': (3.8, 'SAIS paper, Table IV')}
    (ratio, ) = memory_ratios(rows, paper)  # only at the same input size
    assert ratio['methods'] == ['SAIS', 'YOLACT']
    assert ratio['rows'] == ['sais', 'yolact']
    assert ratio['ratio'] == 0.5
    assert ratio['paper_ratio'] == 1.8 / 3.8
    assert ratio['training_part_ratio'] == 500 / 1500
    text = headline(rows, paper)
    assert ('**SAIS / YOLACT peak training memory**, measured vs paper '
            '(SAIS paper, Table IV: 1.8 GB / 3.8 GB = 0.47):') in text
    assert ('- 384x384: `sais` 0.98 GiB / `yolact` 1.95 GiB = **0.50** '
            '(paper 0.47)') in text


def test_figures_and_sources_come_from_the_metafiles(tmp_path):
    """Other figures, other sources, a third method: the headline follows
    (no figure is typed in the code), one pair of methods after another in
    the order the methods first occur in the run."""
    index = MethodIndex(write_metafiles(
        tmp_path, sais_gb=2, yolact_gb=8, yolact_source='YOLACT paper, '
        'Table 1', yolactpp_gb=5))
    rows = _rows()
    paper = paper_memory(rows, index)
    assert paper['YOLACT++'] == (5.0, 'YOLACT++ paper, Table 6')
    text = headline(rows, paper)
    assert ('**SAIS / YOLACT peak training memory**, measured vs paper '
            '(2 GB / 8 GB = 0.25):') in text
    assert ('- paper figures: SAIS 2 GB from *SAIS paper, Table IV*; YOLACT '
            '8 GB from *YOLACT paper, Table 1*') in text
    assert '= **0.50** (paper 0.25)' in text
    pairs = [(r['methods'], r['rows']) for r in memory_ratios(rows, paper)]
    assert pairs == [(['SAIS', 'YOLACT'], ['sais', 'yolact']),
                     (['SAIS', 'YOLACT++'], ['sais', 'yolactpp']),
                     (['YOLACT', 'YOLACT++'], ['yolact', 'yolactpp'])]
    assert text.index('**SAIS / YOLACT peak') < \
        text.index('**SAIS / YOLACT++ peak') < \
        text.index('**YOLACT / YOLACT++ peak')
    # a pair without rows at the same input size is said to be missing
    rows[3]['input_size'] = '700x700'
    assert '- not measured: needs a SAIS and a YOLACT++ config' in \
        headline(rows, paper)


def test_no_paper_figures(tmp_path):
    rows = _rows()
    empty = MethodIndex(str(tmp_path / 'no_configs'))
    assert paper_memory(rows, empty) == {}
    assert memory_ratios(rows, {}) == []
    text = headline(rows, {})
    assert 'no two methods of this run have a paper figure' in text
    assert '- SAIS (`sais`): 2.00' in text  # (10 + 10) / 10


def test_render_is_deterministic(tmp_path):
    index = MethodIndex(write_metafiles(tmp_path))
    data = dict(command='python tools/benchmark.py ...', time='20260101',
                environment=dict(device='cpu', cpu='a CPU', threads=2,
                                 torch='2', mmdet='3', mmcv='2'),
                settings=dict(warmup=1, runs=3, images=2, train_steps=1,
                              train_warmup=1),
                rows=_rows())
    out = [tmp_path / 'one', tmp_path / 'two']
    texts = []
    for folder in out:
        folder.mkdir()
        md, ratios, left_out = render(copy.deepcopy(data), str(folder), index)
        assert (folder / 'benchmark.md').read_text() == md
        assert (folder / 'latency_vs_mask_ap.png').stat().st_size > 0
        texts.append(md)
    assert texts[0] == texts[1] and left_out == [] and len(ratios) == 1


def _with_state(row: dict, saved: float, params: float) -> dict:
    """``row`` with training-state figures (MiB): SGD with momentum, so
    gradients and optimizer state are the size of the parameters."""
    row['train'].update(saved_mib=saved, params_mib=params,
                        grads_mib=params, optim_state_mib=params,
                        train_state_mib=saved + 3 * params)
    return row


def test_train_state_ratio_next_to_the_memory_ratio(tmp_path):
    rows = _rows()
    _with_state(rows[0], 400., 100.)  # 700 MiB
    _with_state(rows[1], 1200., 100.)  # 1500 MiB
    paper = paper_memory(rows, MethodIndex(write_metafiles(tmp_path)))
    (ratio, ) = memory_ratios(rows, paper)
    assert ratio['train_state_mib'] == [700., 1500.]
    assert ratio['train_state_ratio'] == 700 / 1500
    assert ('- 384x384: `sais` 0.98 GiB / `yolact` 1.95 GiB = **0.50** '
            '(paper 0.47); train state (saved+params+grads+optim) 0.68 GiB '
            '/ 1.46 GiB = **0.47** (paper 0.47); growth over the memory '
            'before the first step: 0.33') in headline(rows, paper)
    # one row without the figures: no train-state ratio for the pair
    del rows[1]['train']['train_state_mib']
    (ratio, ) = memory_ratios(rows, paper)
    assert 'train_state_ratio' not in ratio
    assert 'train state' not in headline(rows, paper)


def test_train_state_column_only_when_a_row_has_it(tmp_path):
    rows = _rows()
    assert breakdown_columns(rows) == BREAKDOWN_COLUMNS
    assert len(breakdown_row(rows[0])) == len(BREAKDOWN_COLUMNS)
    _with_state(rows[0], 400., 100.)
    columns = breakdown_columns(rows)
    assert columns == BREAKDOWN_COLUMNS + (TRAIN_STATE_COLUMN, )
    assert breakdown_row(rows[0], True)[-1] == \
        '700.0 MiB (400.0+100.0+100.0+100.0)'
    assert breakdown_row(rows[1], True)[-1] == '-'
    rows[2]['train']['train_state_error'] = 'RuntimeError: no backward'
    data = dict(command='python tools/benchmark.py ...', time='20260101',
                environment=dict(device='cpu', cpu='a CPU', threads=2,
                                 torch='2', mmdet='3', mmcv='2'),
                settings=dict(warmup=1, runs=3, images=2, train_steps=1,
                              train_warmup=1),
                rows=rows)
    md, _, _ = render(data, str(tmp_path), MethodIndex(
        write_metafiles(tmp_path / 'meta')))
    assert f'| {TRAIN_STATE_COLUMN} |' in md
    assert 'train state: MiB on one more training step' in md
    assert '| 700.0 MiB (400.0+100.0+100.0+100.0) |' in md
    assert 'train state: RuntimeError: no backward' in md
