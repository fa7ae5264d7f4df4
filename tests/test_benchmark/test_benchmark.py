"""tools/benchmark.py end to end: two tiny real configs give Table IV, the
raw-timing JSON and the plot, with method names and paper figures from
fixture metafiles; broken configs give error rows; ``--render`` writes the
Markdown and plot again from the JSON alone. The stage split, FLOPs, AP
records, metafiles and the headline have their own test modules."""
import glob
import json
import os.path as osp

import pytest
import torch
from benchmark_helpers import (load_tool, metrics, write_metafiles,
                               write_metrics)
from conftest import ROOT, TINY_CFG, run_tool

from projects.benchmark import TABLE_COLUMNS
from projects.apis import build_model

YOLACT_TINY = osp.join(ROOT, 'tests', 'configs', 'yolact_tiny_fruits_nuts.py')
STAGES = ('preprocess', 'backbone_neck', 'head_forward', 'post')


@pytest.fixture(scope='module')
def bench(tmp_path_factory, fruits_nuts):
    """One run of the tool: the two tiny configs, a config with an unknown
    head, a missing config and one without training data; AP from
    test_metrics.json files in the layout tools/test.py writes (the YOLACT
    one empty, as CocoMetric's result when nothing is detected); methods
    from fixture metafiles (by Architecture: the tiny configs are in no
    Model's Config)."""
    tmp = tmp_path_factory.mktemp('bench')
    write_metrics(tmp / 'ap' / 'sais' / '20260101_000000',
                  'tests/configs/sais_tiny_fruits_nuts.py', metrics(0.25))
    write_metrics(tmp / 'ap' / 'yolact' / '20260101_000000',
                  'tests/configs/yolact_tiny_fruits_nuts.py', {})
    metafile_root = write_metafiles(tmp / 'meta')
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
                    '--train-steps', '1', '--train-warmup', '1',
                    '--metafile-root', metafile_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = glob.glob(str(tmp / 'out' / '*'))
    assert len(out) == 1, out
    with open(osp.join(out[0], 'benchmark.json')) as f:
        data = json.load(f)
    md = open(osp.join(out[0], 'benchmark.md')).read()
    return dict(dir=out[0], data=data, md=md, proc=proc, tmp=tmp,
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_failed_training_keeps_the_rest_of_its_row(bench):
    row = bench['rows']['no_train_data']
    assert 'gone.json' in row['train_error'] and 'train' not in row
    assert len(row['latency_ms']['total']) == 3 and row['complexity']
    notes = {r[0]: r[-1] for r in _table(bench['md'])[2:]}
    assert 'training: ' in notes['SAIS (`no_train_data`)']


@pytest.mark.slow
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


@pytest.mark.slow
def test_train_state_figures(bench):
    """The device-independent training state of the tiny SAIS: every part
    positive, the total their sum, the parameters the model's trainable
    ones, and the breakdown's column and headline ratio render it."""
    from mmengine.config import Config
    train = bench['rows']['sais_tiny_fruits_nuts']['train']
    parts = ('saved_mib', 'params_mib', 'grads_mib', 'optim_state_mib')
    assert all(train[k] > 0 for k in parts + ('train_state_mib', ))
    assert train['train_state_mib'] == pytest.approx(
        sum(train[k] for k in parts), rel=1e-12)
    assert train['train_state_input_shape'] == [2, 3, 256, 256]
    model = build_model(Config.fromfile(TINY_CFG), None, 'cpu')
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert train['params_mib'] == trainable * 4 / 2**20
    # SGD with momentum: a gradient and a buffer per trainable parameter
    assert train['grads_mib'] == train['optim_state_mib'] == \
        train['params_mib']
    assert 'train state (saved+params+grads+optim)' in bench['md']
    (ratio, ) = bench['data']['memory_ratios']
    yolact = bench['rows']['yolact_tiny_fruits_nuts']['train']
    assert ratio['train_state_ratio'] == pytest.approx(
        train['train_state_mib'] / yolact['train_state_mib'])
    assert f"= **{ratio['train_state_ratio']:.2f}** (paper 0.47)" in \
        bench['md']


@pytest.mark.slow
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


@pytest.mark.slow
def test_memory_ratio_and_plot(bench):
    (ratio, ) = bench['data']['memory_ratios']
    rows = bench['rows']
    sais = rows['sais_tiny_fruits_nuts']['train']['peak_rss_mib']
    yolact = rows['yolact_tiny_fruits_nuts']['train']['peak_rss_mib']
    assert ratio['input_size'] == '256x256'
    assert ratio['methods'] == ['SAIS', 'YOLACT']
    assert ratio['mib'] == [sais, yolact]
    assert ratio['ratio'] == pytest.approx(sais / yolact)
    # the paper figures of the fixture metafiles, with their source
    assert ratio['paper_ratio'] == pytest.approx(1.8 / 3.8)
    assert ('**SAIS / YOLACT peak training memory**, measured vs paper '
            '(SAIS paper, Table IV: 1.8 GB / 3.8 GB = 0.47)') in bench['md']
    assert f"= **{ratio['ratio']:.2f}** (paper 0.47)" in bench['md']
    assert '(head forward + post-processing) / backbone+neck' in bench['md']
    png = osp.join(bench['dir'], 'latency_vs_mask_ap.png')
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert sorted(bench['data']['plot_left_out']) == [
        'broken_head', 'missing', 'no_train_data']


@pytest.mark.slow
def test_progress_bar_over_configs_and_rounds(bench):
    err = bench['proc'].stderr
    assert 'configs: build, FLOPs, warm-up' in err
    assert 'timing rounds' in err and '3/3' in err


@pytest.mark.slow
def test_render_from_the_json(bench, tmp_path):
    """--render writes benchmark.md and the plot from benchmark.json alone,
    naming methods by the metafiles given now (here YOLACT renamed), not
    by the JSON; twice gives the same Markdown; the rest of the tables is
    the run's."""
    renamed = write_metafiles(tmp_path / 'meta', yolact='YOLACT (renamed)')
    json_path = osp.join(bench['dir'], 'benchmark.json')
    out = tmp_path / 'one'
    proc = run_tool('tools/benchmark.py', '--render', json_path,
                    '--out-dir', str(out), '--metafile-root', renamed)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the missing config is nowhere now: it keeps the JSON's name
    assert 'missing' in proc.stderr
    md = (out / 'benchmark.md').read_text()
    assert 'YOLACT (renamed) (`yolact_tiny_fruits_nuts`)' in md
    assert '**SAIS / YOLACT (renamed) peak training memory**' in md
    with open(out / 'latency_vs_mask_ap.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    renamed_table = _table(md)
    for row, run_row in zip(renamed_table, _table(bench['md'])):
        assert row[1:] == run_row[1:]
        assert row[0] == run_row[0].replace('YOLACT (', 'YOLACT (renamed) (')
    again = load_tool().main(['--render', json_path, '--out-dir',
                              str(tmp_path / 'two'), '--metafile-root',
                              renamed])
    assert open(osp.join(again, 'benchmark.md')).read() == md
    # with the run's metafiles it renders the run's Markdown
    same = load_tool().main(['--render', json_path, '--out-dir',
                             str(tmp_path / 'three'), '--metafile-root',
                             str(bench['tmp'] / 'meta' / 'configs')])
    assert open(osp.join(same, 'benchmark.md')).read() == bench['md']


def test_thp_allocator_setting_is_in_the_header(monkeypatch):
    """THP_MEM_ALLOC_ENABLE (PyTorch's CPU allocator, read once per
    process) changes every timing of a run: the report says when it was
    set."""
    from types import SimpleNamespace

    from projects.benchmark.render import run_header
    tool = load_tool()
    args = SimpleNamespace(device='cpu')
    settings = dict(warmup=1, runs=2, images=3, train_steps=4,
                    train_warmup=5)
    monkeypatch.delenv('THP_MEM_ALLOC_ENABLE', raising=False)
    env = tool.environment(args)
    assert 'thp_mem_alloc' not in env
    header = run_header(dict(command='c', time='t', environment=env,
                             settings=settings))
    assert 'THP' not in header
    assert f"{env['threads']} threads), torch" in header
    # the CPU model and its vector ISA: times compare only within one
    isa = torch.backends.cpu.get_cpu_capability()
    assert env['cpu_capability'] == isa
    assert f"cpu ({env['cpu']}, {isa}, {env['threads']} threads" in header
    monkeypatch.setenv('THP_MEM_ALLOC_ENABLE', '1')
    env = tool.environment(args)
    assert env['thp_mem_alloc'] == '1'
    header = run_header(dict(command='c', time='t', environment=env,
                             settings=settings))
    assert f"{env['threads']} threads, THP_MEM_ALLOC_ENABLE=1" in header


def test_command_line_errors(capsys):
    tool = load_tool()
    for argv, message in (
            ([TINY_CFG, YOLACT_TINY, '--checkpoint', 'a.pth'],
             '1 given for 2 configs'),
            ([], 'give at least one CONFIG (or --render JSON)'),
            ([TINY_CFG, '--render', 'b.json'], '--render takes no CONFIG')):
        with pytest.raises(SystemExit) as e:
            tool.parse_args(argv)
        assert e.value.code == 2
        assert message in capsys.readouterr().err


def test_render_errors_name_the_file(tmp_path):
    tool = load_tool()
    with pytest.raises(SystemExit, match='gone.json'):
        tool.main(['--render', str(tmp_path / 'gone.json')])
    bad = tmp_path / 'configs' / 'x' / 'metafile.yml'
    bad.parent.mkdir(parents=True)
    bad.write_text('Models:\n  - Name: m\n    In Collection: Nothing\n')
    run = tmp_path / 'benchmark.json'
    run.write_text(json.dumps(dict(rows=[])))
    with pytest.raises(SystemExit, match='x/metafile.yml'):
        tool.main(['--render', str(run), '--metafile-root',
                   str(tmp_path / 'configs')])


@pytest.mark.slow
def test_cpu_rss_is_the_training_process_own(tmp_path):
    """ru_maxrss would carry the parent's size into the training process;
    the probe's VmHWM does not: started from a parent holding 1 GiB, the
    tiny SAIS still reports its own peak."""
    big = torch.ones(2**28)  # 1 GiB resident in this (parent) process
    out = tmp_path / 'train.json'
    proc = run_tool('-m', 'projects.benchmark.train_probe', TINY_CFG,
                    str(out), '--warmup', '0', '--steps', '1',
                    fresh=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    del big
    train = json.loads(out.read_text())
    assert train['peak_rss_mib'] < 1000
