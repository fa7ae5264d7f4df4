"""Train a detector of the zoo (MMDetection 3.x ``tools/train.py`` arguments).

Differences from mmdet's tools/train.py:

* checkpoints written here load under torch's ``weights_only=True`` default
  (``projects.engine.allow_mmengine_checkpoints``), so ``--resume`` and
  tools/test.py work right after training;
* data paths, model types and the work_dir are checked before the Runner
  starts: a bad config stops with the key at fault, and a new run never
  overwrites an earlier run's checkpoints (``--overwrite`` to allow it);
* the class names are checked against the annotation files (or read from
  them) and the heads' ``num_classes`` against them
  (``projects.apis.class_check``), and the train and val splits are checked
  (``projects.apis.dataset_check``): a broken image or annotation stops the
  run before its first iteration, naming the file and the field;
* ``--amp`` trains in mixed precision on the CPU too: bf16 autocast
  (``projects.engine.CPUBf16OptimWrapper``), where mmengine's
  ``AmpOptimWrapper`` (still used on a GPU) needs a GPU;
* ``--channels-last`` trains in fp32 with channels-last convolutions on
  the CPU (``projects.engine.CPUChannelsLastOptimWrapper``), oneDNN's
  native layout;
* ``load_from`` without ``--resume`` (fine-tuning) loads every tensor that
  fits and logs one line with what was skipped and why
  (``projects.engine.FineTuneLoadHook``), instead of mmengine's
  key-by-key mismatch warnings;
* ``--resume`` (auto) takes the newest readable checkpoint, skipping a
  truncated one with a message (``projects.engine.resume``); a checkpoint
  that pickles code is refused in every loading path.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='mixed-precision training: fp16 AmpOptimWrapper on a GPU, '
        'bf16 autocast (CPUBf16OptimWrapper) on the CPU')
    parser.add_argument(
        '--channels-last', action='store_true', default=False,
        help='CPU: channels-last convolutions (CPUChannelsLastOptimWrapper; '
        'with --amp they already are)')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the lr by (processes x batch size) / base_batch_size')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or without a path from the latest '
        'checkpoint in the work directory')
    parser.add_argument(
        '--overwrite', action='store_true',
        help='allow a new run in a work_dir that holds checkpoints')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from mmdet.utils import setup_cache_size_limit_of_dynamo
    from projects.apis.preflight import check_annotated_data
    from projects.apis.run_checks import (ConfigCheckError,
                                          check_model_types,
                                          check_pretrained, check_work_dir,
                                          load_tool_config)
    from projects.engine.checkpoint import (UnreadableCheckpointError,
                                            UnsafeCheckpointError,
                                            allow_mmengine_checkpoints,
                                            load_safe_checkpoint)
    from projects.engine.distributed import setup_cpu_distributed
    from projects.engine.resume import find_resumable_checkpoint

    setup_cache_size_limit_of_dynamo()
    allow_mmengine_checkpoints()
    try:
        cfg = load_tool_config(args.config, args.cfg_options, args.launcher,
                               args.work_dir)
    except ConfigCheckError as e:
        sys.exit(f'error: {e}')

    if args.amp:
        # fp16 AmpOptimWrapper on a GPU (as MMDetection), bf16 autocast on
        # the CPU (mmengine's wrapper refuses to run there)
        import torch

        from projects.engine.inference_precision import \
            PrecisionNotSupportedError
        from projects.engine import enable_amp
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
        try:
            enable_amp(cfg, device)
        except (PrecisionNotSupportedError, ValueError) as e:
            sys.exit(f'error: {args.config}: {e}')
    if args.channels_last:
        import torch

        from projects.engine import enable_channels_last
        try:
            enable_channels_last(
                cfg, 'cuda' if torch.cuda.is_available() else 'cpu')
        except ValueError as e:
            sys.exit(f'error: {args.config}: {e}')
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            sys.exit(f'error: {args.config}: --auto-scale-lr needs '
                     '`auto_scale_lr.base_batch_size` in the config')
        cfg.auto_scale_lr.enable = True

    verified = None  # a checkpoint the resume finder has already loaded
    if args.resume == 'auto':
        # the newest readable checkpoint; a truncated one is skipped with a
        # message (mmengine would follow work_dir/last_checkpoint blindly)
        try:
            found = verified = find_resumable_checkpoint(cfg.work_dir)
        except UnsafeCheckpointError as e:
            sys.exit(f'error: --resume: {e}')
        if found is None:
            print(f'--resume: no readable checkpoint in {cfg.work_dir}; '
                  'starting from scratch')
        cfg.resume = found is not None
        cfg.load_from = found
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            sys.exit(f'error: --resume checkpoint {args.resume!r} not found')
        cfg.resume = True
        cfg.load_from = args.resume
    if cfg.get('resume'):
        # MMEngine checkpoints a validation point before validating there
        # and resumes past it: validate first if the stop came in between
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='ValidateAtResumeHook')]
    if cfg.get('load_from') and cfg.load_from != verified and \
            osp.isfile(cfg.load_from):
        # refuse pickled code with a clear message before mmengine loads it
        try:
            load_safe_checkpoint(cfg.load_from)
        except (UnsafeCheckpointError, UnreadableCheckpointError) as e:
            sys.exit(f'error: {"--resume" if args.resume else "load_from"}: '
                     f'{e}')

    if cfg.get('load_from') and not cfg.get('resume') and \
            '://' not in cfg.load_from:
        # fine-tuning: the fitting tensors load before the first iteration
        # with one summary line, not mmengine's key-by-key warnings
        if not osp.isfile(cfg.load_from):
            sys.exit(f'error: {args.config}: load_from {cfg.load_from!r}: '
                     'no such file')
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='FineTuneLoadHook', checkpoint=cfg.load_from)]
        cfg.load_from = None

    try:
        check_model_types(cfg)
        check_annotated_data(cfg, ['train_dataloader', 'val_dataloader'])
        check_pretrained(cfg)  # after the data: name a missing data first
        check_work_dir(cfg.work_dir, bool(args.resume), args.overwrite)
    except ConfigCheckError as e:
        sys.exit(f'error: {e}')

    setup_cpu_distributed(cfg)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
