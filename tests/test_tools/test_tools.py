"""tools/train.py and tools/test.py end to end on the real fruits_nuts images.

One tiny SAIS run (2 iterations) is trained once per session; the tests then
load its checkpoint with tools/test.py, resume it, and check the errors and
the work_dir protection.
"""
import glob
import json
import os
import os.path as osp
import pickle
import signal
import time

import pytest
import torch

from conftest import DATA, ROOT, TINY_CFG, run_tool

# every test here runs a tool in a subprocess: the slow tier
pytestmark = pytest.mark.slow

# conftest's run_tool puts the repository on PYTHONPATH; the tools must not
# need it (``projects`` is an installed package), so these runs clear it.
INSTALLED = dict(PYTHONPATH='')


@pytest.fixture(scope='module')
def trained(tmp_path_factory, fruits_nuts):
    work = str(tmp_path_factory.mktemp('sais_tiny'))
    proc = run_tool('tools/train.py', TINY_CFG, '--work-dir', work,
                    env=INSTALLED)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work


def test_train_writes_checkpoint_with_mmengine_state(trained):
    ckpt = osp.join(trained, 'iter_2.pth')
    assert osp.isfile(ckpt)
    with open(osp.join(trained, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_2.pth')
    # the checkpoint holds what broke stock loading: the message hub's
    # HistoryBuffers; it must still load with weights_only=True
    from projects.engine.checkpoint import allow_mmengine_checkpoints
    allow_mmengine_checkpoints()
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert state['meta']['iter'] == 2
    assert 'log_scalars' in state['message_hub']
    assert any(k.startswith('bbox_head.conv_coeff') for k in state['state_dict'])


def _orphan_dataloader_workers(since: float) -> list:
    """PIDs of live DataLoader workers (``pt_data_worker``) started at or
    after ``since`` (epoch seconds) whose parent is gone (pid 1 adopted
    them)."""
    with open('/proc/stat') as f:
        boot = next(int(line.split()[1]) for line in f
                    if line.startswith('btime'))
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/stat') as f:
                stat = f.read()
        except OSError:
            continue  # ended meanwhile
        comm = stat[stat.index('(') + 1:stat.rindex(')')]
        fields = stat[stat.rindex(')') + 2:].split()  # from field 3, state
        started = boot + int(fields[19]) / os.sysconf('SC_CLK_TCK')
        if (comm == 'pt_data_worker' and fields[0] != 'Z'
                and fields[1] == '1' and started >= since - 1):
            found.append(int(pid))
    return found


def test_training_leaves_no_dataloader_worker_behind(trained):
    """tools/train.py's persistent DataLoader workers end with it. Run by
    the test harness's fork (tests/tool_process.py), a tool that skipped
    Python's exit left them blocked forever on a full result pipe, holding
    the harness's forkserver (~400 MiB) alive after the suite."""
    run_dir, = glob.glob(osp.join(trained, '20*_*'))
    since = time.mktime(time.strptime(osp.basename(run_dir),
                                      '%Y%m%d_%H%M%S'))
    deadline = time.monotonic() + 10  # past the workers' 5 s watchdog
    while (_orphan_dataloader_workers(since)
           and time.monotonic() < deadline):
        time.sleep(0.2)
    left = _orphan_dataloader_workers(since)
    for pid in left:  # do not leave them to the rest of the suite
        os.kill(pid, signal.SIGKILL)
    assert not left, f'DataLoader workers {left} outlived tools/train.py'


def test_test_tool_evaluates_segm_and_writes_outputs(trained, tmp_path):
    ckpt = osp.join(trained, 'iter_2.pth')
    out_pkl = str(tmp_path / 'results.pkl')
    proc = run_tool('tools/test.py', TINY_CFG, ckpt, '--work-dir',
                    str(tmp_path), '--eval', 'bbox', 'segm', '--out', out_pkl,
                    '--show-dir', 'vis', env=INSTALLED)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'Average Precision' in log and 'segm_mAP' in log
    metrics_files = glob.glob(str(tmp_path / '*' / 'test_metrics.json'))
    assert len(metrics_files) == 1
    with open(metrics_files[0]) as f:
        metrics = json.load(f)['metrics']
    assert {'coco/bbox_mAP', 'coco/segm_mAP'} <= set(metrics)
    with open(out_pkl, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 4  # val.json has 4 images
    assert preds[0]['ori_shape'] == (600, 800)
    assert len(glob.glob(str(tmp_path / '*' / 'vis' / '*.jpg'))) == 4
    # an existing --out is never overwritten
    proc = run_tool('tools/test.py', TINY_CFG, ckpt, '--work-dir',
                    str(tmp_path), '--out', out_pkl, env=INSTALLED)
    assert proc.returncode != 0 and 'already exists' in proc.stderr


def test_format_only_writes_coco_json(trained, tmp_path):
    prefix = str(tmp_path / 'coco_results')
    proc = run_tool('tools/test.py', TINY_CFG,
                    osp.join(trained, 'iter_2.pth'), '--work-dir',
                    str(tmp_path), '--format-only', '--outfile-prefix', prefix,
                    env=INSTALLED)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(prefix + '.segm.json') as f:
        segm = json.load(f)
    assert segm and {'image_id', 'category_id', 'segmentation',
                     'score'} <= set(segm[0])
    assert osp.isfile(prefix + '.bbox.json')


def test_unknown_eval_metric_lists_allowed(trained):
    proc = run_tool('tools/test.py', TINY_CFG,
                    osp.join(trained, 'iter_2.pth'), '--eval', 'mAP',
                    env=INSTALLED)
    assert proc.returncode != 0
    assert 'unknown metric' in proc.stderr and 'bbox, segm' in proc.stderr


def test_resume_continues_from_checkpoint(trained, tmp_path):
    proc = run_tool('tools/train.py', TINY_CFG, '--work-dir', str(tmp_path),
                    '--resume', osp.join(trained, 'iter_2.pth'),
                    '--cfg-options', 'train_cfg.max_iters=3', env=INSTALLED)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 2' in log
    assert osp.isfile(tmp_path / 'iter_3.pth')


def _val_steps(work_dir) -> list:
    """Steps of the validation records MMEngine wrote under ``work_dir``
    (a training record has an ``iter`` as well)."""
    records = []
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data',
                                   'scalars.json')):
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip()]
    return sorted(r['step'] for r in records if 'iter' not in r)


@pytest.mark.parametrize('val_interval, logged_before, steps',
                         [(2, False, [2, 3]), (4, False, [3]),
                          (2, True, [2, 3])])
def test_resume_validates_a_point_its_checkpoint_came_before(
        trained, tmp_path, val_interval, logged_before, steps):
    """iter_2.pth is written before the validation at iteration 2 (MMEngine
    checkpoints first). A run stopped in between and resumed validates at
    2 before training on, as the uninterrupted run did (ValidateAtResumeHook);
    where 2 is no validation point, it does not; where an earlier run in
    the work dir logged that validation already, it does not repeat it."""
    if logged_before:  # an earlier part stopped after validating at 2
        earlier = tmp_path / '20260101_000000' / 'vis_data'
        earlier.mkdir(parents=True)
        (earlier / 'scalars.json').write_text(
            json.dumps({'coco/bbox_mAP': 0.0, 'step': 2}) + '\n')
    proc = run_tool('tools/train.py', TINY_CFG, '--work-dir', str(tmp_path),
                    '--resume', osp.join(trained, 'iter_2.pth'),
                    '--cfg-options', 'train_cfg.max_iters=3',
                    f'train_cfg.val_interval={val_interval}',
                    'default_hooks.logger.log_metric_by_epoch=False',
                    env=INSTALLED)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _val_steps(tmp_path) == steps


def test_resume_validates_an_epoch_its_checkpoint_came_before(tmp_path):
    """The same for an epoch-based loop (one 2-image epoch): resumed from
    epoch_1.pth, it validates at epoch 1 and then at epoch 2."""
    cfg = tmp_path / 'epochs.py'
    cfg.write_text(
        f'_base_ = {TINY_CFG!r}\n'
        "train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop',\n"
        '                 max_epochs=1, val_interval=1)\n'
        "train_dataloader = dict(sampler=dict(type='DefaultSampler'),\n"
        '                        dataset=dict(indices=2))\n'
        'val_dataloader = dict(dataset=dict(indices=1))\n'
        'default_hooks = dict(checkpoint=dict(interval=1, by_epoch=True))\n')
    first, resumed = tmp_path / 'first', tmp_path / 'resumed'
    proc = run_tool('tools/train.py', str(cfg), '--work-dir', str(first),
                    env=INSTALLED, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _val_steps(first) == [1]
    proc = run_tool('tools/train.py', str(cfg), '--work-dir', str(resumed),
                    '--resume', str(first / 'epoch_1.pth'), '--cfg-options',
                    'train_cfg.max_epochs=2', env=INSTALLED, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _val_steps(resumed) == [1, 2]


def test_new_run_does_not_overwrite_earlier_checkpoints(trained):
    before = {p: osp.getmtime(p) for p in glob.glob(osp.join(trained, '*'))}
    proc = run_tool('tools/train.py', TINY_CFG, '--work-dir', trained,
                    env=INSTALLED)
    assert proc.returncode != 0
    assert 'already holds checkpoints' in proc.stderr
    after = {p: osp.getmtime(p) for p in glob.glob(osp.join(trained, '*'))}
    assert after == before


def test_tools_run_from_another_directory(trained, tmp_path):
    """tools/test.py evaluates, and tools/train.py checks its config, when
    started from outside the repository with the repository not on
    PYTHONPATH (data paths given absolute: the configs' are relative to
    the repository root, as in mmdet)."""
    data = osp.join(DATA, 'fruits_nuts', '')
    proc = run_tool(osp.join(ROOT, 'tools', 'test.py'), TINY_CFG,
                    osp.join(trained, 'iter_2.pth'), '--work-dir',
                    str(tmp_path / 'test'), '--cfg-options',
                    f'test_dataloader.dataset.data_root={data}',
                    f'test_evaluator.ann_file={data}val.json',
                    cwd=str(tmp_path), env=INSTALLED)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert glob.glob(str(tmp_path / 'test' / '*' / 'test_metrics.json'))
    # the configs' relative data root does not exist here: a clear error
    # naming the key, after the zoo's checks were imported and ran
    proc = run_tool(osp.join(ROOT, 'tools', 'train.py'), TINY_CFG,
                    '--work-dir', str(tmp_path / 'train'), cwd=str(tmp_path),
                    env=INSTALLED)
    assert proc.returncode != 0
    assert 'train_dataloader.dataset.data_root' in proc.stderr, proc.stderr
    assert not (tmp_path / 'train').exists()
