"""Checks run by tools/train.py and tools/test.py before the Runner starts.

MMEngine reports a missing annotation file or an unregistered ``type`` deep
inside dataset or registry code, after it has already created the work
directory. These checks fail first, with the config key and the path or value
at fault, and say what to do.
"""
import difflib
import glob
import logging
import os
import os.path as osp
from typing import Iterator, List, Mapping, Optional, Tuple

from mmengine.config import Config

PUBLIC_DATA = {
    'fruits_nuts': 'the public GitHub repository '
    'Tony607/mmdetection_instance_segmentation_demo (data/images/*.jpg and '
    'data/trainval.json; train.json/val.json are the split described in '
    'data/fruits_nuts/SOURCE.md)',
    'feral_cats': 'the public GitHub repository '
    'pcashman21/feral-cat-segmentation-dataset-and-model (valid/ and test/ '
    'of the YOLOv8 export, converted as '
    'data/feral_cats/SOURCE.md describes)',
    'coco-mini': 'the public GitHub repository Obmutescence/COCO-MINI '
    '(COCO 2017 layout)',
    'coco': "COCO 2017 from the COCO project's download page "
    '(train2017, val2017, annotations_trainval2017)',
}


class ConfigCheckError(RuntimeError):
    """A config names data or a model type that cannot be used."""


def _data_hint(root: str) -> str:
    name = osp.basename(osp.normpath(root))
    where = PUBLIC_DATA.get(name, 'its public source')
    return (f'Run `bash tools/setup.sh`, which links ../shared/data to data/ '
            f'when that folder exists, or download {where} and place it at '
            f'{root} (COCO layout: images plus a COCO instance JSON), or '
            f'point the config at another data root (see docs/datasets.md).')


def check_data(cfg: Config, splits: List[str]) -> None:
    """Check that the data roots, annotation files and image folders exist.

    Args:
        cfg (Config): A loaded config.
        splits (list[str]): Dataloader keys to check, e.g.
            ``['train_dataloader', 'val_dataloader']``.

    Raises:
        ConfigCheckError: naming the config key and the missing path.
    """
    for split in splits:
        loader = cfg.get(split)
        if not loader:
            continue
        ds = loader.get('dataset', {})
        while 'dataset' in ds:  # wrappers such as RepeatDataset
            ds = ds['dataset']
        root = ds.get('data_root', '') or ''
        if root and not osp.isdir(root):
            raise ConfigCheckError(
                f'{cfg.filename}: {split}.dataset.data_root={root!r} does '
                f'not exist. ' + _data_hint(root))
        ann = ds.get('ann_file')
        if ann:
            path = ann if osp.isabs(ann) else osp.join(root, ann)
            if not osp.isfile(path):
                raise ConfigCheckError(
                    f'{cfg.filename}: {split}.dataset.ann_file: annotation '
                    f'file {path!r} not found. ' + _data_hint(root or '.'))
        img_dir = (ds.get('data_prefix') or {}).get('img')
        if img_dir:
            path = img_dir if osp.isabs(img_dir) else osp.join(root, img_dir)
            if not osp.isdir(path):
                raise ConfigCheckError(
                    f'{cfg.filename}: {split}.dataset.data_prefix.img: image '
                    f'folder {path!r} not found. ' + _data_hint(root or '.'))


def _types(node, key: str) -> Iterator[Tuple[str, str]]:
    if isinstance(node, dict):
        if isinstance(node.get('type'), str):
            yield key, node['type']
        for k, v in node.items():
            yield from _types(v, f'{key}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _types(v, f'{key}[{i}]')


def check_model_types(cfg: Config) -> None:
    """Check that every ``type`` under ``cfg.model`` is a registered model.

    Only ``backbone``, ``neck``, ``bbox_head``, ``mask_head`` and the model
    itself are checked; losses, coders and layers are built by the heads
    from other registries.

    Raises:
        ConfigCheckError: naming the key, the unknown type and close names.
    """
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    if cfg.get('custom_imports'):
        import importlib
        for name in cfg.custom_imports.get('imports', []):
            importlib.import_module(name)
    known = set(MODELS.module_dict)
    for parent in MODELS.children.values():
        known |= set(parent.module_dict)
    model = cfg.get('model')
    if not model:
        raise ConfigCheckError(f'{cfg.filename}: no `model` key')
    parts = [('model', model)] + [(f'model.{k}', model.get(k)) for k in (
        'backbone', 'neck', 'bbox_head', 'mask_head')]
    for key, node in parts:
        if not isinstance(node, dict) or not isinstance(node.get('type'), str):
            continue
        name = node['type'].split('.')[-1]
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3)
            hint = f' Did you mean {", ".join(close)}?' if close else ''
            raise ConfigCheckError(
                f'{cfg.filename}: {key}.type={node["type"]!r} is not a '
                f'registered model type.{hint}')


#: the offline ResNet-50 init that tools/setup.sh writes (the small-data
#: configs' ``selfsup_init``)
OFFLINE_RESNET50 = 'checkpoints/resnet50_augnet_selfsup.pth'


def _pretrained(node, key: str) -> Iterator[Tuple[str, str]]:
    """``(key, checkpoint)`` of every ``init_cfg`` of type ``Pretrained``
    under ``node`` (dicts and lists of dicts)."""
    if isinstance(node, Mapping):
        init = node.get('init_cfg')
        for i, item in enumerate(init if isinstance(init, list) else [init]):
            if isinstance(item, Mapping) and \
                    item.get('type') == 'Pretrained' and item.get('checkpoint'):
                at = f'{key}.init_cfg' + (f'[{i}]' if isinstance(init, list)
                                          else '')
                yield f'{at}.checkpoint', str(item['checkpoint'])
        for k, v in node.items():
            if k != 'init_cfg':
                yield from _pretrained(v, f'{key}.{k}')
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _pretrained(v, f'{key}[{i}]')


def check_pretrained(cfg: Config) -> None:
    """Check that every ``Pretrained`` init of the model can be loaded
    here, before the Runner builds the model.

    Two cases fail for certain and are refused: ``torchvision://`` weights
    when torchvision is not installed (the zoo's set-up installs none;
    MMEngine then dies with ``ModuleNotFoundError`` deep in its loader),
    and a local file that does not exist. URLs are left to MMEngine (they
    need the internet, which a user may have).

    Raises:
        ConfigCheckError: naming the key, the checkpoint, why it cannot
            load and the offline init to use instead.
    """
    import importlib.util
    offline = (f'use the offline ResNet-50 init that tools/setup.sh writes: '
               f"set that key to '{OFFLINE_RESNET50}' (what the small-data "
               "configs' `_base_.selfsup_init` does, see docs/datasets.md)")
    for key, ckpt in _pretrained(cfg.get('model'), 'model'):
        if ckpt.startswith('torchvision://'):
            if importlib.util.find_spec('torchvision') is None:
                raise ConfigCheckError(
                    f'{cfg.filename}: {key}={ckpt!r} cannot load here: '
                    "MMEngine loads 'torchvision://' weights through "
                    'torchvision, which this set-up does not install, and '
                    f'downloads them from the internet; {offline}, or '
                    "'init_cfg=None' to start from random weights")
        elif '://' not in ckpt and not osp.isfile(ckpt):
            hint = (' (run `bash tools/setup.sh`, which writes it)'
                    if ckpt == OFFLINE_RESNET50 else '')
            raise ConfigCheckError(
                f'{cfg.filename}: {key}={ckpt!r}: no such file{hint}')


def check_work_dir(work_dir: str, resume: bool, overwrite: bool) -> None:
    """Refuse to train over an earlier run's checkpoints.

    A new run in a folder that holds checkpoints would overwrite
    ``iter_N.pth``/``epoch_N.pth`` and ``last_checkpoint`` as it goes, and a
    run that then fails leaves the earlier run destroyed.

    Raises:
        ConfigCheckError: naming the folder and the checkpoints found.
    """
    if resume or overwrite or not osp.isdir(work_dir):
        return
    ckpts = sorted(
        glob.glob(osp.join(work_dir, '*.pth')) +
        glob.glob(osp.join(work_dir, 'last_checkpoint')))
    if ckpts:
        names = ', '.join(osp.basename(c) for c in ckpts[:4])
        raise ConfigCheckError(
            f'work_dir {work_dir!r} already holds checkpoints of an earlier '
            f'run ({names}). Pass --resume to continue it, --work-dir to use '
            f'another folder, or --overwrite to let this run replace them.')


def check_datasets(cfg: Config, splits: List[str], max_listed: int = 20,
                   annotations: Optional[Mapping[str, dict]] = None
                   ) -> list:
    """Run the dataset check (:mod:`projects.apis.dataset_check`) on splits.

    JSON checks always run; images are decoded when a split has at most
    ``cfg.dataset_check.decode_max_images`` images (default 500), else only
    their headers are read, of all of them up to
    ``cfg.dataset_check.header_max_images`` images (default 2000) and of a
    seeded sample of that many beyond (every file is checked to exist).
    Warnings are logged; fatal problems stop.

    Args:
        cfg (Config): a loaded config.
        splits (list[str]): dataloader keys; the first is checked as a
            training split (no annotation at all is fatal) if its key
            starts with ``train``.
        max_listed (int): problems listed in the error message.
        annotations (Mapping[str, dict], optional): annotation files
            already read (:func:`read_annotations`); others are read here.

    Returns:
        list[SplitReport]: one per COCO-format split checked.

    Raises:
        ConfigCheckError: listing the fatal problems with file and field.
    """
    from mmengine.logging import print_log

    from .dataset_check import (DECODE_MAX_IMAGES, HEADER_MAX_IMAGES,
                                check_coco_split, split_paths)
    options = cfg.get('dataset_check') or {}
    limit = options.get('decode_max_images', DECODE_MAX_IMAGES)
    headers = options.get('header_max_images', HEADER_MAX_IMAGES)
    reports, seen = [], set()
    for split in splits:
        paths = split_paths(cfg, split)
        if paths is None or paths in seen:
            continue
        seen.add(paths)
        try:
            report = check_coco_split(
                *paths, decode_max_images=limit,
                for_training=split.startswith('train'),
                coco=(annotations or {}).get(paths[0]),
                header_max_images=headers)
        except ValueError as e:
            raise ConfigCheckError(f'{split}.dataset.ann_file: {e}') from e
        reports.append(report)
        for p in report.warnings[:max_listed]:
            print_log(f'dataset check: {p}', logger='current',
                      level=logging.WARNING)
        fatal = report.fatal
        if fatal:
            more = len(fatal) - max_listed
            lines = [str(p) for p in fatal[:max_listed]]
            if more > 0:
                lines.append(f'... and {more} more')
            raise ConfigCheckError(
                f'{cfg.filename}: {split}: the dataset check found '
                f'{len(fatal)} fatal problem(s) (run `python '
                f'tools/misc/check_dataset.py {cfg.filename}` for the full '
                'report):\n' + '\n'.join(lines))
    return reports


def existing_output(path: str) -> None:
    """Refuse to overwrite a result file.

    Raises:
        ConfigCheckError: naming the file.
    """
    if path and os.path.exists(path):
        raise ConfigCheckError(
            f'{path!r} already exists; choose another output path or move '
            f'the old file away (results are never overwritten).')


def load_tool_config(config: str, cfg_options: Optional[dict], launcher: str,
                     work_dir: Optional[str]) -> Config:
    """Load a config the way tools/train.py and tools/test.py both need it.

    Args:
        config (str): Config file path.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        launcher (str): ``--launcher`` value.
        work_dir (str, optional): ``--work-dir``; default
            ``./work_dirs/<config name>`` unless the config sets one.

    Returns:
        Config: the merged config with ``launcher`` and ``work_dir`` set.

    Raises:
        ConfigCheckError: if the config file does not exist.
    """
    if not osp.isfile(config):
        raise ConfigCheckError(f'config file {config!r} not found')
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    return cfg
