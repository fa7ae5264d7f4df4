"""Test (and evaluate) a checkpoint (MMDetection 3.x ``tools/test.py``).

Beyond mmdet's arguments:

* ``--eval bbox segm``: MMDetection 2.x's flag, mapped onto the
  ``metric`` list of the config's CocoMetric; an unknown metric stops with
  the allowed ones;
* ``--format-only``: write COCO result JSON (``<prefix>.bbox.json``,
  ``<prefix>.segm.json``) without evaluating;
* the metrics are written as JSON to ``<work_dir>/<timestamp>/
  test_metrics.json`` (read by tools/benchmark.py ``--ap-from``);
* checkpoints load under torch's ``weights_only=True`` default; one that
  pickles code is refused with its own message
  (``projects.engine.checkpoint.load_safe_checkpoint``), and an existing
  ``--out`` file is never overwritten;
* a checkpoint whose weights do not fit the config (another method or
  class count: tensors of another shape, missing or unexpected keys) stops
  the test before it runs, with the counts, the first keys and the config
  it was trained with (``projects.engine.checkpoint.check_checkpoint_fits``),
  where mmengine would load what fits, log the rest and report AP 0;
* the class names and the test split are checked before the Runner starts,
  as in tools/train.py;
* a model that detects nothing gets COCO's AP table with zeros and a
  warning (``projects.evaluation.empty_results.ZooCocoMetric``), not mmdet's
  ``The testing results of the whole dataset is empty`` and no table;
* ``--precision bf16`` runs the network (backbone, neck, heads' forward)
  under bf16 autocast with post-processing in fp32, ``--channels-last``
  turns conv weights and the backbone's input to channels-last
  (``projects.engine.inference_precision.InferencePrecisionHook`` in
  ``custom_hooks``); both are recorded in ``test_metrics.json``
  (``precision``, ``channels_last``), so that the bf16 mask AP can be set
  against the fp32 one (tools/benchmark.py ``--ap-from`` keeps them apart);
* ``--fuse-conv-bn`` (MMDetection 2.x's flag) folds the network's
  eval-mode BatchNorm layers into their convolutions for the test
  (``projects.layers.conv_bn_fusion.FusedConvBN``, through the same hook),
  recorded as ``fuse_conv_bn``;
* ``--onnx MODEL.onnx`` runs the network (exported from the same config by
  tools/deployment/export_onnx.py, fp32 or int8) in onnxruntime, with the
  same runner, dataloader, post-processing (the heads' ``predict_by_feat``,
  with the checkpoint's weights) and metric
  (``projects.deploy.OrtTestModel`` as ``runner.model``); the file is
  recorded in ``test_metrics.json`` (``onnx``; null without it).
"""
import argparse
import json
import os
import os.path as osp
import sys

from mmengine.config import DictAction

COCO_METRICS = ('bbox', 'segm', 'proposal', 'proposal_fast')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='MMDet test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the directory to save evaluation metrics')
    parser.add_argument(
        '--eval', nargs='+', metavar='METRIC',
        help=f'metrics to evaluate, any of {", ".join(COCO_METRICS)}')
    parser.add_argument(
        '--out', type=str,
        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--format-only', action='store_true',
        help='write COCO result JSON instead of evaluating')
    parser.add_argument(
        '--outfile-prefix',
        help='prefix of the COCO JSON files written by --format-only '
        '(default: <work_dir>/<timestamp>/results)')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='save images with predicted masks drawn, under '
        'work_dir/timestamp/SHOW_DIR')
    parser.add_argument(
        '--show-score-thr', type=float, default=0.3,
        help='draw only detections scoring at least this (default 0.3)')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument(
        '--precision', choices=['fp32', 'bf16'], default='fp32',
        help='bf16: the network under bf16 autocast, post-processing in '
        'fp32 (default fp32)')
    parser.add_argument(
        '--channels-last', action='store_true',
        help='conv weights and the backbone input in channels-last memory')
    parser.add_argument(
        '--fuse-conv-bn', action='store_true',
        help='fold BatchNorm layers into the convs before them (speed)')
    parser.add_argument(
        '--onnx', metavar='MODEL.onnx',
        help='run the network exported from this config in onnxruntime '
        '(post-processing and metric as without it)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if args.onnx and (args.precision != 'fp32' or args.channels_last
                      or args.fuse_conv_bn):
        parser.error('--onnx runs the network in onnxruntime: --precision '
                     'bf16, --channels-last and --fuse-conv-bn apply to the '
                     'PyTorch network only')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _coco_evaluators(cfg):
    ev = cfg.test_evaluator
    evs = ev if isinstance(ev, list) else [ev]
    return [e for e in evs if 'Coco' in str(e.get('type', ''))]


def add_precision_hook(cfg, precision: str, channels_last: bool,
                       fuse_conv_bn: bool = False) -> None:
    """Append ``InferencePrecisionHook`` to ``cfg.custom_hooks`` unless it
    would do nothing (fp32 without channels-last or folding).

    Raises:
        SystemExit: bf16 is not supported on the device the test runs on
            (the reason names the device and its capability).
    """
    if precision == 'fp32' and not channels_last and not fuse_conv_bn:
        return
    import torch

    from projects.engine.inference_precision import (  # noqa: F401 registers
                                                     InferencePrecisionHook, bf16_unsupported_reason)
    if precision == 'bf16':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
        reason = bf16_unsupported_reason(device)
        if reason:
            sys.exit(f'error: --precision bf16: {reason}')
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type='InferencePrecisionHook', precision=precision,
             channels_last=channels_last, fuse_conv_bn=fuse_conv_bn)
    ]
    # the dumped config then imports the hook's module itself
    imports = cfg.get('custom_imports') or dict(imports=[])
    module = 'projects.engine.inference_precision'
    if module not in imports.get('imports', []):
        cfg.custom_imports = dict(
            imports, imports=list(imports.get('imports', [])) + [module])


def main(argv=None):
    args = parse_args(argv)
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from mmdet.engine.hooks.utils import trigger_visualization_hook
    from mmdet.evaluation import DumpDetResults
    from mmdet.utils import setup_cache_size_limit_of_dynamo
    from projects.engine.checkpoint import (CheckpointMismatchError,
                                            UnreadableCheckpointError,
                                            UnsafeCheckpointError,
                                            allow_mmengine_checkpoints,
                                            check_checkpoint_fits,
                                            load_safe_checkpoint)
    from projects.apis.preflight import check_annotated_data
    from projects.apis.run_checks import (ConfigCheckError,
                                          check_model_types, existing_output,
                                          load_tool_config)
    from projects.engine.distributed import setup_cpu_distributed
    from projects.evaluation.empty_results import use_zoo_coco_metric

    setup_cache_size_limit_of_dynamo()
    allow_mmengine_checkpoints()
    if not osp.isfile(args.checkpoint):
        sys.exit(f'error: checkpoint {args.checkpoint!r} not found')
    try:  # pickled code is refused before mmengine opens the file
        checkpoint = load_safe_checkpoint(args.checkpoint)
    except (UnsafeCheckpointError, UnreadableCheckpointError) as e:
        sys.exit(f'error: {e}')
    try:
        cfg = load_tool_config(args.config, args.cfg_options, args.launcher,
                               args.work_dir)
    except ConfigCheckError as e:
        sys.exit(f'error: {e}')
    if args.onnx and not osp.isfile(args.onnx):
        sys.exit(f'error: --onnx {args.onnx!r}: no such file')
    cfg.load_from = args.checkpoint
    # no detection at all gives COCO's table with zeros and a warning
    use_zoo_coco_metric(cfg.get('test_evaluator'))

    if args.eval:
        unknown = [m for m in args.eval if m not in COCO_METRICS]
        if unknown:
            sys.exit(f'error: --eval {" ".join(unknown)}: unknown metric; '
                     f'allowed: {", ".join(COCO_METRICS)}')
        coco = _coco_evaluators(cfg)
        if not coco:
            sys.exit(f'error: {args.config}: --eval needs a CocoMetric in '
                     'test_evaluator')
        for ev in coco:
            ev.metric = list(args.eval)
    if args.format_only:
        for ev in _coco_evaluators(cfg):
            ev.format_only = True
            ev.outfile_prefix = args.outfile_prefix or '__LOG_DIR__'
    add_precision_hook(cfg, args.precision, args.channels_last,
                       args.fuse_conv_bn)
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
        cfg.default_hooks.visualization.score_thr = args.show_score_thr

    try:
        check_model_types(cfg)
        check_annotated_data(cfg, ['test_dataloader'])
        existing_output(args.out)
    except ConfigCheckError as e:
        sys.exit(f'error: {e}')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        sys.exit(f'error: --out {args.out!r}: the dump file must end in .pkl')

    setup_cpu_distributed(cfg)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    from mmengine.model import is_model_wrapper
    detector = runner.model.module if is_model_wrapper(runner.model) \
        else runner.model
    try:  # weights of another method or class count: no AP of them
        check_checkpoint_fits(
            detector, checkpoint, args.checkpoint, args.config,
            (cfg.test_dataloader.dataset.get('metainfo') or {}).get('classes'))
    except CheckpointMismatchError as e:
        sys.exit(f'error: {e}')
    if args.onnx:  # the checkpoint still loads into the wrapped detector
        from projects.deploy.ort_test_model import OrtTestModel
        try:
            runner.model = OrtTestModel(detector, args.onnx)
        except (ValueError, NotImplementedError) as e:
            sys.exit(f'error: --onnx: {e}')
    if args.format_only and not args.outfile_prefix:
        for metric in runner.test_evaluator.metrics:
            if getattr(metric, 'outfile_prefix', None) == '__LOG_DIR__':
                metric.outfile_prefix = osp.join(runner.log_dir, 'results')
    if args.out is not None:
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=args.out))

    metrics = runner.test()
    if runner.rank == 0:
        path = osp.join(runner.log_dir, 'test_metrics.json')
        with open(path, 'w') as f:
            json.dump(
                dict(
                    config=args.config,
                    checkpoint=args.checkpoint,
                    precision=args.precision,
                    channels_last=args.channels_last,
                    fuse_conv_bn=args.fuse_conv_bn,
                    onnx=args.onnx,
                    metrics={k: float(v) if isinstance(v, (int, float))
                             else str(v)
                             for k, v in (metrics or {}).items()}),
                f, indent=2)
        runner.logger.info(f'metrics written to {path}')


if __name__ == '__main__':
    main()
