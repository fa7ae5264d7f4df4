"""tools/misc and the table scripts of tools/analysis: the results tables
are the committed runs' numbers, and the config comparison finds what
differs."""
import glob
import json
import os.path as osp
import sys

import pytest

from conftest import ROOT, load_script
from projects.apis.metafiles import MethodIndex

tables = load_script('tools/misc/update_results_tables.py')
compare = load_script('tools/misc/compare_configs.py')


def test_results_tables_are_up_to_date():
    """README.md, the method pages and docs/results/<run>/README.md carry
    exactly what tools/misc/update_results_tables.py writes from the
    committed benchmark.json files: no measured number typed by hand."""
    assert tables.main(['--check']) == 0


def test_results_table_rows_come_from_the_json(tmp_path):
    """A changed AP in a copy of the committed JSON shows in the table."""
    src = osp.join(ROOT, 'docs', 'results', 'fruits_nuts_cpu',
                   'benchmark.json')
    with open(src) as f:
        bench = json.load(f)
    sais = [r for r in bench['rows'] if r['config'].startswith(
        'configs/sais/')][0]
    sais['ap']['segm']['AP'] = 77.7
    run = tmp_path / 'run' / 'benchmark.json'
    run.parent.mkdir()
    run.write_text(json.dumps(bench))
    index = MethodIndex(osp.join(ROOT, 'configs'))
    runs = tables.load_runs([str(run)])
    sais_dir = osp.join(ROOT, 'configs', 'sais')
    table = tables.table(sais_dir, runs,
                         tables.method_names(index, sais_dir))
    row = [ln for ln in table.splitlines() if 'fruits-nuts-384' in ln][0]
    assert '| 77.7 |' in row and '| SAIS |' in row
    solo_dir = osp.join(ROOT, 'configs', 'solo')
    assert tables.table(solo_dir, runs, tables.method_names(
        index, solo_dir)).count('\n') == 5  # header, rule and 4 methods


def test_compare_configs_reports_a_changed_key(tmp_path, capsys):
    base = osp.join(ROOT, 'configs', 'sais',
                    'sais_r50_fpn_8xb2-1x_coco-768.py')
    same = tmp_path / 'same.py'
    same.write_text(f'_base_ = {base!r}\n')
    changed = tmp_path / 'changed.py'
    changed.write_text(f'_base_ = {base!r}\n'
                       "model = dict(bbox_head=dict(num_protos=16))\n")
    assert compare.main([base, str(same)]) == 0
    assert '1 of 1 identical' in capsys.readouterr().out
    assert compare.main([base, str(changed)]) == 0
    out = capsys.readouterr().out
    assert '.model.bbox_head.num_protos: 32 -> 16' in out
    assert '0 of 1 identical, 1 differ' in out
    assert compare.main([base, str(tmp_path / 'missing.py')]) == 1
    assert 'missing.py: no such config' in capsys.readouterr().out


def test_renames_table_names_every_moved_config():
    """docs/configs.md lists 43 renames, each new path a real config."""
    rows = compare.renames(osp.join(ROOT, 'docs', 'configs.md'))
    assert len(rows) == 43
    assert len({new for _, new in rows}) == 43
    for _, new in rows:
        assert osp.isfile(osp.join(ROOT, 'configs', new)), new


def test_prototype_collapse_tables_are_the_committed_scalars(capsys):
    """docs/results/prototype_collapse/README.md shows what
    tools/analysis/prototype_probe_table.py prints from the committed
    per-iteration scalars."""
    script = load_script('tools/analysis/prototype_probe_table.py')
    with open(osp.join(ROOT, 'docs', 'results', 'prototype_collapse',
                       'README.md')) as f:
        page = f.read()
    script.main([])
    probes = capsys.readouterr().out.strip()
    assert probes == script.probe_table()
    script.main(['--runs'])
    runs = capsys.readouterr().out.strip()
    assert f'<!-- probe table: begin -->\n{probes}\n' in page
    assert f'<!-- runs: begin -->\n{runs}\n' in page


def test_box_regression_table_is_the_committed_scalars():
    """docs/results/box_regression_saddle/README.md shows what
    tools/analysis/box_regression_loss.py prints from the committed
    protocol runs' scalars."""
    script = load_script('tools/analysis/box_regression_loss.py')
    with open(osp.join(ROOT, 'docs', 'results', 'box_regression_saddle',
                       'README.md')) as f:
        page = f.read()
    table = script.loss_table(script.DEFAULT_RUNS)
    assert 'condinst_s2 | 1.0000 | 1.0000 |' in table  # the stuck seed
    assert f'<!-- loss table: begin -->\n{table}\n' in page


def test_coco_mini_table_is_the_committed_scalars():
    """docs/results/coco_mini_cpu/README.md shows what
    tools/analysis/coco_mini_curve_table.py prints from the committed
    scalars: one row per validation (every 200 iterations) of each
    800-iteration run, SAIS's and YOLACT's."""
    script = load_script('tools/analysis/coco_mini_curve_table.py')
    with open(osp.join(ROOT, 'docs', 'results', 'coco_mini_cpu',
                       'README.md')) as f:
        page = f.read()
    table = script.table()
    for run in ('sais_800i', 'yolact_800i'):
        assert [ln.split(' | ')[1] for ln in table.splitlines()
                if ln.startswith(f'| {run} |')] == ['200', '400', '600',
                                                    '800'], run
    assert f'<!-- curve table: begin -->\n{table}\n' in page
    assert f'<!-- class table: begin -->\n{script.classes()}\n' in page


def test_solov2_kernel_init_table_is_the_committed_traces():
    """docs/results/solov2_kernel_init/README.md shows what
    tools/analysis/solov2_mask_logit_trace.py prints from the committed
    traces, and they show what the page says: with mmdet's init every
    logit of seed 2 is below 0 from iteration 9 on; with the kernel init
    the maximum never is."""
    script = load_script('tools/analysis/solov2_mask_logit_trace.py')
    with open(osp.join(ROOT, 'docs', 'results', 'solov2_kernel_init',
                       'README.md')) as f:
        page = f.read()
    assert f'<!-- trace table: begin -->\n{script.table()}\n' in page
    traces = {}
    for name in ('s2_mmdet_init', 's2_kernel_init'):
        with open(osp.join(ROOT, 'docs', 'results', 'solov2_kernel_init',
                           'traces', name + '.jsonl')) as f:
            traces[name] = [json.loads(line) for line in f]
    assert all(r['logit_max'] < 0
               for r in traces['s2_mmdet_init'] if r['iter'] >= 9)
    assert all(r['logit_max'] > 0 for r in traces['s2_kernel_init'])


def test_solo_budget_table_is_the_committed_scalars():
    """docs/results/solo_budget/README.md shows what
    tools/analysis/solo_budget_curve_table.py prints from the committed
    scalars: each 400-iteration run validated at 100, 200, 300 and 400,
    and its protocol run below it."""
    script = load_script('tools/analysis/solo_budget_curve_table.py')
    with open(osp.join(ROOT, 'docs', 'results', 'solo_budget',
                       'README.md')) as f:
        page = f.read()
    table = script.table()
    runs = [osp.basename(p)[:-5] for p in sorted(glob.glob(osp.join(
        ROOT, 'docs', 'results', 'solo_budget', 'runs', '*.json')))]
    assert runs, 'no committed 400-iteration run'
    for run in runs:
        assert [ln.split(' | ')[1] for ln in table.splitlines()
                if ln.startswith(f'| {run} |')] == ['100', '200', '300',
                                                    '400'], run
    assert f'<!-- curve table: begin -->\n{table}\n' in page


def test_solo_small_data_table_is_the_committed_scalars(capsys):
    """docs/results/solo_small_data/README.md shows what
    tools/analysis/solo_small_data_probe_table.py prints from the
    committed per-iteration scalars."""
    script = load_script('tools/analysis/solo_small_data_probe_table.py')
    with open(osp.join(ROOT, 'docs', 'results', 'solo_small_data',
                       'README.md')) as f:
        page = f.read()
    script.main([])
    table = capsys.readouterr().out.strip()
    assert table == script.table()
    assert f'<!-- probe table: begin -->\n{table}\n' in page


@pytest.mark.parametrize('tool', [
    'tools/benchmark.py', 'tools/demo.py', 'tools/protocol.py',
    'tools/test.py', 'tools/train.py', 'tools/analysis/cpu_roofline.py',
    'tools/analysis/show_prototypes.py', 'tools/deployment/export_onnx.py',
    'tools/deployment/onnx_infer.py', 'tools/misc/check_dataset.py'
])
def test_help_prints_and_exits_0(tool, capsys, monkeypatch):
    """``--help`` renders every option's help (a bare ``%`` in a help
    string makes argparse raise instead)."""
    monkeypatch.setattr(sys, 'argv', [tool, '--help'])
    with pytest.raises(SystemExit) as exit_info:
        load_script(tool).parse_args()
    assert exit_info.value.code == 0
    assert 'usage:' in capsys.readouterr().out
