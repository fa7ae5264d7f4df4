"""The benchmark protocol's plan, delta configs and readers
(projects/benchmark/protocol.py) and its report (protocol_report.py)."""
import bisect
import json
import math
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner.utils import calc_dynamic_intervals

from conftest import ROOT
from projects.benchmark import protocol as P
from projects.benchmark.protocol_report import (fmt_mean_std, load_runs,
                                                separations, write_report)

PROTO = P.FERAL_CATS


def test_every_method_config_exists_and_trains_the_same_budget():
    iters, batches, sizes = set(), set(), set()
    for method in PROTO.methods:
        cfg = Config.fromfile(osp.join(ROOT, method.config))
        iters.add(cfg.train_cfg.max_iters)
        batches.add(cfg.train_dataloader.batch_size)
        sizes.add(next(t['scale'] for t in cfg.test_dataloader.dataset.
                       pipeline if t['type'] == 'Resize'))
        assert cfg.train_dataloader.dataset.ann_file == 'train.json'
        assert cfg.val_dataloader.dataset.ann_file == 'val.json'
    assert iters == {PROTO.max_iters} and batches == {2}
    assert sizes == {(384, 384)}


def val_iterations(cfg) -> list:
    """The iterations after which MMEngine's IterBasedTrainLoop validates
    (its rule: after iteration i, interval from the milestones of i + 1)."""
    milestones, intervals = calc_dynamic_intervals(
        cfg.train_cfg.val_interval, cfg.train_cfg.get('dynamic_intervals'))
    done = []
    for i in range(1, cfg.train_cfg.max_iters + 1):
        interval = intervals[bisect.bisect(milestones, i + 1) - 1]
        if i % interval == 0 or i == cfg.train_cfg.max_iters:
            done.append(i)
    return done


def test_train_config_resolves_with_lr_seed_and_val_points(tmp_path):
    method = PROTO.method('sais')
    path = tmp_path / 'config.py'
    path.write_text(P.train_config(PROTO, method, 0.003, 2, str(tmp_path),
                                   ROOT))
    cfg = Config.fromfile(str(path))
    assert cfg.optim_wrapper.optimizer.lr == 0.003
    assert cfg.optim_wrapper.clip_grad.max_norm == 35  # schedule kept
    assert cfg.randomness.seed == 2
    assert cfg.model.mask_head.proto_norm is True
    assert cfg.model.bbox_head.num_classes == 1
    assert [h.type for h in cfg.custom_hooks] == ['PrototypeStatsHook']
    assert val_iterations(cfg) == list(PROTO.val_at) == [50, 100, 200]
    assert cfg.default_hooks.logger.log_metric_by_epoch is False
    assert cfg.default_hooks.checkpoint.interval == 50


def test_probe_config_has_no_validation_and_no_checkpoint(tmp_path):
    method = PROTO.method('solov2')
    path = tmp_path / 'probe.py'
    path.write_text(P.probe_config(PROTO, method, 0.01, str(tmp_path), ROOT))
    cfg = Config.fromfile(str(path))
    assert cfg.train_cfg.max_iters == PROTO.probe_iters
    assert cfg.val_cfg is None and cfg.val_dataloader is None
    assert cfg.default_hooks.checkpoint.save_last is False
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert 'proto_norm' not in cfg.model.mask_head  # no prototypes in SOLO


def test_val_points_mmengine_cannot_express_are_refused(tmp_path):
    bad = P.Protocol('bad', PROTO.methods, val_at=(50, 120))
    with pytest.raises(ValueError, match='val_at'):
        P.train_config(bad, PROTO.methods[0], 0.01, 0, str(tmp_path), ROOT)


def test_unknown_method_names_the_ones_there_are():
    with pytest.raises(KeyError, match='sais, yolact'):
        PROTO.method('no_such_method')


def write_scalars(work_dir, stamp, records):
    d = osp.join(work_dir, stamp, 'vis_data')
    os.makedirs(d)
    with open(osp.join(d, 'scalars.json'), 'w') as f:
        f.write('\n'.join(json.dumps(r) for r in records) + '\n')


def test_scalars_of_a_resumed_run_are_merged(tmp_path):
    # first part: iterations 10-30, validation at 20; killed, resumed from
    # iteration 20, which repeats iteration 30 with another loss
    write_scalars(tmp_path, '20261129_100000', [
        dict(iter=10, step=10, loss=3.0, time=2.0),
        # the validation at 10 detected nothing: no coco/ keys
        dict(data_time=0.1, time=0.5, step=10),
        dict(iter=20, step=20, loss=2.0, time=2.0),
        {'coco/segm_mAP': 0.01, 'coco/bbox_mAP': 0.02, 'step': 20},
        dict(iter=30, step=30, loss=1.5, time=2.0)])
    write_scalars(tmp_path, '20261129_110000', [
        dict(iter=30, step=30, loss=1.4, time=3.0),
        dict(iter=40, step=40, loss=1.2, time=3.0),
        {'coco/segm_mAP': 0.05, 'coco/bbox_mAP': 0.04, 'step': 40}])
    records = P.read_scalars(str(tmp_path))
    assert [r.get('iter') for r in records] == [10, 20, 30, 40, None, None,
                                                None]
    assert records[2]['loss'] == 1.4
    assert P.final_metrics(records, 40)['coco/segm_mAP'] == 0.05
    # training time: iterations at the median logged pace, (2 + 3) / 2 s
    assert P.train_seconds(records, 40) == 40 * 2.5
    assert P.learning_curve(records) == [
        dict(iter=10, train_s=25.0, segm_mAP=0.0, bbox_mAP=0.0),
        dict(iter=20, train_s=50.0, segm_mAP=1.0, bbox_mAP=2.0),
        dict(iter=40, train_s=100.0, segm_mAP=5.0, bbox_mAP=4.0)]
    # a run paused for 10 minutes in one of its 10 windows keeps its pace
    paused = [dict(iter=10 * i, time=60.0 if i == 5 else 1.0)
              for i in range(1, 11)]
    assert P.train_seconds(paused, 100) == 100.0
    assert P.train_seconds([], 40) == 0.0
    # the probe's score over (20, 40]: records 30 and 40
    assert P.probe_score(records, (20, 40)) == pytest.approx(1.3)
    with pytest.raises(ValueError, match='no training record'):
        P.probe_score(records, (40, 60))


def test_pick_lr_skips_nan_and_prefers_the_smaller_on_a_tie():
    assert P.pick_lr({0.001: 2.0, 0.003: 1.5, 0.01: math.inf}) == 0.003
    assert P.pick_lr({0.001: 1.5, 0.003: 1.5}) == 0.001
    with pytest.raises(ValueError, match='NaN'):
        P.pick_lr({0.01: math.inf})


def run_record(out, method, seed, segm, bbox=0.1):
    P.RunRecord(method=method, seed=seed, lr=0.001, config='c.py',
                device='cpu (test)',
                metrics={'coco/segm_mAP': segm, 'coco/bbox_mAP': bbox},
                curve=[dict(iter=200, train_s=600.0, segm_mAP=100 * segm,
                            bbox_mAP=100 * bbox)],
                wall_s=700.0).save(
                    osp.join(out, 'runs', f'{method}_s{seed}', 'run.json'))


def test_curve_labels_name_the_machine_when_runs_come_from_several():
    """The learning curves' time axis is each run's own pace: when runs
    trained on different machines or precisions, each method's label says
    where, so that no one reads a CPU's speed as a method's."""
    import dataclasses

    from projects.benchmark.protocol_report import curve_labels

    def rec(method, precision, device):
        return P.RunRecord(method=method, seed=0, lr=0.001, config='c.py',
                           device=device, metrics={}, precision=precision)

    intel = 'cpu (Intel(R) Xeon(R) Processor, 2 threads)'
    amd = 'cpu (AMD EPYC, AVX2, 2 threads)'
    runs = {'sais': [rec('sais', 'bf16', intel)],
            'yolact': [rec('yolact', 'bf16', intel)]}
    assert curve_labels(PROTO, runs) == {'sais': 'sais', 'yolact': 'yolact'}
    runs['sss'] = [rec('sss', 'fp32', amd)]
    assert curve_labels(PROTO, runs) == {
        'sais': 'sais (bf16, Intel(R) Xeon(R) Processor)',
        'yolact': 'yolact (bf16, Intel(R) Xeon(R) Processor)',
        'sss': 'sss (fp32, AMD EPYC, AVX2)'}
    # a method whose seeds trained in two places names both
    runs['sais'].append(dataclasses.replace(runs['sais'][0], seed=1,
                                            device=amd))
    assert curve_labels(PROTO, runs)['sais'] == (
        'sais (bf16, AMD EPYC, AVX2; bf16, Intel(R) Xeon(R) Processor)')


def test_report_mean_std_and_spread(tmp_path):
    out = str(tmp_path)
    for seed, (a, b) in enumerate([(0.10, 0.02), (0.12, 0.03),
                                   (0.11, 0.01)]):
        run_record(out, 'sais', seed, a)
        run_record(out, 'yolact', seed, b)
    run_record(out, 'sss', 0, 0.05)
    runs = load_runs(out)
    assert [r.seed for r in runs['sais']] == [0, 1, 2]
    assert fmt_mean_std([10.0, 12.0, 11.0]) == '11.0 ± 1.0'
    assert fmt_mean_std([5.0]) == '5.0'
    lines = separations(PROTO, runs)
    assert lines == ['- sais vs yolact: mask AP 11.0 vs 2.0, difference '
                     '9.0 is larger than the spread (1.0 + 1.0)']
    readme = tmp_path / 'README.md'
    readme.write_text('# hand-written head\n')
    write_report(PROTO, out)
    text = readme.read_text()
    assert text.startswith('# hand-written head\n')
    assert '| 11.0 ± 1.0 |' in text and '| 5.0 |' in text
    assert 'Not finished yet: yolactpp (seed 0), yolo_mask (seed 0)' in text
    assert (tmp_path / 'learning_curves.png').stat().st_size > 10000
    write_report(PROTO, out)  # again: the block is replaced, not added
    assert readme.read_text().count('## Results') == 1


def test_probe_stopped_by_the_nan_guard_never_wins():
    """A probe whose training the NaN guard stopped scores inf (and so is
    never picked); the reason is read from the guard's error in the log."""
    from projects.engine.nan_guard import NonFiniteLossError
    err = NonFiniteLossError('iteration 23: non-finite loss: loss = nan, '
                             'loss_mask = inf; training stopped')
    log = ('Traceback (most recent call last):\n  ...\n'
           f'{type(err).__module__}.{type(err).__name__}: {err}\n')
    assert P.non_finite_stop(log) == \
        'iteration 23: non-finite loss: loss = nan, loss_mask = inf'
    assert P.non_finite_stop('Iter(train) [40/40] loss: 2.9\n') is None
    ok = dict(records=[dict(iter=30, loss=2.0), dict(iter=40, loss=1.0)])
    assert P.probe_record_score(ok, (20, 40)) == 1.5
    stopped = dict(ok, stopped='iteration 23: non-finite loss: loss = nan')
    assert P.probe_record_score(stopped, (20, 40)) == math.inf
    assert P.pick_lr({0.001: 1.5, 0.01: math.inf}) == 0.001


def test_box_only_method_shows_no_mask_ap(tmp_path):
    """FCOS predicts no masks: its mask AP columns read '-' (not COCO's 0
    of an empty result), its box AP is there, and it joins no mask AP
    comparison."""
    from projects.benchmark.protocol_report import results_table
    from projects.apis.metafiles import MethodIndex
    out = str(tmp_path)
    proto = P.Protocol('t', (P.Method('sais', 'a.py', (0, 1)),
                             P.Method('fcos', 'b.py', (0, 1), masks=False)))
    for seed in (0, 1):
        run_record(out, 'sais', seed, 0.1 + seed / 100)
        P.RunRecord(method='fcos', seed=seed, lr=0.001, config='b.py',
                    device='cpu (test)',
                    metrics={'coco/bbox_mAP': 0.2 + seed / 100},
                    curve=[dict(iter=200, train_s=600.0, segm_mAP=0.0,
                                bbox_mAP=20.0)]).save(
                        osp.join(out, 'runs', f'fcos_s{seed}', 'run.json'))
    runs = load_runs(out)
    table = results_table(proto, runs, {}, MethodIndex())
    fcos = [line for line in table.splitlines() if '[b.py]' in line][0]
    cells = [c.strip() for c in fcos.split('|')[1:-1]]
    assert cells[0] == 'fcos'  # no metafile names b.py: the key
    assert cells[4:10] == ['-'] * 6  # mask AP .. APl
    assert cells[10] == '20.5 ± 0.7'  # box AP
    assert separations(proto, runs) == []


def test_report_and_method_pages_share_columns_and_cell_formats(tmp_path):
    """The report's table and the method pages' are rendered by one
    module (projects/benchmark/tables.py) from the same Column objects
    where they show the same figure; a protocol row and a paper row print
    mean ± std, ms with the device and memory in GiB (a paper's in its
    GB) the same way in both."""
    from projects.apis.metafiles import MethodIndex
    from projects.benchmark import tables as T
    shared = set(T.REPORT_COLUMNS) & set(T.PAGE_COLUMNS)
    assert {c.header for c in shared} == {
        'method', 'config', 'seeds', 'mask AP', 'box AP', 'ms/img',
        'train memory'}
    out = str(tmp_path)
    for seed, segm in enumerate((0.10, 0.12, 0.11)):
        run_record(out, 'sais', seed, segm)
    bench = {osp.normpath(PROTO.method('sais').config): dict(
        latency_stats=dict(total=dict(median=482.24, iqr=18.4, n=80)),
        train=dict(peak_rss_mib=1457.0, train_state_mib=874.0),
        environment=dict(device='cpu', threads=2, cpu='AMD EPYC'))}
    index = MethodIndex()
    row = T.protocol_rows(PROTO, load_runs(out), bench, index, out,
                          'protocol: test')[0]
    cells = {c.header: c.cell(row, out) for c in T.PAGE_COLUMNS}
    assert cells['mask AP'] == '11.0 ± 1.0'
    assert cells['ms/img'] == '482.2 (IQR 18.4) on cpu (AMD EPYC), 2 threads'
    # the vector ISA, when recorded, tells two machines of one model apart
    assert T.device_words(dict(device='cpu', threads=2, cpu='AMD EPYC',
                               cpu_capability='AVX2')) == \
        'cpu (AMD EPYC, AVX2), 2 threads'
    assert cells['train memory'] == '1.42 GiB'
    assert cells['seeds'] == '0, 1, 2' and cells['method'] == 'SAIS'
    page = T.render([row], T.PAGE_COLUMNS, out)
    report = T.render([row], T.report_columns(PROTO), out)
    for column in shared:
        assert f'| {column.cell(row, out)} |' in page
        assert f'| {column.cell(row, out)} |' in report
    paper = [r for r in T.paper_rows(index, 'configs/sais')
             if r.config.endswith('coco-640.py')][0]
    paper_cells = {c.header: c.cell(paper, out) for c in T.PAGE_COLUMNS}
    assert paper_cells['train memory'] == '1.8 GB'
    assert paper_cells['ms/img'] == paper_cells['run'] == '-'
    assert paper_cells['source'].startswith('reported in SAIS paper')


def test_committed_protocol_report_is_what_its_records_give():
    """docs/results/feral_cats_cpu/README.md and the probe table of
    docs/protocol.md are generated from the committed records (run
    `python tools/protocol.py --stage report` after adding any)."""
    from projects.benchmark.protocol_report import (probe_markers,
                                                    report_blocks)
    out = osp.join(ROOT, 'docs', 'results', 'feral_cats_cpu')
    block, probe_md = report_blocks(PROTO, out)
    with open(osp.join(out, 'README.md')) as f:
        assert block in f.read()
    begin, end = probe_markers(out)
    with open(osp.join(ROOT, 'docs', 'protocol.md')) as f:
        assert f'{begin}\n{probe_md}\n{end}' in f.read()


def test_memory_runs_add_up_newest_first_errors_never_win(tmp_path):
    from projects.benchmark.protocol_report import load_benchmark

    def bench(stamp, rows):
        d = tmp_path / 'memory' / stamp
        d.mkdir(parents=True)
        (d / 'benchmark.json').write_text(json.dumps(dict(
            rows=rows, environment=dict(device='cpu', threads=2))))

    bench('20261129_100000', [dict(config='a.py', train=dict(x=1)),
                              dict(config='b.py', train=dict(x=1))])
    bench('20261129_110000', [dict(config='b.py', train=dict(x=2)),
                              dict(config='a.py', error='killed'),
                              dict(config='c.py', error='oom')])
    rows = load_benchmark(str(tmp_path))
    assert rows['a.py']['train'] == dict(x=1)
    assert rows['b.py']['train'] == dict(x=2)
    assert rows['c.py']['error'] == 'oom'
    assert rows['b.py']['environment'] == dict(device='cpu', threads=2)


def test_memory_ratio_against_the_papers():
    from projects.apis.metafiles import MethodIndex
    from projects.benchmark.protocol_report import memory_lines
    bench = {
        osp.normpath(PROTO.method('sais').config):
        dict(train=dict(train_state_mib=800.0, peak_rss_mib=1500.0)),
        osp.normpath(PROTO.method('yolact').config):
        dict(train=dict(train_state_mib=1000.0, peak_rss_mib=1600.0)),
    }
    lines = memory_lines(PROTO, bench, MethodIndex())
    assert len(lines) == 1
    assert lines[0].startswith('- SAIS / YOLACT: training state 800 / 1000 '
                               'MiB = **0.80**; peak memory 1500 / 1600 MiB '
                               '= 0.94; papers 1.8 / 3.8 GB = 0.47')


def test_claims_verdicts_against_the_seed_spread():
    """A claim holds or not by the means; with 2+ seeds on both sides it
    says whether the gap is beyond the summed standard deviations; an
    About claim is judged only with a spread; a missing figure is pending;
    a speed claim adds the accuracy it costs."""
    from projects.apis.metafiles import Claim
    from projects.benchmark.claims import claim_lines, claim_verdict
    from projects.benchmark.tables import ResultRow
    above = Claim('mask AP', 'Above', 'yolact', 'SAIS paper, Table IV')

    def row(*aps, ms=None, state=None):
        return ResultRow(method='m', config='c.py',
                         ap={'segm_mAP': list(aps)},
                         latency=None if ms is None else dict(median=ms),
                         state_mib=state)

    line = claim_verdict(above, 'SAIS', 'YOLACT', row(11, 12, 13),
                         row(8, 9, 10))
    assert line == ('- SAIS mask AP above YOLACT (SAIS paper, Table IV): '
                    '12.0 vs 9.0 (+3.0): **holds**, beyond the seed spread '
                    '(1.0 + 1.0)')
    line = claim_verdict(above, 'SAIS', 'YOLACT', row(9, 10, 11),
                         row(10, 11, 12))
    assert line.endswith('10.0 vs 11.0 (-1.0): **does not hold**, within '
                         'the seed spread (1.0 + 1.0)')
    assert claim_verdict(above, 'SAIS', 'YOLACT', row(12), row(9)).endswith(
        '**holds**, one seed: no spread yet')
    about = Claim('mask AP', 'About', 'solo', 's')
    assert claim_verdict(about, 'D', 'S', row(10, 11), row(10.5, 11.5)
                         ).endswith('**holds**, within the seed spread '
                                    '(0.7 + 0.7)')
    assert claim_verdict(about, 'D', 'S', row(10), row(12)).endswith(
        'not judged')
    memory = Claim('train memory', 'Below', 'yolact', 's')
    assert claim_verdict(memory, 'SAIS', 'YOLACT', row(1, state=800.0),
                         row(1, state=1600.0)).endswith(
        '0.78 GiB vs 1.56 GiB (0.50x): **holds**, one measurement each')
    assert claim_verdict(memory, 'SAIS', 'YOLACT', row(1, state=800.0),
                         None).endswith(
        'pending (YOLACT: no memory-stage benchmark rows yet)')



def test_speed_claim_adds_the_accuracy_it_costs(tmp_path):
    import dataclasses

    from projects.apis.metafiles import MethodIndex
    from projects.benchmark.claims import claim_lines
    proto = dataclasses.replace(P.FERAL_CATS_24E, methods=tuple(
        m for m in P.FERAL_CATS_24E.methods
        if m.key in ('sais', 'sais_rt', 'yolact')))
    out = str(tmp_path)
    run_record(out, 'sais', 0, 0.12)
    run_record(out, 'sais_rt', 0, 0.10)
    bench = {osp.normpath(proto.method(k).config): dict(
        latency_stats=dict(total=dict(median=ms, iqr=1.0)))
        for k, ms in (('sais', 400.0), ('sais_rt', 200.0))}
    lines = claim_lines(proto, load_runs(out), bench, MethodIndex())
    assert '- SAIS-RT ms/img below SAIS' in lines[2]
    assert lines[2].endswith('200 ms vs 400 ms (0.50x): **holds**, one '
                             'measurement each; mask AP 10.0 vs 12.0 (-2.0)')
    assert lines[0].endswith('pending (YOLACT: no runs yet)')


def test_speed_claim_compares_times_from_one_cpu_model_only():
    """Latencies measured on two CPU models (or a CPU and a GPU) are not
    compared: the verdict names both machines instead of a ratio."""
    from projects.apis.metafiles import Claim
    from projects.benchmark.claims import claim_verdict
    from projects.benchmark.tables import ResultRow
    faster = Claim('ms/img', 'Below', 'condinst', 'slides')

    def row(ms, device):
        return ResultRow(method='m', config='c.py', ap={'segm_mAP': [10.]},
                         latency=dict(median=ms), device=device)

    amd = 'cpu (AMD EPYC, AVX2), 2 threads'
    intel = 'cpu (Intel(R) Xeon(R) Processor, AVX512), 2 threads'
    line = claim_verdict(faster, 'CondInst-RT', 'CondInst', row(300., amd),
                         row(400., intel))
    assert line.endswith(f'300 ms vs 400 ms: not compared, measured on '
                         f'different machines ({amd}; {intel})')
    assert claim_verdict(faster, 'CondInst-RT', 'CondInst', row(300., amd),
                         row(400., amd)).endswith(
        '300 ms vs 400 ms (0.75x): **holds**, one measurement each')


def test_converged_report_has_the_claims_section(tmp_path):
    out = str(tmp_path)
    for seed, (a, b) in enumerate([(0.10, 0.02), (0.12, 0.03)]):
        run_record(out, 'sais', seed, a)
        run_record(out, 'yolact', seed, b)
    write_report(P.FERAL_CATS_24E, out)
    text = (tmp_path / 'README.md').read_text()
    assert "### The source documents' claims" in text
    assert ('- SAIS mask AP above YOLACT (SAIS paper, §IV-B, Table IV): '
            '11.0 vs 2.5 (+8.5): **holds**, beyond the seed spread') in text
    write_report(PROTO, out)  # the 200-iteration table ranks nothing
    assert "claims" not in (tmp_path / 'README.md').read_text()


def test_report_of_a_protocol_without_probes_names_its_lr_source(tmp_path):
    """A protocol that reuses another's probed lrs shows no empty probe
    table and no '0 probe runs' cost line: it says where its lrs are from."""
    out = str(tmp_path)
    run_record(out, 'sais', 0, 0.10)
    write_report(P.FERAL_CATS_24E, out)
    text = (tmp_path / 'README.md').read_text()
    assert '## lr probe' not in text and 'probe runs' not in text
    link = osp.relpath(osp.join(ROOT, 'docs/results/feral_cats_cpu',
                                'README.md'), out)
    assert ('No probe of its own: each method trains at the lr its probe '
            f'chose in [feral_cats_cpu]({link}) '
            '(`docs/results/feral_cats_cpu/probe/choice.json`).') in text
    assert '- probes: none (lrs from docs/results/feral_cats_cpu)' in text


def test_separation_needs_two_seeds_a_side():
    from projects.benchmark.tables import separation
    sep = separation([10.0, 12.0], [9.0, 9.0])
    assert (sep.gap, sep.std_a, sep.std_b) == (2.0, math.sqrt(2), 0.0)
    assert sep.beyond  # 2.0 > 1.41 + 0
    assert not separation([10.0, 12.0], [9.0, 11.0]).beyond
    with pytest.raises(ValueError, match='2\\+ seeds a side, got 1 and 2'):
        separation([10.0], [9.0, 11.0])


def test_train_minutes_are_not_averaged_over_machines(tmp_path):
    """A method whose seeds trained on two machines (or precisions) gets
    its training minutes per place, in the order of its "trained on" cell:
    a mean ± std over a bf16 AMX run and an fp32 AVX2 run would describe
    neither."""
    from projects.apis.metafiles import MethodIndex
    from projects.benchmark import tables as T
    out = str(tmp_path)
    places = [('bf16', 'cpu (Intel(R) Xeon(R) Processor, 2 threads)', 43.3),
              ('fp32', 'cpu (AMD EPYC, AVX2, 2 threads)', 121.5),
              ('fp32', 'cpu (AMD EPYC, AVX2, 2 threads)', 118.5)]
    for seed, (precision, device, minutes) in enumerate(places):
        P.RunRecord(method='sais', seed=seed, lr=0.001, config='c.py',
                    device=device, precision=precision,
                    metrics={'coco/segm_mAP': 0.1, 'coco/bbox_mAP': 0.1},
                    curve=[dict(iter=2304, train_s=60 * minutes,
                                segm_mAP=10.0, bbox_mAP=10.0)]).save(
            osp.join(out, 'runs', f'sais_s{seed}', 'run.json'))
    proto = P.PROTOCOLS['feral_cats_24e']
    row = T.protocol_rows(proto, load_runs(out), {}, MethodIndex(), out,
                          'protocol: test')[0]
    cells = {c.header: c.cell(row, out) for c in T.report_columns(proto)}
    assert cells['trained on'] == ('bf16, cpu (Intel(R) Xeon(R) Processor, '
                                   '2 threads); fp32, cpu (AMD EPYC, AVX2, '
                                   '2 threads)')
    assert cells['train min / run'] == '43.3; 120.0 ± 2.1'
    run_record(str(tmp_path / 'one'), 'sais', 0, 0.1)
    run_record(str(tmp_path / 'one'), 'sais', 1, 0.1)
    row = T.protocol_rows(PROTO, load_runs(str(tmp_path / 'one')), {},
                          MethodIndex(), out, 'protocol: test')[0]
    assert T.TRAIN_MIN.cell(row, out) == '10.0 ± 0.0'


def test_train_minutes_of_a_run_resumed_elsewhere_come_last_marked(tmp_path):
    """A run whose parts trained in two places has minutes of neither: its
    group follows the single places (in the "trained on" cell's order)
    and says "mixed", so that no reader takes it for one machine's."""
    from projects.apis.metafiles import MethodIndex
    from projects.benchmark import tables as T
    intel = ('bf16', 'cpu (Intel(R) Xeon(R) Processor, 2 threads)')
    amd = ('fp32', 'cpu (AMD EPYC, AVX2, 2 threads)')
    out = str(tmp_path)
    for seed, (places, minutes) in enumerate([([intel, amd], 80.0),
                                              ([intel], 43.3),
                                              ([amd], 120.0)]):
        P.RunRecord(method='sais', seed=seed, lr=0.001, config='c.py',
                    device=places[-1][1], precision=places[-1][0],
                    metrics={'coco/segm_mAP': 0.1, 'coco/bbox_mAP': 0.1},
                    curve=[dict(iter=2304, train_s=60 * minutes,
                                segm_mAP=10.0, bbox_mAP=10.0)],
                    parts=[dict(precision=p, device=d, wall_s=1.0,
                                ended='finished') for p, d in places]
                    ).save(osp.join(out, 'runs', f'sais_s{seed}',
                                    'run.json'))
    proto = P.PROTOCOLS['feral_cats_24e']
    row = T.protocol_rows(proto, load_runs(out), {}, MethodIndex(), out,
                          'protocol: test')[0]
    assert T.TRAINED_ON.cell(row, out) == ', '.join(intel) + '; ' + \
        ', '.join(amd)
    assert T.TRAIN_MIN.cell(row, out) == '43.3; 120.0; 80.0 (mixed)'


def test_scalars_cut_short_by_a_kill_are_read_up_to_the_cut(tmp_path):
    """A run killed while MMEngine wrote a record leaves half a line; the
    records before it still count, and the resumed run's records too."""
    write_scalars(tmp_path, '20261129_100000', [
        dict(iter=10, step=10, loss=3.0, time=2.0),
        {'coco/segm_mAP': 0.01, 'coco/bbox_mAP': 0.02, 'step': 10}])
    with open(osp.join(tmp_path, '20261129_100000', 'vis_data',
                       'scalars.json'), 'a') as f:
        f.write('{"iter": 20, "step": 20, "lo')
    write_scalars(tmp_path, '20261129_110000', [
        dict(iter=20, step=20, loss=2.0, time=2.0)])
    records = P.read_scalars(str(tmp_path))
    assert [(r.get('iter'), r['step']) for r in records] == [
        (10, 10), (20, 20), (None, 10)]
