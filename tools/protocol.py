"""Run the zoo's benchmark protocol (docs/protocol.md), or any part of it.

    python tools/protocol.py [--stage probe train memory report]
        [--method KEY ...] [--seed N ...] [--device cpu|cuda]
        [--protocol feral_cats] [--out docs/results/feral_cats_cpu]
        [--work-root work_dirs/protocol/feral_cats] [--amp | --fp32]
        [--channels-last] [--lr-from DIR] [--dry-run]

Stages, in order (all four by default):

* ``probe``: each method trains ``probe_iters`` iterations at each lr of
  the grid; the lr with the lowest mean training loss over the probe's
  window is the method's lr (:func:`projects.benchmark.protocol.probe_score`).
* ``train``: each method trains its seeds at that lr for the whole budget,
  validated at ``val_at`` (learning curves).
* ``memory``: ``tools/benchmark.py`` on the seed-0 weights of the methods
  not benchmarked yet: latency, FLOPs, training step time, peak memory
  and the training state.
* ``report``: the table (mean ± std over seeds), the curves and the probe
  figures, into ``--out``/README.md.

Every finished piece is skipped when the command is run again: a probe
whose scalars are in ``--out``, a run whose ``run.json`` is there. An
interrupted run resumes from its last checkpoint in ``--work-root``,
also in a later session or on another machine: ``run.json`` sums the wall
time of every part, killed ones included, and its ``parts`` name each
part's device and precision (:mod:`projects.benchmark.run_parts`).
``--amp`` trains in mixed precision (``tools/train.py --amp``: bf16
autocast on the CPU) into its own folders (``..._bf16`` on the CPU,
``..._amp`` on a GPU), and ``run.json`` records it. ``--lr-from`` takes
the probed lrs of another results folder instead of probing again (a bf16
re-run of fp32-probed methods). ``--fp32`` trains in fp32 where the
protocol itself trains in bf16 (``feral_cats_24e``), for a CPU without
native bf16, into the protocol's own folders: ``run.json`` records fp32
and the table's "trained on" column shows it; ``--channels-last`` trains
fp32 in oneDNN's native layout (``tools/train.py --channels-last``; each
part's ``layout`` in ``run.json``). ``--method`` and
``--seed`` run a subset (``--seed`` adds seeds a method does not train
by default). Each training is its own ``tools/train.py``
process; its output goes to ``<work-root>/.../train.out``.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Sequence

from projects.benchmark import protocol as P
from projects.benchmark import run_parts

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

STAGES = ('probe', 'train', 'memory', 'report')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--stage', nargs='+', choices=STAGES, default=STAGES)
    p.add_argument('--protocol', default='feral_cats',
                   choices=sorted(P.PROTOCOLS))
    p.add_argument('--method', nargs='+', metavar='KEY',
                   help='methods to run (default: all)')
    p.add_argument('--seed', nargs='+', type=int, metavar='N',
                   help="seeds to train (default: each method's own)")
    p.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    p.add_argument('--out', help='results folder (default: '
                   'docs/results/<protocol>_<device>)')
    p.add_argument('--work-root', help='checkpoints and MMEngine logs '
                   '(default: work_dirs/protocol/<protocol>_<device>)')
    precision = p.add_mutually_exclusive_group()
    precision.add_argument('--amp', action='store_true',
                           help='train with tools/train.py --amp (bf16 on '
                           'CPU)')
    precision.add_argument('--fp32', action='store_true',
                           help='train in fp32 where the protocol trains in '
                           'mixed precision (a CPU without native bf16); '
                           'same folders, run.json records fp32')
    p.add_argument('--channels-last', action='store_true',
                   help='CPU: train with tools/train.py --channels-last '
                   '(fp32 convolutions in channels-last layout; bf16 '
                   'already is)')
    p.add_argument('--lr-from', metavar='DIR',
                   help="use this results folder's probe/choice.json")
    p.add_argument('--dry-run', action='store_true',
                   help='print what would run, run nothing')
    args = p.parse_args(argv)
    proto = P.PROTOCOLS[args.protocol]
    suffix = args.amp and not proto.amp  # a protocol's own precision
    args.amp = (args.amp or proto.amp) and not args.fp32  # needs no suffix
    args.precision = P.precision_of(args.device, args.amp)
    if args.channels_last and args.device != 'cpu':
        p.error('--channels-last: CPU training only')
    args.train_flags = (['--amp'] if args.amp else []) + (
        ['--channels-last'] if args.channels_last else [])
    args.layout = ('channels-last' if args.channels_last or
                   (args.amp and args.device == 'cpu') else 'NCHW')
    tag = f'{proto.name}_{args.device}' + (
        f'_{args.precision}' if suffix else '')
    args.lr_from = args.lr_from or proto.lr_from
    args.out = args.out or f'docs/results/{tag}'
    args.work_root = args.work_root or f'work_dirs/protocol/{tag}'
    if (args.amp and args.device == 'cpu' and not args.dry_run
            and {'probe', 'train'} & set(args.stage)):
        from projects.engine.inference_precision import \
            bf16_unsupported_reason
        reason = bf16_unsupported_reason('cpu')
        if reason:
            p.error(f'{proto.name} trains in bf16, but {reason}; --fp32 '
                    'trains in fp32 instead (run.json records it)')
    if args.lr_from and not osp.isfile(
            osp.join(REPO, args.lr_from, 'probe', 'choice.json')):
        p.error(f'--lr-from {args.lr_from}: no probe/choice.json there')
    try:
        args.methods = ([proto.method(k) for k in args.method]
                        if args.method else list(proto.methods))
    except KeyError as e:
        p.error(e.args[0])
    return args


def device_words(device: str) -> str:
    """The device in words, for run.json: GPU name, or CPU model, vector
    ISA and torch's thread count (``'cpu (AMD EPYC, AVX2, 2 threads)'``)."""
    import torch

    from projects.benchmark.roofline import cpu_capability, cpu_name
    if device == 'cuda':
        return f'cuda ({torch.cuda.get_device_name(0)})'
    return (f'cpu ({cpu_name()}, {cpu_capability()}, '
            f'{torch.get_num_threads()} threads)')


def train_process(config: str, work_dir: str, device: str, resume: bool,
                  dry_run: bool, flags: Sequence[str] = ()) -> float:
    """Runs ``tools/train.py`` in its own process, with ``flags``
    (``--amp``, ``--channels-last``) added; returns its wall time (s).

    Raises:
        RuntimeError: the training failed; names the log to read.
    """
    cmd = [sys.executable, 'tools/train.py', config, '--work-dir', work_dir]
    if resume:
        cmd.append('--resume')
    cmd += flags
    print('[protocol]', ' '.join(cmd), flush=True)
    if dry_run:
        return 0.0
    env = dict(os.environ)
    if device == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    os.makedirs(work_dir, exist_ok=True)
    log = osp.join(work_dir, 'train.out')
    start = time.time()
    with open(log, 'a') as f:
        rc = subprocess.call(cmd, cwd=REPO, env=env, stdout=f,
                             stderr=subprocess.STDOUT)
    if rc:
        raise RuntimeError(f'{config}: tools/train.py exited with {rc}; '
                           f'see {log}')
    return time.time() - start


def attempt(args, config: str, work_dir: str, resume: bool) -> bool:
    """:func:`train_process`; on failure the error joins ``args.failed``
    (the command goes on with the next run and exits non-zero at the
    end). Returns whether it trained: False when it failed or was a dry
    run."""
    try:
        train_process(config, work_dir, args.device, resume, args.dry_run,
                      args.train_flags)
    except RuntimeError as e:
        args.failed.append(str(e))
        print('[protocol] FAILED:', e, flush=True)
        return False
    return not args.dry_run


def write(path: str, text: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def probe_stage(proto: P.Protocol, args) -> dict:
    """Runs the missing probes; returns ``{method: lr}`` for every method
    whose probes are all done (also written to ``probe/choice.json``)."""
    choice_path = osp.join(args.out, 'probe', 'choice.json')
    choices = P.load_choices(args.out)
    for method in args.methods:
        scores = {}
        for lr in proto.lr_grid:
            name = P.probe_name(method, lr)
            out = osp.join(args.out, 'probe', name + '.json')
            if not osp.isfile(out):
                config = osp.join(args.out, 'probe', name + '.py')
                write(config, P.probe_config(proto, method, lr,
                                             osp.dirname(config), REPO))
                work_dir = osp.join(args.work_root, 'probe', name)
                start, stopped = time.time(), None
                try:
                    wall = train_process(config, work_dir, args.device,
                                         False, args.dry_run,
                                         args.train_flags)
                except RuntimeError as e:
                    # a probe the NaN guard stopped is a result (its lr
                    # diverges), not a failure
                    with open(osp.join(work_dir, 'train.out')) as f:
                        stopped = P.non_finite_stop(f.read())
                    if stopped is None:
                        args.failed.append(str(e))
                        print('[protocol] FAILED:', e, flush=True)
                        continue
                    wall = time.time() - start
                if args.dry_run:
                    continue
                record = dict(method=method.key, lr=lr,
                              device=device_words(args.device),
                              wall_s=round(wall, 1),
                              records=P.read_scalars(work_dir))
                if stopped:
                    record['stopped'] = stopped
                write(out, json.dumps(record, indent=0))
            with open(out) as f:
                scores[lr] = P.probe_record_score(json.load(f),
                                                  proto.probe_window)
        if len(scores) == len(proto.lr_grid):
            choices[method.key] = dict(
                lr=P.pick_lr(scores),
                scores={P.lr_tag(k): v for k, v in scores.items()})
            write(choice_path, json.dumps(choices, indent=1))
            print(f'[protocol] {method.key}: lr {choices[method.key]["lr"]}'
                  f' (probe loss {scores})', flush=True)
    return {k: v['lr'] for k, v in choices.items()}


def train_stage(proto: P.Protocol, args, lrs: dict) -> None:
    """Trains every missing (method, seed) run at its probed lr: every
    method's first seed before any method's second, so that an interrupted
    protocol has a whole table first."""
    todo = []
    for order, method in enumerate(args.methods):
        if method.key not in lrs:
            print(f'[protocol] {method.key}: no lr yet (run --stage probe)',
                  flush=True)
            continue
        todo += [(rank, order, method, seed)
                 for rank, seed in enumerate(args.seed or method.seeds)]
    for _, _, method, seed in sorted(todo, key=lambda t: t[:2]):
        name = P.run_name(method, seed)
        run_dir = osp.join(args.out, 'runs', name)
        if osp.isfile(osp.join(run_dir, 'run.json')):
            continue
        config = osp.join(run_dir, 'config.py')
        write(config, P.train_config(proto, method, lrs[method.key],
                                     seed, run_dir, REPO))
        work_dir = osp.join(args.work_root, 'runs', name)
        resume = osp.isfile(osp.join(work_dir, 'last_checkpoint'))
        device = device_words(args.device)
        part = (None if args.dry_run else
                run_parts.begin_part(work_dir, device, args.precision,
                                     args.layout))
        trained = attempt(args, config, work_dir, resume)
        if part is not None:
            run_parts.end_part(work_dir, part,
                               'finished' if trained else 'failed')
        if not trained:
            continue
        wall_total, parts = run_parts.summary(run_parts.read_parts(work_dir))
        records = P.read_scalars(work_dir)
        metrics = P.final_metrics(records, proto.max_iters)
        if metrics is None:
            raise RuntimeError(f'{work_dir}: no validation at iteration '
                               f'{proto.max_iters} in its scalars')
        write(osp.join(run_dir, 'scalars.json'),
              '\n'.join(json.dumps(r) for r in records) + '\n')
        P.RunRecord(method=method.key, seed=seed, lr=lrs[method.key],
                    config=method.config,
                    device=device, precision=args.precision,
                    metrics=metrics, curve=P.learning_curve(records),
                    wall_s=wall_total, parts=parts,
                    checkpoint=osp.relpath(osp.join(
                        work_dir, f'iter_{proto.max_iters}.pth'),
                        REPO)).save(
                        osp.join(run_dir, 'run.json'))
        kind, key = (('mask', 'segm') if method.masks else ('box', 'bbox'))
        print(f'[protocol] {name}: {kind} AP '
              f'{100 * metrics.get(f"coco/{key}_mAP", 0):.1f}', flush=True)


def memory_stage(proto: P.Protocol, args) -> None:
    """tools/benchmark.py on the seed-0 weights of every selected method
    that has them and no row in ``--out``/memory yet, in one process (its
    models alternate within each timing round), into
    ``--out``/memory/<timestamp>; its AP columns come from the runs'
    ``run.json`` (``--ap-from``)."""
    from projects.benchmark.protocol_report import load_benchmark
    done = load_benchmark(args.out)
    configs, ckpts = [], []
    for method in args.methods:
        ckpt = osp.join(args.work_root, 'runs', P.run_name(method, 0),
                        f'iter_{proto.max_iters}.pth')
        row = done.get(osp.normpath(method.config))
        if row and not row.get('error'):
            continue
        if not osp.isfile(ckpt):
            print(f'[protocol] memory: {method.key} has no seed-0 weights '
                  f'yet ({ckpt})', flush=True)
            continue
        configs.append(method.config)
        ckpts.append(ckpt)
    if not configs:
        return
    cmd = [sys.executable, 'tools/benchmark.py', *configs, '--checkpoint',
           *ckpts, '--device', args.device, '--ap-from',
           osp.join(args.out, 'runs'), '--out-dir',
           osp.join(args.out, 'memory')]
    print('[protocol]', ' '.join(cmd), flush=True)
    if not args.dry_run:
        subprocess.check_call(cmd, cwd=REPO)


def main(argv=None) -> None:
    args = parse_args(argv)
    args.failed = []
    proto = P.PROTOCOLS[args.protocol]
    os.chdir(REPO)
    os.makedirs(args.out, exist_ok=True)
    if args.lr_from:
        lrs = {k: v['lr'] for k, v in P.load_choices(args.lr_from).items()}
    elif 'probe' in args.stage:
        lrs = probe_stage(proto, args)
    else:
        lrs = {k: v['lr'] for k, v in P.load_choices(args.out).items()}
    if 'train' in args.stage:
        train_stage(proto, args, lrs)
    if 'memory' in args.stage:
        memory_stage(proto, args)
    if 'report' in args.stage and not args.dry_run:
        from projects.benchmark.protocol_report import write_report
        print('[protocol] wrote', write_report(proto, args.out,
                                               'docs/protocol.md'),
              flush=True)
    if args.failed:
        sys.exit('[protocol] failed:\n' + '\n'.join(args.failed))


if __name__ == '__main__':
    main()
