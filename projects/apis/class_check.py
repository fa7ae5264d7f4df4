"""Check that a config's class names and heads match its COCO files.

mmdet's ``CocoDataset`` keeps only the annotations whose category is named
in ``metainfo.classes`` (default: COCO's 80 names), without a word: a new
dataset whose class names never reached the config trains on nothing or
dies in mmengine with ``need at least one array to concatenate``
(mmdet issues 10949 and 2744), and a head left at ``num_classes=80``
learns 79 classes that never occur. :func:`check_classes` runs before the
Runner starts:

* classes given that name none, or only some, of the file's categories (or
  names the file lacks, or the file's names in another order: labels follow
  the file's order) stop with both lists and the annotations dropped;
* no classes given and a file whose categories are not COCO's: the classes
  are read from the file and set on the datasets and every head;
* a head whose ``num_classes`` differs from the number of classes stops
  with the config key to change.

Heads are found generically: every dict under ``cfg.model`` whose key ends
in ``head`` and whose type takes ``num_classes`` (the config value, else the
class default). Class-agnostic heads (RPN) are skipped.
"""
import inspect
import os.path as osp
from collections import Counter
from typing import Iterator, List, Mapping, Optional, Sequence, Tuple

from mmengine.logging import print_log

from .dataset_check import coco_dataset_cfg, load_coco_json, split_paths
from .run_checks import ConfigCheckError

SPLITS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _head_default(node: dict) -> Optional[int]:
    from mmdet.registry import MODELS
    kind = node.get('type')
    cls = MODELS.get(kind.split('.')[-1]) if isinstance(kind, str) else kind
    if not isinstance(cls, type):
        return None
    param = inspect.signature(cls.__init__).parameters.get('num_classes')
    if param is None or param.default is inspect.Parameter.empty:
        return None
    return param.default


def class_heads(model: dict, key: str = 'model'
                ) -> Iterator[Tuple[str, dict, int]]:
    """The heads of a model config that predict the dataset's classes.

    Args:
        model (dict): ``cfg.model`` or a node below it.
        key (str): the config key of ``model``.

    Yields:
        tuple[str, dict, int]: the key (``'model.roi_head.bbox_head'``),
        the head's config node, and its ``num_classes`` (set, or the
        class default).
    """
    for k, node in model.items():
        if not isinstance(node, dict):
            continue
        sub = f'{key}.{k}'
        if k.endswith('head') and 'rpn' not in k.lower() and 'RPN' not in \
                str(node.get('type', '')):
            num = node.get('num_classes', _head_default(node))
            if isinstance(num, int):
                yield sub, node, num
        yield from class_heads(node, sub)


def _coco_classes() -> Tuple[str, ...]:
    from mmdet.datasets import CocoDataset
    return tuple(CocoDataset.METAINFO['classes'])


def _given_classes(ds: dict) -> Optional[Tuple[str, ...]]:
    meta = ds.get('metainfo') or {}
    classes = meta.get('classes')
    return tuple(classes) if classes is not None else None


def _compare(split: str, ann_file: str, given: Sequence[str],
             coco: dict, allow_subset: bool) -> Optional[str]:
    """The error message if ``given`` does not fit the file, else None."""
    names = [c['name'] for c in coco['categories']]
    unknown = [c for c in given if c not in names]
    left_out = [c for c in names if c not in given]
    kept = [c for c in names if c in given]
    if not unknown and (not left_out or allow_subset) and \
            kept == list(given):
        return None
    ids = {c['id'] for c in coco['categories'] if c['name'] in left_out}
    per_cat = Counter(a.get('category_id') for a in coco['annotations'])
    dropped = sum(per_cat[i] for i in ids)
    msg = (f'{split}.dataset.metainfo.classes={tuple(given)} but {ann_file} '
           f'declares the categories {tuple(names)}')
    if unknown:
        msg += f'; not in the file: {tuple(unknown)}'
    if left_out:
        msg += (f'; left out: {tuple(left_out)}, so {dropped} of '
                f'{len(coco["annotations"])} annotations would be dropped')
    if not unknown and not left_out:
        msg += ('; mmdet numbers labels in the file\'s order, so list them '
                f'as {tuple(kept)}')
    msg += ('. Set metainfo.classes to the file\'s category names (or drop '
            'metainfo.classes to read them from the file)')
    if left_out and not unknown:
        msg += (', or set `dataset_check = dict(allow_class_subset=True)` '
                'to train on a subset on purpose')
    return msg + '.'


def _set_classes(cfg, split: str, ds: dict, ann_file: str,
                 coco: dict) -> Tuple[str, ...]:
    classes = tuple(c['name'] for c in coco['categories'])
    meta = dict(ds.get('metainfo') or {})
    meta['classes'] = classes
    ds['metainfo'] = meta
    word = 'category' if len(classes) == 1 else 'categories'
    print_log(f'{split}: no metainfo.classes in {cfg.filename}; {ann_file} '
              f'declares {len(classes)} {word}, not COCO\'s: using '
              f'classes={classes}', logger='current')
    return classes


def check_classes(cfg, splits: Sequence[str] = SPLITS,
                  annotations: Optional[Mapping[str, dict]] = None
                  ) -> Optional[tuple]:
    """Check (and where none are given, set) classes and head sizes.

    Edits ``cfg`` in place when it reads classes from a file: the split's
    ``metainfo.classes`` and, with the first split's classes, every head's
    ``num_classes``. Splits without an existing COCO annotation file are
    skipped.

    Args:
        cfg (Config): a loaded config; ``cfg.dataset_check.
            allow_class_subset`` (default False) allows classes that name
            only some of a file's categories.
        splits (Sequence[str]): dataloader keys; the first one found gives
            the number of classes the heads must predict.
        annotations (Mapping[str, dict], optional): annotation files
            already read (path -> COCO dict, as
            :func:`projects.apis.run_checks.read_annotations` returns);
            a file not in it is read here.

    Returns:
        tuple[str] | None: the classes of the first split found.

    Raises:
        ConfigCheckError: naming the split, the file, both class lists and
            the annotations dropped; or the head key and value to change.
    """
    allow_subset = bool((cfg.get('dataset_check') or {}).get(
        'allow_class_subset', False))
    first = None
    auto = False
    for split in splits:
        paths = split_paths(cfg, split)
        if paths is None or not osp.isfile(paths[0]):
            continue
        ds = coco_dataset_cfg(cfg, split)
        coco = (annotations or {}).get(paths[0])
        if coco is None:
            try:
                coco = load_coco_json(paths[0])
            except ValueError as e:
                raise ConfigCheckError(
                    f'{split}.dataset.ann_file: {e}') from e
        given = _given_classes(ds)
        names = tuple(c['name'] for c in coco['categories'])
        if given is None:
            if set(names) == set(_coco_classes()):
                given = _coco_classes()
            else:
                given = _set_classes(cfg, split, ds, paths[0], coco)
                auto = auto or first is None
        else:
            msg = _compare(split, paths[0], given, coco, allow_subset)
            if msg:
                raise ConfigCheckError(f'{cfg.filename}: {msg}')
        if first is None:
            first = given
    if first is not None:
        check_num_classes(cfg, first, fix=auto)
    return first


def check_num_classes(cfg, classes: Sequence[str], fix: bool = False
                      ) -> List[str]:
    """Check every class head's ``num_classes`` against ``classes``.

    Args:
        cfg (Config): a loaded config with a ``model``.
        classes (Sequence[str]): the dataset's classes.
        fix (bool): set the heads instead of stopping (used when the
            classes were read from the annotation file).

    Returns:
        list[str]: the keys of the heads that were set.

    Raises:
        ConfigCheckError: ``model.bbox_head.num_classes=80, but the dataset
            has 1 class ('cat',): set model.bbox_head.num_classes=1``.
    """
    changed = []
    n = len(classes)
    for key, node, num in class_heads(cfg.get('model') or {}):
        if num == n:
            continue
        if fix:
            node['num_classes'] = n
            changed.append(key)
            continue
        word = 'class' if n == 1 else 'classes'
        raise ConfigCheckError(
            f'{cfg.filename}: {key}.num_classes={num}, but the dataset has '
            f'{n} {word} {tuple(classes)}: set {key}.num_classes={n}')
    if changed:
        print_log(f'set num_classes={n} on {", ".join(changed)}',
                  logger='current')
    return changed
