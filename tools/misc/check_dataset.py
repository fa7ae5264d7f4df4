"""Check a config's COCO-format dataset before training on it.

Usage::

    python tools/misc/check_dataset.py CONFIG [--split train val test]
        [--decode-max-images N] [--cfg-options k=v ...]

Checks the class names against the annotation files and every head's
``num_classes`` (:mod:`projects.apis.class_check`), then every split
(:mod:`projects.apis.dataset_check`): images exist and decode as the
pipeline decodes them, sizes match the JSON, ids are unique, categories are
declared, polygons have 3 points, boxes lie inside their image with a
positive size, RLE decodes. Prints a summary per split and every problem
with its file and field. Exit status 1 if any problem is fatal (the ones
tools/train.py stops on), else 0. By default every image is decoded here;
tools/train.py decodes only splits of up to 500 images.
"""
import argparse
import sys

from mmengine.config import DictAction

SPLIT_KEYS = dict(train='train_dataloader', val='val_dataloader',
                  test='test_dataloader')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--split', nargs='+', choices=sorted(SPLIT_KEYS),
        default=['train', 'val'], help='splits to check (default: train val)')
    parser.add_argument(
        '--decode-max-images', type=int, default=10**9,
        help='decode the images of splits up to this size, read only the '
        'headers of larger ones (default: decode all)')
    parser.add_argument(
        '--header-max-images', type=int, default=0,
        help='when only headers are read, read those of a sample of this '
        'many images (every file is still checked to exist); 0: all '
        '(default)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the check; return the exit status (1 if a problem is fatal)."""
    args = parse_args(argv)
    from mmdet.utils import register_all_modules

    from projects.apis.class_check import check_classes
    from projects.apis.dataset_check import check_coco_split, split_paths
    from projects.apis.run_checks import (ConfigCheckError, check_data,
                                          load_tool_config)
    register_all_modules()
    keys = [SPLIT_KEYS[s] for s in args.split]
    try:
        cfg = load_tool_config(args.config, args.cfg_options, 'none', None)
        check_data(cfg, keys)
        check_classes(cfg, keys)
    except ConfigCheckError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    fatal = 0
    done = set()
    for key in keys:
        paths = split_paths(cfg, key)
        if paths is None:
            print(f'{key}: no COCO-format dataset, skipped')
            continue
        if paths in done:
            print(f'{key}: same files as above')
            continue
        done.add(paths)
        try:
            report = check_coco_split(
                *paths, decode_max_images=args.decode_max_images,
                for_training=key == 'train_dataloader',
                header_max_images=args.header_max_images or None)
        except ValueError as e:
            print(f'error: {key}.dataset.ann_file: {e}', file=sys.stderr)
            return 1
        print(f'{key}: {report.summary()}')
        for problem in report.problems:
            print(f'  {problem}')
        fatal += len(report.fatal)
    if fatal:
        print(f'{fatal} fatal problem(s): tools/train.py would stop on them',
              file=sys.stderr)
    return int(bool(fatal))


if __name__ == '__main__':
    sys.exit(main())
