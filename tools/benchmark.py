"""Compare methods in one run: the SAIS paper's Table IV for any configs.

    python tools/benchmark.py CONFIG [CONFIG ...] [--checkpoint CKPT ...]
        [--device cpu|cuda] [--ap-from WORK_DIR ...]
        [--out-dir work_dirs/benchmark] [--runs 20] [--warmup 5]
        [--images 4] [--train-steps 5] [--train-warmup 2] [--skip-train]
        [--metafile-root configs] [--precision fp32|bf16]
        [--channels-last] [--compare-bf16] [--fuse-conv-bn]
        [--roofline JSON]
        [--onnx ONNX ...]
    python tools/benchmark.py --render RUN/benchmark.json [--out-dir DIR]

Per config:

* parameters and FLOPs of one whole prediction on the first test image, at
  the config's test input size (mmengine's ``get_model_complexity_info``);
* batch-1 inference time on real test images (the first ``--images`` of the
  config's test set, decoded and resized beforehand): ``--warmup`` runs,
  then ``--runs`` timed rounds; median and interquartile range of the
  total and of backbone+neck, head forward and post-processing (NMS, mask
  assembly, pasting), see :class:`projects.benchmark.StageTimer` and the
  stage map per detector type (:mod:`projects.layers.stage_map`). The
  models alternate within each round so that a drift of the machine's speed
  hits them alike; ``torch.cuda.synchronize`` brackets every timing on GPU;
* training step time and peak training memory, in a separate process per
  config (``projects/benchmark/train_probe.py``): CUDA
  ``max_memory_allocated`` on GPU, peak resident memory on CPU; and, the
  same on every device, the training state of one more step at the
  config's batch size: the tensors autograd holds for backward at the end
  of the forward + trainable parameters + gradients + optimizer state, MiB
  (:mod:`projects.benchmark.saved_memory`);
* box and mask AP from tools/test.py's ``test_metrics.json`` under the
  ``--ap-from`` work dirs (newest fp32 one of the config, preferring the
  benchmarked checkpoint; a bf16 one, ``tools/test.py --precision bf16``,
  goes to the precision table). An empty metrics dict (mmdet's CocoMetric
  when nothing was detected) counts as AP 0. No AP is ever typed in;
* ``--precision``/``--channels-last``: the precision and layout of the
  main timing (:class:`projects.engine.inference_precision.
  InferencePrecision`: the network in bf16 autocast, post-processing in
  fp32); ``--compare-bf16`` also times fp32, bf16 and bf16 channels-last
  in the same rounds and adds the precision table (fp32 ms, bf16 ms in the
  faster layout, ORT ms, the network's GMAC/s and its % of the machine's
  fp32 conv peak: ``--roofline`` JSON of tools/analysis/cpu_roofline.py,
  else measured on CPU at the start); ``--onnx``, one ONNX file per config
  (``none`` to skip), times ONNX Runtime (``projects.deploy.OrtDetector``)
  in the same rounds (:mod:`projects.benchmark.precision`);
  ``--fuse-conv-bn`` also times each of those variants with BatchNorm
  folded into the convs (``+fused``, ``projects.layers.conv_bn_fusion``); the
  precision table's bf16 cell is the fastest bf16 variant, and its bf16 AP
  comes from a ``tools/test.py --precision bf16`` record folded alike
  (``--fuse-conv-bn``).

``--checkpoint`` gives one checkpoint per config, in order (``none`` for a
seeded random init). A checkpoint whose weights do not fit its config
stops the benchmark before any timing (``CheckpointMismatchError``: no
figure of half-loaded weights). A config that fails to load, build or run
otherwise gets its error in its row; the other rows complete. Method names come from the
metafiles (``--metafile-root``/*/metafile.yml, see
:mod:`projects.apis.metafiles`), and so do the papers' figures.

Writes to ``--out-dir/<timestamp>/`` (earlier runs are kept):
``benchmark.md`` (Table IV, the latency breakdown and the headline ratios:
for every pair of methods whose papers report a peak training memory, the
measured ratio at the same input size against the papers', with the
training state's ratio next to it, and per method
(head + post-processing) / backbone+neck time), ``benchmark.json`` (every
raw timing) and ``latency_vs_mask_ap.png``.

``--render JSON`` runs nothing: it writes ``benchmark.md`` and the plot of
that run again, to ``--out-dir`` (default: the JSON's folder), with the
method names the metafiles give each row's config now.
"""
import argparse
import contextlib
import datetime
import io
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import tempfile
import traceback

DEFAULT_OUT_DIR = 'work_dirs/benchmark'


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module doc); exits with status 2 and a
    message on a wrong one."""
    p = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('configs', nargs='*', metavar='CONFIG')
    p.add_argument('--render', metavar='JSON',
                   help="write a run's benchmark.md and plot again from its "
                   'benchmark.json, running nothing')
    p.add_argument('--metafile-root', metavar='DIR',
                   help='folder of <method>/metafile.yml (default: the '
                   "repository's configs/)")
    p.add_argument('--checkpoint', nargs='+', metavar='CKPT',
                   help='one per config, in order; "none": random weights')
    p.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    p.add_argument('--ap-from', nargs='+', default=[], metavar='WORK_DIR',
                   help='work dirs (or files) holding tools/test.py '
                   'test_metrics.json')
    p.add_argument('--out-dir', help=f'default: {DEFAULT_OUT_DIR}/<time>; '
                   "with --render, the JSON's folder")
    p.add_argument('--runs', type=int, default=20,
                   help='timed inference rounds (default 20)')
    p.add_argument('--warmup', type=int, default=5,
                   help='untimed inference runs per config first')
    p.add_argument('--images', type=int, default=4,
                   help='test images cycled through (default 4)')
    p.add_argument('--train-steps', type=int, default=5,
                   help='timed training steps (default 5)')
    p.add_argument('--train-warmup', type=int, default=2,
                   help='untimed training steps first (default 2)')
    p.add_argument('--train-timeout-s', type=float, default=1800.,
                   help='wall-clock limit of each training process, s')
    p.add_argument('--skip-train', action='store_true')
    p.add_argument('--seed', type=int, default=0,
                   help='seed of random weights (checkpoint "none")')
    p.add_argument('--precision', choices=['fp32', 'bf16'], default='fp32',
                   help='main timing: the network in bf16 autocast '
                   '(post-processing fp32); default fp32')
    p.add_argument('--channels-last', action='store_true',
                   help='main timing: channels-last conv weights and input')
    p.add_argument('--compare-bf16', action='store_true',
                   help='also time fp32, bf16 and bf16 channels-last; add '
                   'the precision table')
    p.add_argument('--fuse-conv-bn', action='store_true',
                   help='also time each variant with BatchNorm folded into '
                   'the convs (+fused)')
    p.add_argument('--roofline', metavar='JSON',
                   help='tools/analysis/cpu_roofline.py output for "%% of '
                   'fp32 peak" (default: measure the conv case first)')
    p.add_argument('--onnx', nargs='+', metavar='ONNX',
                   help='one per config ("none": skip): time ONNX Runtime')
    args = p.parse_args(argv)
    if args.render and args.configs:
        p.error('--render takes no CONFIG: it re-renders the run in JSON')
    if not args.render and not args.configs:
        p.error('give at least one CONFIG (or --render JSON)')
    if args.checkpoint and len(args.checkpoint) != len(args.configs):
        p.error(f'--checkpoint: {len(args.checkpoint)} given for '
                f'{len(args.configs)} configs; give one per config '
                '("none" for random weights)')
    if args.onnx and len(args.onnx) != len(args.configs):
        p.error(f'--onnx: {len(args.onnx)} given for {len(args.configs)} '
                'configs; give one per config ("none" to skip)')
    if args.roofline and not osp.isfile(args.roofline):
        p.error(f'--roofline {args.roofline}: no such file')
    for name in ('runs', 'images', 'train_steps'):
        if getattr(args, name) < 1:
            p.error(f'--{name.replace("_", "-")} must be at least 1')
    return args


def _error(e: BaseException) -> str:
    """The exception's type and the first line of its message (which, for
    the zoo's, mmengine's and the OS's errors, names the file or key at
    fault), at most 300 characters: one table cell."""
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ''
    return f'{type(e).__name__}: {msg}'[:300]


def prepare(row: dict, args, index) -> dict:
    """Load the config, build the model and the test images, count FLOPs
    and warm up; fills ``row`` (its method from the metafiles ``index``)
    and returns the live state for timing."""
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from projects.benchmark import StageTimer, build_model, complexity
    from projects.benchmark.models import describe

    if not osp.isfile(row['config']):
        raise FileNotFoundError(f"config {row['config']}: no such file")
    cfg = Config.fromfile(row['config'])
    row['method'], row['backbone'] = describe(
        cfg, osp.abspath(row['config']), index)
    model = build_model(cfg, row['checkpoint'], args.device,
                        seed=args.seed).eval()
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools' chatter
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    n = min(args.images, len(dataset))
    if n == 0:
        raise ValueError(f"{row['config']}: test_dataloader.dataset is empty")
    batches = [pseudo_collate([dataset[i]]) for i in range(n)]
    h, w = batches[0]['data_samples'][0].img_shape[:2]
    row['input_size'] = f'{w}x{h}'
    row['images'] = [osp.basename(b['data_samples'][0].img_path)
                     for b in batches]
    try:
        row['complexity'] = complexity(model, batches[0])
    except Exception as e:  # FLOPs are one cell; the row goes on
        row['complexity_error'] = _error(e)
    from projects.benchmark.precision import load_ort, time_once
    state = dict(timer=StageTimer(model, args.device), batches=batches,
                 model=model, variants=[row['variant'], *row['variants']])
    if row.get('ort'):
        try:
            state['ort'] = load_ort(model, row['ort']['onnx'])
        except Exception as e:  # the ORT cell says so; the row goes on
            row['ort_error'] = _error(e)
    for i in range(args.warmup):
        time_once(state, None, batches[i % n], reverse=i % 2 == 1)
    return state


def time_rounds(rows: dict, live: dict, args, progress) -> None:
    """``--runs`` rounds; each runs every live config once on its next
    image, in alternating order."""
    from projects.benchmark.precision import time_once

    names = list(live)
    for r in progress(range(args.runs), desc='timing rounds', leave=False):
        for name in (names if r % 2 == 0 else names[::-1]):
            if name not in live:
                continue
            row, state = rows[name], live[name]
            try:
                time_once(state, row, state['batches'][r % len(
                    state['batches'])], reverse=r % 2 == 1)
            except Exception as e:
                row['error'] = f'timing: {_error(e)}'
                live.pop(name)['timer'].close()


def train(row: dict, args) -> None:
    """Training step time and peak memory in a separate process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = osp.join(tmp, 'train.json')
        cmd = [sys.executable, '-m', 'projects.benchmark.train_probe',
               row['config'], out, '--device', args.device, '--warmup',
               str(args.train_warmup), '--steps', str(args.train_steps)]
        if row['checkpoint']:
            cmd += ['--checkpoint', row['checkpoint']]
        try:
            proc = subprocess.run(cmd, capture_output=True,
                                  text=True, timeout=args.train_timeout_s)
        except subprocess.TimeoutExpired:
            row['train_error'] = (f'did not finish in '
                                  f'{args.train_timeout_s:.0f} s')
            return
        if proc.returncode != 0 or not osp.isfile(out):
            lines = proc.stderr.strip().splitlines()
            errors = [ln for ln in lines if 'Error' in ln] or lines or \
                [f'exit status {proc.returncode}']
            row['train_error'] = errors[-1].strip()[:300]
            return
        with open(out) as f:
            row['train'] = json.load(f)


def environment(args) -> dict:
    """Versions, device, CPU model, vector ISA and thread count, for the
    report."""
    import mmcv
    import mmdet
    import mmengine
    import torch

    from projects.benchmark.roofline import cpu_capability, cpu_name
    env = dict(python=platform.python_version(), torch=torch.__version__,
               mmcv=mmcv.__version__, mmdet=mmdet.__version__,
               mmengine=mmengine.__version__, device=args.device,
               threads=torch.get_num_threads(), cpu=cpu_name(),
               cpu_capability=cpu_capability())
    # PyTorch's CPU allocator: transparent huge pages for buffers >= 2 MiB
    # when set (read once per process, so it holds for every row)
    if os.environ.get('THP_MEM_ALLOC_ENABLE'):
        env['thp_mem_alloc'] = os.environ['THP_MEM_ALLOC_ENABLE']
    if args.device == 'cuda':
        env['gpu'] = torch.cuda.get_device_name(0)
    return env


def rerender(args) -> str:
    """``--render``: benchmark.md and the plot of a run again, from its
    JSON; returns the output folder.

    Exits with a message when the JSON cannot be read or a metafile is
    malformed.
    """
    from projects.benchmark import MetafileError, MethodIndex
    from projects.benchmark.render import MARKDOWN, PLOT, render
    from projects.benchmark.render import rename_methods

    try:
        with open(args.render) as f:
            data = json.load(f)
        index = MethodIndex(args.metafile_root)
    except (OSError, ValueError) as e:  # MetafileError is a ValueError
        kind = 'metafile' if isinstance(e, MetafileError) else '--render'
        sys.exit(f'error: {kind}: {e}')
    if not isinstance(data, dict) or 'rows' not in data:
        sys.exit(f'error: --render {args.render}: not a benchmark.json')
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.render))
    os.makedirs(out_dir, exist_ok=True)
    kept = rename_methods(data['rows'], index)
    if kept:
        print('method name as stored in the JSON (config in no metafile and '
              'not loadable): ' + ', '.join(kept), file=sys.stderr)
    md, _, _ = render(data, out_dir, index)
    print(md)
    print(f'written: {osp.join(out_dir, MARKDOWN)}, {osp.join(out_dir, PLOT)}')
    return out_dir


def main(argv=None) -> str:
    """Run the benchmark, or re-render one with ``--render``; returns the
    output folder (see the module doc)."""
    args = parse_args(argv)
    if args.render:
        return rerender(args)
    import logging

    import torch
    from mmdet.utils import register_all_modules
    from mmengine.logging import MMLogger
    from tqdm import tqdm

    import projects  # noqa: F401  (registers the zoo's modules)
    from projects.benchmark import (STAGES, MetafileError, MethodIndex,
                                    find_test_metrics, match_record, render)
    from projects.benchmark.precision import (best_bf16, new_row_fields,
                                              summarise_variants,
                                              variants_to_time)
    from projects.benchmark.report import stats
    from projects.benchmark.roofline import measure
    from projects.engine.checkpoint import CheckpointMismatchError

    if args.device == 'cuda' and not torch.cuda.is_available():
        sys.exit('error: --device cuda: torch sees no CUDA device')
    try:
        records = find_test_metrics(args.ap_from)
        index = MethodIndex(args.metafile_root)
    except (FileNotFoundError, MetafileError) as e:
        sys.exit(f'error: {e}')
    register_all_modules()
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    stamp = datetime.datetime.now().strftime('%Y%m%d_%H%M%S')
    out_dir = osp.join(args.out_dir or DEFAULT_OUT_DIR, stamp)
    os.makedirs(out_dir, exist_ok=False)

    def progress(it, **kw):
        return tqdm(it, file=sys.stderr, dynamic_ncols=True, **kw)

    roofline = None
    if args.roofline:
        with open(args.roofline) as f:
            roofline = json.load(f)
    elif args.compare_bf16 and args.device == 'cpu':
        roofline = measure(('conv3x3', ), note='measured by tools/benchmark.py'
                           ' before the configs')
    rows, live = {}, {}
    ckpts = args.checkpoint or [None] * len(args.configs)
    onnxs = args.onnx or [None] * len(args.configs)
    for config, ckpt, onnx in progress(
            list(zip(args.configs, ckpts, onnxs)),
            desc='configs: build, FLOPs, warm-up'):
        ckpt = None if ckpt in (None, 'none') else ckpt
        onnx = None if onnx in (None, 'none') else onnx
        name = osp.splitext(osp.basename(config))[0]
        while name in rows:
            name += "'"
        row = rows[name] = dict(
            name=name, config=config, checkpoint=ckpt,
            latency_ms={s: [] for s in STAGES}, detections=[],
            **new_row_fields(variants_to_time(
                args.precision, args.channels_last, args.compare_bf16,
                args.fuse_conv_bn), onnx))
        try:
            live[name] = prepare(row, args, index)
        except CheckpointMismatchError as e:  # no figure of such weights
            sys.exit(f'error: {e}')
        except Exception as e:
            row['error'] = _error(e)
            row['traceback'] = traceback.format_exc()
        ap = match_record(config, ckpt, records)
        if ap:
            row['ap'] = ap

    time_rounds(rows, live, args, progress)
    for state in live.values():
        state['timer'].close()
    live.clear()
    for row in rows.values():
        row['latency_stats'] = {
            k: stats(v) for k, v in row['latency_ms'].items() if v}
        summarise_variants(row)
        # the bf16 AP of the fastest bf16 variant's kind (BN folded or not)
        variant, _ = best_bf16(row)
        ap = match_record(row['config'], row['checkpoint'], records,
                          precision='bf16', fuse_conv_bn=bool(
                              variant and variant.endswith('+fused')))
        if ap:
            row['ap_bf16'] = ap

    if not args.skip_train:
        for row in progress([r for r in rows.values() if not r.get('error')],
                            desc='configs: training step'):
            train(row, args)

    command = 'python tools/benchmark.py ' + ' '.join(
        argv if argv is not None else sys.argv[1:])
    data = dict(command=command, time=stamp, environment=environment(args),
                settings=vars(args), rows=list(rows.values()))
    if roofline:
        data['roofline'] = roofline
    md, ratios, left_out = render(data, out_dir, index)
    with open(osp.join(out_dir, 'benchmark.json'), 'w') as f:
        json.dump(dict(data, memory_ratios=ratios, plot_left_out=left_out),
                  f, indent=1)
    print(md)
    print(f'written: {out_dir}/benchmark.md, benchmark.json, '
          'latency_vs_mask_ap.png')
    return out_dir


if __name__ == '__main__':
    main()
