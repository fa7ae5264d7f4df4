"""tools/protocol.py: the plan it runs, skipping what is done, subsets.

The tool runs in-process (its ``main``, as ``python tools/protocol.py``
calls it, with its exit status, stdout and stderr); one refusal also runs
as a script in a subprocess (the slow tier)."""
import json
import os
import os.path as osp
import sys
from types import SimpleNamespace

import pytest

from conftest import ROOT, load_script, run_tool


@pytest.fixture(scope='module')
def tool():
    return load_script('tools/protocol.py')


@pytest.fixture
def protocol(tool, capsys, monkeypatch):
    """``protocol(*argv)``: tools/protocol.py's ``main`` started from the
    repository root, as run_tool starts the script; returns its exit
    status, stdout and stderr (as a CompletedProcess has them)."""
    monkeypatch.chdir(ROOT)  # main changes directory: undone after

    def run(*argv):
        capsys.readouterr()
        code = 0
        try:
            tool.main(list(argv))
        except SystemExit as e:
            if isinstance(e.code, str):  # sys.exit(message)
                print(e.code, file=sys.stderr)
                code = 1
            else:
                code = e.code or 0
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    return run


def test_dry_run_plans_the_missing_probes_of_one_method(tmp_path, protocol):
    out, work = tmp_path / 'out', tmp_path / 'work'
    done = out / 'probe' / 'sais_lr0.001.json'
    done.parent.mkdir(parents=True)
    done.write_text(json.dumps(dict(method='sais', lr=0.001, device='cpu',
                                    wall_s=1.0, records=[
        dict(iter=30, loss=2.0), dict(iter=40, loss=1.9)])))
    r = protocol('--stage', 'probe', '--method', 'sais', '--dry-run',
                 '--out', str(out), '--work-root', str(work))
    assert r.returncode == 0, r.stderr
    planned = [ln for ln in r.stdout.splitlines() if 'tools/train.py' in ln]
    assert len(planned) == 2  # 0.001 is done: 0.003 and 0.01 are left
    assert 'sais_lr0.003.py' in planned[0] and 'sais_lr0.01.py' in planned[1]
    assert osp.isfile(out / 'probe' / 'sais_lr0.01.py')


def test_train_without_a_probed_lr_says_so(tmp_path, protocol):
    r = protocol('--stage', 'train', '--method', 'solov2', '--dry-run',
                 '--out', str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert 'solov2: no lr yet (run --stage probe)' in r.stdout


def _refuses_unknown_method(r):
    assert r.returncode == 2
    assert "no method 'no_such_method'" in r.stderr and 'sais, yolact' in r.stderr


def test_unknown_method_is_refused_with_the_known_ones(tmp_path, protocol):
    _refuses_unknown_method(
        protocol('--method', 'no_such_method', '--out', str(tmp_path)))


@pytest.mark.slow
def test_unknown_method_is_refused_by_the_script(tmp_path):
    """The same refusal from ``python tools/protocol.py`` in its own
    process: the script's entry point and its exit status."""
    _refuses_unknown_method(run_tool('tools/protocol.py', '--method',
                                     'no_such_method', '--out',
                                     str(tmp_path)))


def test_amp_trains_bf16_with_another_folders_lrs(tmp_path, protocol):
    probed = tmp_path / 'fp32'
    (probed / 'probe').mkdir(parents=True)
    (probed / 'probe' / 'choice.json').write_text(json.dumps(
        dict(sais=dict(lr=0.003, scores={}))))
    out, work = tmp_path / 'bf16', tmp_path / 'work'
    r = protocol('--stage', 'train', '--method', 'sais', '--seed', '0',
                 '--amp', '--lr-from', str(probed), '--dry-run', '--out',
                 str(out), '--work-root', str(work))
    assert r.returncode == 0, r.stderr
    planned = [ln for ln in r.stdout.splitlines() if 'tools/train.py' in ln]
    assert len(planned) == 1 and planned[0].endswith('--amp')
    assert 'lr=0.003' in (out / 'runs' / 'sais_s0' / 'config.py').read_text()
    r = protocol('--stage', 'train', '--amp', '--lr-from',
                 str(tmp_path / 'nowhere'), '--dry-run')
    assert r.returncode == 2 and 'no probe/choice.json' in r.stderr


def test_fp32_trains_a_bf16_protocol_in_its_own_folders(tmp_path, protocol,
                                                         tool):
    """``--fp32`` runs a bf16 protocol without ``--amp`` (a CPU without
    native bf16) into the protocol's own folders; ``--amp`` with it is
    refused."""
    args = tool.parse_args(['--protocol', 'feral_cats_24e', '--fp32'])
    assert not args.amp and args.precision == 'fp32'
    assert args.out == 'docs/results/feral_cats_24e_cpu'
    assert args.work_root == 'work_dirs/protocol/feral_cats_24e_cpu'
    r = protocol('--protocol', 'feral_cats_24e', '--stage', 'train',
                 '--method', 'sais', '--seed', '1', '--fp32', '--dry-run',
                 '--out', str(tmp_path / 'out'), '--work-root',
                 str(tmp_path / 'work'))
    assert r.returncode == 0, r.stderr
    planned = [ln for ln in r.stdout.splitlines() if 'tools/train.py' in ln]
    assert len(planned) == 1 and '--amp' not in planned[0]
    assert tool.parse_args(['--protocol', 'feral_cats_24e',
                            '--dry-run']).amp
    r = protocol('--protocol', 'feral_cats_24e', '--fp32', '--amp')
    assert r.returncode == 2 and 'not allowed with' in r.stderr
    r = protocol('--protocol', 'feral_cats_24e', '--stage', 'train',
                 '--method', 'sais', '--seed', '1', '--fp32',
                 '--channels-last', '--dry-run', '--out',
                 str(tmp_path / 'out'), '--work-root', str(tmp_path / 'work'))
    assert r.returncode == 0, r.stderr
    planned = [ln for ln in r.stdout.splitlines() if 'tools/train.py' in ln]
    assert len(planned) == 1 and planned[0].endswith('--channels-last')
    r = protocol('--protocol', 'feral_cats_24e', '--channels-last',
                 '--device', 'cuda', '--dry-run')
    assert r.returncode == 2 and '--channels-last: CPU training' in r.stderr


def test_a_bf16_protocol_on_a_cpu_without_bf16_points_to_fp32(
        tmp_path, protocol, tool, monkeypatch):
    """Refused before anything trains, with the CPU's reason and the way
    out, instead of a failed training per run."""
    import projects.engine.inference_precision as ip
    monkeypatch.setattr(ip, 'bf16_unsupported_reason',
                        lambda device: 'this CPU (torch capability AVX2) '
                        'has no native bf16')
    r = protocol('--protocol', 'feral_cats_24e', '--stage', 'train',
                 '--method', 'sais', '--out', str(tmp_path))
    assert r.returncode == 2
    assert 'capability AVX2' in r.stderr and '--fp32' in r.stderr
    assert not list(tmp_path.iterdir())


def test_run_records_name_the_cpu_model_and_its_vector_isa(tool):
    """run.json's device: two machines of one model name can differ in
    their vector ISA (and speed), so it is part of the words."""
    import torch

    from projects.benchmark.roofline import cpu_name
    assert tool.device_words('cpu') == (
        f'cpu ({cpu_name()}, {torch.backends.cpu.get_cpu_capability()}, '
        f'{torch.get_num_threads()} threads)')


def test_a_run_resumed_in_a_later_session_counts_every_part(
        tmp_path, protocol, tool, monkeypatch):
    """A session's end killed the run an hour in, on another machine; the
    run that resumes and finishes it records both parts' wall time and
    where each trained, and the table's "trained on" cell names both."""
    from projects.benchmark import run_parts
    from projects.benchmark.protocol import FERAL_CATS, RunRecord
    from projects.benchmark.tables import plateau_cells
    out, work = tmp_path / 'out', tmp_path / 'work'
    (out / 'probe').mkdir(parents=True)
    (out / 'probe' / 'choice.json').write_text(json.dumps(
        dict(sais=dict(lr=0.001, scores={}))))
    run_work = work / 'runs' / 'sais_s0'
    intel = 'cpu (Intel(R) Xeon(R) Processor, AMX, 2 threads)'
    run_parts.begin_part(str(run_work), intel, 'fp32', 'NCHW', now=1000.0)
    (run_work / 'train.out').write_text('Iter(train) [ 100/200]\n')
    os.utime(run_work / 'train.out', (4600.0, 4600.0))
    (run_work / 'last_checkpoint').write_text('iter_100.pth')

    def finish_the_run(config, work_dir, device, resume, dry_run, flags):
        assert resume and flags == ['--channels-last']
        vis = osp.join(work_dir, '20261207_000000', 'vis_data')
        os.makedirs(vis)
        with open(osp.join(vis, 'scalars.json'), 'w') as f:
            f.write(json.dumps(dict(iter=200, loss=1.0, time=2.0)) + '\n')
            f.write(json.dumps(dict(step=FERAL_CATS.max_iters, **{
                'coco/segm_mAP': 0.05, 'coco/bbox_mAP': 0.06})) + '\n')
        return 120.0

    monkeypatch.setattr(tool, 'train_process', finish_the_run)
    r = protocol('--stage', 'train', '--method', 'sais', '--seed', '0',
                 '--channels-last', '--out', str(out), '--work-root',
                 str(work))
    assert r.returncode == 0, r.stderr
    record = RunRecord.load(str(out / 'runs' / 'sais_s0' / 'run.json'))
    assert [p['ended'] for p in record.parts] == ['killed', 'finished']
    assert record.parts[0] == dict(device=intel, precision='fp32',
                                   layout='NCHW', wall_s=3600.0,
                                   ended='killed')
    assert record.parts[1]['layout'] == 'channels-last'
    here = tool.device_words('cpu')
    assert record.parts[1]['device'] == record.device == here
    assert 3600.0 <= record.wall_s < 3600.0 + 60
    assert plateau_cells(FERAL_CATS, [record])[1] == '; '.join(
        sorted([f'fp32, {intel}', f'fp32, {here}']))
