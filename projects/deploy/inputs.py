"""Images to the fixed-shape batch an exported network takes.

The exported graph has one fixed input shape (N, 3, H, W). The config's
test pipeline resizes each image and ``model.data_preprocessor``
normalises and pads the batch to a multiple of its ``pad_size_divisor``;
:func:`pad_batch` then pads it further, bottom and right, to (H, W), with
the preprocessor's own pad value, and records the new shape in the samples'
meta information, so that post-processing crops masks as it would for a
batch the preprocessor had padded to that size.
"""
import copy
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from torch import Tensor, nn

from mmdet.structures import DetDataSample
from mmdet.utils import get_test_pipeline_cfg


def test_pipeline(cfg: Config) -> Compose:
    """The config's test pipeline without ``LoadAnnotations`` (images with
    no annotation file), as mmdet's ``DetInferencer`` uses it.

    Args:
        cfg (Config): a detector config with a ``test_dataloader``.

    Returns:
        Compose: maps ``dict(img_path=...)`` to a packed sample.
    """
    pipeline = [
        t for t in copy.deepcopy(get_test_pipeline_cfg(cfg))
        if t['type'] not in ('LoadAnnotations', 'mmdet.LoadAnnotations')
    ]
    if pipeline[-1].get('meta_keys'):
        pipeline[-1]['meta_keys'] = tuple(
            k for k in pipeline[-1]['meta_keys'] if k != 'img_id')
    return Compose(pipeline)


def fixed_input_shape(cfg: Config) -> Tuple[int, int]:
    """(H, W) in pixels of every image after the config's test pipeline:
    the test ``Resize``'s scale when it does not keep the aspect ratio,
    rounded up to the preprocessor's ``pad_size_divisor``.

    Args:
        cfg (Config): a detector config.

    Returns:
        tuple[int, int]: (H, W).

    Raises:
        ValueError: the test resize keeps the aspect ratio (or there is
            none), so images have no single size; pass a shape instead.
    """
    resize = [t for t in get_test_pipeline_cfg(cfg)
              if t['type'] in ('Resize', 'mmdet.Resize')]
    if len(resize) != 1 or resize[0].get('keep_ratio', False) or \
            'scale' not in resize[0]:
        raise ValueError(
            f'{getattr(cfg, "filename", "config")}: the test pipeline has no '
            'single fixed-size Resize (keep_ratio=False, scale=(W, H)); give '
            'the export shape explicitly (--shape H W)')
    w, h = resize[0]['scale']
    div = cfg.model.get('data_preprocessor', {}).get('pad_size_divisor', 1)
    return (-(-h // div) * div, -(-w // div) * div)


def pad_batch(inputs: Tensor, data_samples: List[DetDataSample],
              shape: Sequence[int],
              pad_value: float = 0.) -> Tuple[Tensor, List[DetDataSample]]:
    """Pad a preprocessed batch bottom and right to ``shape``.

    Args:
        inputs (Tensor): shape (N, 3, h, w), from ``model.data_preprocessor``.
        data_samples (list[DetDataSample]): their samples; their
            ``batch_input_shape`` and ``pad_shape`` are set to ``shape``.
        shape (Sequence[int]): (H, W) with H >= h and W >= w.
        pad_value (float): the preprocessor's ``pad_value`` (0: the padding
            of a normalised batch).

    Returns:
        tuple[Tensor, list[DetDataSample]]: inputs of shape (N, 3, H, W) and
        the same samples.

    Raises:
        ValueError: the batch is larger than ``shape``.
    """
    h, w = inputs.shape[-2:]
    big_h, big_w = int(shape[0]), int(shape[1])
    if h > big_h or w > big_w:
        raise ValueError(f'batch of {h}x{w} pixels does not fit the fixed '
                         f'input of {big_h}x{big_w}: export at a larger '
                         'shape or resize the images smaller')
    inputs = F.pad(inputs, (0, big_w - w, 0, big_h - h), value=pad_value)
    for sample in data_samples:
        sample.set_metainfo(
            dict(batch_input_shape=(big_h, big_w), pad_shape=(big_h, big_w)))
    return inputs, data_samples


def load_batch(model: nn.Module, cfg: Config, image_paths: Sequence[str],
               shape: Optional[Sequence[int]] = None) -> dict:
    """Images through the test pipeline and the data preprocessor, padded
    to ``shape``.

    Args:
        model (nn.Module): the detector (its ``data_preprocessor``).
        cfg (Config): its config (the test pipeline).
        image_paths (Sequence[str]): image files.
        shape (Sequence[int], optional): (H, W) to pad to; None keeps the
            preprocessor's padding.

    Returns:
        dict: ``inputs`` Tensor of shape (N, 3, H, W) and ``data_samples``
        (list[DetDataSample]).

    Raises:
        FileNotFoundError: an image file does not exist.
        ValueError: an image does not fit ``shape``.
    """
    for path in image_paths:
        if not osp.isfile(path):
            raise FileNotFoundError(f'image {path!r}: no such file')
    pipeline = test_pipeline(cfg)
    samples = [pipeline(dict(img_path=p, img_id=i))
               for i, p in enumerate(image_paths)]
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate(samples), False)
    if shape is not None:
        data['inputs'], data['data_samples'] = pad_batch(
            data['inputs'], data['data_samples'], shape,
            model.data_preprocessor.pad_value)
    return data
