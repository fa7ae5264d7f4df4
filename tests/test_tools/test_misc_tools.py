"""tools/misc and the table scripts of tools/analysis: the results tables
are the committed runs' numbers, and the config comparison finds what
differs."""
import glob
import json
import os
import os.path as osp
import shutil
import sys
from typing import List

import pytest

from conftest import ROOT, load_script
from projects.apis.metafiles import MethodIndex
from projects.benchmark import protocol_report
from projects.benchmark.markdown_blocks import find_block, has_block
from projects.benchmark.protocol import FERAL_CATS, FERAL_CATS_24E

tables = load_script('tools/misc/update_results_tables.py')
compare = load_script('tools/misc/compare_configs.py')


def test_results_tables_are_up_to_date():
    """README.md, the method pages and docs/results/<run>/README.md carry
    exactly what tools/misc/update_results_tables.py writes from the
    metafiles and the committed runs: no number typed by hand."""
    assert tables.main(['--check']) == 0


def block_table(block: str, only: bool = True) -> List[dict]:
    """The rows of the Markdown table in a generated block, as
    ``{header: cell}``; with ``only`` fails when the block has no table
    or several, else reads the first."""
    lines = block.splitlines()
    rules = [i for i, ln in enumerate(lines) if ln.startswith('| --- ')]
    assert len(rules) == 1 if only else rules, block
    header = [c.strip() for c in lines[rules[0] - 1].split('|')[1:-1]]
    rows = []
    for ln in lines[rules[0] + 1:]:
        if not ln.startswith('| '):
            break
        rows.append(dict(zip(header, [c.strip() for c in
                                      ln.split('|')[1:-1]])))
    return rows


def page_block(page: str) -> str:
    with open(page, encoding='utf-8') as f:
        text = f.read()
    assert not has_block(text, 'protocol'), page
    start, stop = find_block(text, 'results')
    return text[start:stop]


METHOD_PAGES = sorted(osp.join(osp.dirname(m), 'README.md') for m in
                      glob.glob(osp.join(ROOT, 'configs', '*',
                                         'metafile.yml')))


@pytest.mark.parametrize('page', METHOD_PAGES,
                         ids=lambda p: osp.basename(osp.dirname(p)))
def test_each_method_page_has_one_table_of_papers_and_protocols(page):
    """One results block with one table: a row per metafile Model with
    ``Reported In`` of the folder, then the protocol's rows of the
    folder's methods; no benchmark-run rows, no second (``protocol``)
    block."""
    folder = osp.dirname(page)
    rel = osp.relpath(folder, ROOT)
    index = MethodIndex(osp.join(ROOT, 'configs'))
    rows = block_table(page_block(page))
    papers = [m for m in index.models
              if m.reported_in and osp.dirname(m.config) == rel]
    assert [r['config'] for r in rows if r['source'].startswith(
        'reported in')] == [f'[{osp.basename(m.config)}]'
                            f'({osp.basename(m.config)})' for m in papers]
    quick = [r for r in rows
             if r['source'] == tables.PROTOCOL_RUNS[0].label]
    keys = [m.key for m in FERAL_CATS.methods
            if osp.dirname(m.config) == rel]
    assert len(quick) == len(keys) > 0
    for row in quick:
        assert row['run'] == ('[feral_cats_cpu](../../docs/results/'
                              'feral_cats_cpu/README.md)')
        assert row['schedule'] == '200 iterations'
        assert row['data'] == 'feral_cats val, 384x384'
    assert len(rows) == len(papers) + len(quick) + sum(
        r['source'] == tables.PROTOCOL_RUNS[1].label for r in rows)
    for run in ('cpu_speed_feral', 'fruits_nuts_cpu', 'train_state_feral'):
        assert run not in page_block(page)


def test_paper_rows_follow_the_metafile(tmp_path):
    """A changed figure in a copy of a metafile shows in the table."""
    for meta in glob.glob(osp.join(ROOT, 'configs', '*', 'metafile.yml')):
        dst = tmp_path / 'configs' / osp.basename(osp.dirname(meta))
        dst.mkdir(parents=True)
        shutil.copy(meta, dst / 'metafile.yml')
    sais = tmp_path / 'configs' / 'sais' / 'metafile.yml'
    text = sais.read_text()
    assert '{mask AP: 27.6}' in text and 'Training Memory (GB): 1.8' in text
    sais.write_text(text.replace('{mask AP: 27.6}', '{mask AP: 77.7, box AP: '
                                 '66.6}').replace(
                                     'Training Memory (GB): 1.8',
                                     'Training Memory (GB): 9.9'))
    index = MethodIndex(str(tmp_path / 'configs'), ROOT)
    rows = block_table(tables.method_block(
        osp.join(ROOT, 'configs', 'sais'), index))
    row = [r for r in rows if 'coco-640.py]' in r['config']][0]
    assert row['source'] == 'reported in SAIS paper, Table IV (COCO test-dev)'
    assert (row['mask AP'], row['box AP'], row['train memory']) == \
        ('77.7', '66.6', '9.9 GB')
    assert (row['backbone'], row['schedule'], row['data']) == \
        ('R-50', '12 epochs', 'COCO, 640x640')
    assert row['ms/img'] == row['seeds'] == row['run'] == '-'


def fake_converged_run(out, key: str) -> None:
    """A finished run of the 24-epoch protocol in ``out``: the committed
    200-iteration run of ``key`` (its run.json and scalars) with the
    24-epoch config."""
    src = osp.join(ROOT, 'docs', 'results', 'feral_cats_cpu', 'runs',
                   f'{key}_s0')
    dst = osp.join(out, 'runs', f'{key}_s0')
    os.makedirs(dst)
    shutil.copy(osp.join(src, 'scalars.json'), dst)
    with open(osp.join(src, 'run.json')) as f:
        rec = json.load(f)
    rec['config'] = FERAL_CATS_24E.method(key).config
    with open(osp.join(dst, 'run.json'), 'w') as f:
        json.dump(rec, f)


def test_converged_row_only_for_a_finished_run(tmp_path):
    """A converged (24-epoch) row shows for a method whose run.json is in
    the folder, not for one with an unfinished run (config only), and an
    absent folder shows none."""
    out = str(tmp_path / 'feral_cats_24e_cpu')
    fake_converged_run(out, 'sais')
    os.makedirs(osp.join(out, 'runs', 'sais_rt_s0'))  # started, unfinished
    (tmp_path / 'feral_cats_24e_cpu' / 'runs' / 'sais_rt_s0' /
     'config.py').write_text('# started\n')
    label = tables.PROTOCOL_RUNS[1].label
    runs = (tables.PROTOCOL_RUNS[0],
            tables.ProtocolRun(FERAL_CATS_24E, out, label))
    index = MethodIndex(osp.join(ROOT, 'configs'))
    sais_dir = osp.join(ROOT, 'configs', 'sais')
    rows = [r for r in block_table(tables.method_block(sais_dir, index,
                                                       runs))
            if r['source'] == label]
    assert [r['method'] for r in rows] == ['SAIS']
    with open(osp.join(out, 'runs', 'sais_s0', 'run.json')) as f:
        segm = 100 * json.load(f)['metrics']['coco/segm_mAP']
    assert rows[0]['mask AP'] == f'{segm:.1f}'
    assert rows[0]['schedule'] == '24 epochs (2304 iterations)'
    assert rows[0]['config'].startswith(
        '[sais_r50_fpn_1xb2-24e_feral-cats-384.py]')
    assert rows[0]['run'] == \
        f'[feral_cats_24e_cpu]({osp.relpath(out, sais_dir)})'
    assert rows[0]['ms/img'] == rows[0]['train memory'] == '-'  # no memory/
    absent = (tables.ProtocolRun(FERAL_CATS_24E, str(tmp_path / 'none'),
                                 label), )
    assert label not in tables.method_block(sais_dir, index, absent)


def test_committed_converged_rows_are_the_finished_runs():
    """On the committed pages a converged row shows exactly for the
    methods with a run.json in docs/results/feral_cats_24e_cpu (a folder
    that may be absent or hold unfinished runs only)."""
    pr = tables.PROTOCOL_RUNS[1]
    finished = {osp.basename(osp.dirname(p)).rsplit('_s', 1)[0] for p in
                glob.glob(osp.join(pr.out, 'runs', '*', 'run.json'))}
    for page in METHOD_PAGES:
        shown = [r['config'] for r in block_table(page_block(page))
                 if r['source'] == pr.label]
        folder = osp.relpath(osp.dirname(page), ROOT)
        want = [f'[{osp.basename(m.config)}]({osp.basename(m.config)})'
                for m in FERAL_CATS_24E.methods if m.key in finished
                and osp.dirname(m.config) == folder]
        assert shown == want, page


def test_report_and_method_page_format_a_row_identically():
    """The protocol report's table (README.md's zoo results, the
    protocol folder's README) and a method page's table print the same
    cells for the same protocol row: one renderer."""
    index = MethodIndex(osp.join(ROOT, 'configs'))
    report = block_table(tables.zoo_block(index, tables.PROTOCOL_RUNS[0]))
    with open(osp.join(ROOT, 'docs', 'results', 'feral_cats_cpu',
                       'README.md'), encoding='utf-8') as f:
        text = f.read()
    start, stop = find_block(text, protocol_report.REPORT_BLOCK)
    in_folder = block_table(text[start:stop], only=False)
    for folder in ('sais', 'yolact', 'fcos', 'solo'):
        page = [r for r in block_table(page_block(osp.join(
            ROOT, 'configs', folder, 'README.md')))
            if r['source'] == tables.PROTOCOL_RUNS[0].label]
        assert page
        for row in page:
            name = row['config'].split(']')[0]
            same = [r for r in report if r['config'].startswith(name)]
            also = [r for r in in_folder if r['config'].startswith(name)]
            assert len(same) == len(also) == 1
            for header in ('method', 'seeds', 'mask AP', 'box AP', 'ms/img',
                           'train memory'):
                assert row[header] == same[0][header] == also[0][header]
            assert ' on cpu (' in row['ms/img']
            assert row['ms/img'].endswith('), 2 threads')
            assert row['train memory'].endswith(' GiB')
    sais = [r for r in report if r['method'] == 'SAIS'][0]
    assert (sais['mask AP'], sais['train memory']) == ('2.7 ± 0.2',
                                                       '1.42 GiB')


def test_readme_headline_is_the_converged_table():
    """README.md's results table is the converged protocol's: one row per
    method with a finished run in docs/results/feral_cats_24e_cpu, each
    with its plateau verdict, and the runs of the plan still missing."""
    pr = tables.PROTOCOL_RUNS[tables.HEADLINE]
    assert pr.proto is FERAL_CATS_24E
    with open(osp.join(ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    start, stop = find_block(text, 'zoo results')
    block = text[start:stop]
    rows = block_table(block)
    runs = protocol_report.load_runs(pr.out)
    assert len(rows) == len(runs) > 0
    assert all(r['plateau (AP gain, last quarter)'].startswith(
        ('flat (', 'rising at the cap (')) for r in rows)
    assert all('_1xb2-24e_feral-cats-384.py' in r['config'] for r in rows)
    assert protocol_report.unfinished_line(FERAL_CATS_24E, runs) in block


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


def test_norm_eval_gap_finds_the_bn_of_a_mask_branch_and_names_a_missing_one():
    """tools/analysis/norm_eval_gap.py switches the BN layers of one
    module: CondInst's mask branch has them; SOLOv2's mask feature branch
    (GroupNorm) has none, which is an error, not a table."""
    from conftest import load_config
    from projects.apis import build_model
    script = load_script('tools/analysis/norm_eval_gap.py')
    for config, count in (
            ('condinst/condinst_r50_fpn_1xb2-24e_feral-cats-384.py', 7),
            ('solo/solov2_r50_fpn_1xb2-24e_feral-cats-384.py', 0)):
        cfg = load_config(osp.join(ROOT, 'configs', config))
        model = build_model(cfg, None, 'cpu')
        if count:
            norms = script.batch_norms(model, 'mask_head.mask_feature_head')
            assert len(norms) == count
        else:
            with pytest.raises(ValueError, match='mask_head.mask_feature_head'
                               ' has no BatchNorm layer'):
                script.batch_norms(model, 'mask_head.mask_feature_head')
    with pytest.raises(AttributeError):
        script.batch_norms(model, 'mask_head.no_such_branch')


@pytest.mark.slow
def test_roi_align_speed_writes_both_layers_times(tmp_path):
    """tools/analysis/roi_align_speed.py times ParallelRoIAlign and mmcv's
    kernel on a training case (forward + backward) and a validation case
    (forward) and writes the table into the page's named block."""
    script = load_script('tools/analysis/roi_align_speed.py')
    page = tmp_path / 'README.md'
    page.write_text('x\n<!-- roi align amd: begin -->\n'
                    '<!-- roi align amd: end -->\n')
    rows = script.main(['--cases', 'mask-rcnn-mask', 'mask-rcnn-box-val',
                        '--repeat', '1', '--threads', '1', '--readme',
                        str(page), '--marker', 'roi align amd'])
    assert [r['case'] for r in rows] == ['mask-rcnn-mask',
                                         'mask-rcnn-box-val']
    assert all(r['ParallelRoIAlign'] > 0 and r['mmcv RoIAlign'] > 0
               for r in rows)
    text = page.read_text()
    start, end = find_block(text, 'roi align amd')
    assert ('| mask-rcnn-mask | fwd + bwd | 4 | 256 | 14 | 64 |'
            in text[start:end])
    assert ('| mask-rcnn-box-val | fwd | 4 | 256 | 7 | 750 |'
            in text[start:end])
    with pytest.raises(SystemExit):
        script.main(['--cases', 'no-such-case'])
