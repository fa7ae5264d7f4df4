"""The preflight of tools/train.py and tools/test.py: every data check on
one read of each annotation file.

The class check and the dataset check share one parse of each file
(COCO train2017's is 448 MB of JSON); it is dropped before the Runner
builds the dataset, whose ``CocoDataset`` parses the file once more.
What that costs against mmdet's own load: docs/results/startup.
"""
import os.path as osp
from typing import Dict, List

from mmengine.config import Config

from .class_check import check_classes
from .dataset_check import load_coco_json, split_paths
from .run_checks import ConfigCheckError, check_data, check_datasets


def read_annotations(cfg: Config, splits: List[str]) -> Dict[str, dict]:
    """Read each COCO annotation file of ``splits`` once.

    Args:
        cfg (Config): a loaded config.
        splits (list[str]): dataloader keys; splits without a COCO
            ``ann_file`` that exists are skipped.

    Returns:
        dict[str, dict]: annotation file path -> its parsed content, one
        entry per distinct file.

    Raises:
        ConfigCheckError: a file is not a COCO instance JSON; the message
            names the split key and the file.
    """
    annotations: Dict[str, dict] = {}
    for split in splits:
        paths = split_paths(cfg, split)
        if paths is None or paths[0] in annotations or \
                not osp.isfile(paths[0]):
            continue
        try:
            annotations[paths[0]] = load_coco_json(paths[0])
        except ValueError as e:
            raise ConfigCheckError(f'{split}.dataset.ann_file: {e}') from e
    return annotations


def check_annotated_data(cfg: Config, splits: List[str]) -> list:
    """The data checks of tools/train.py and tools/test.py, on one read of
    each annotation file: the paths (:func:`~projects.apis.run_checks.check_data`), the classes
    against the file's categories and the heads
    (:func:`projects.apis.class_check.check_classes`, which may set them)
    and the annotations and images (:func:`~projects.apis.run_checks.check_datasets`). The parsed
    files are dropped on return, before mmdet's dataset reads them.

    Args:
        cfg (Config): a loaded config; edited in place where the class
            check sets classes.
        splits (list[str]): dataloader keys, training split first.

    Returns:
        list[SplitReport]: see
        :func:`~projects.apis.run_checks.check_datasets`.

    Raises:
        ConfigCheckError: the first check that fails, naming the key and
            file at fault.
    """
    check_data(cfg, splits)
    annotations = read_annotations(cfg, splits)
    check_classes(cfg, splits, annotations)
    return check_datasets(cfg, splits, annotations=annotations)
