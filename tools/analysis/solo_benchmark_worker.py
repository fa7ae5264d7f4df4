"""One run of ``tools/analysis/benchmark_solo.py``: one SOLO head at one
input size, in a process of its own.

    python tools/analysis/solo_benchmark_worker.py HEAD SIZE CONFIG IMAGE OUT
        [--init] [--mem-cap-gib 16]

Builds the detector of CONFIG (mmdet's ``solo_r50_fpn_1x_coco`` or
``solov2_r50_fpn_1x_coco``) with ``model.mask_head.type=HEAD`` and no
pretrained backbone (seed 0, so every head gets the same weights), resizes
IMAGE to SIZE x SIZE pixels and times backbone + neck, the head's forward
and its post-processing (``predict_by_feat``) separately. Writes:

* ``OUT.json``: the row, with ``head``, ``size`` (pixels), ``candidates``
  (the (grid cell, class) pairs above ``test_cfg.score_thr``),
  ``backbone_neck_s``, ``head_forward_s`` and ``post_s`` (seconds),
  ``detections``, ``rss_before_post_mib`` and ``peak_rss_mib`` (peak
  resident memory of this process before the post-processing and over the
  whole run, MiB, Linux ``VmHWM``), or ``error`` instead of ``post_s`` and
  ``detections`` when the post-processing ran out of memory;
* ``OUT.pt``: the result's ``scores``, ``labels`` and boolean ``masks``,
  which the tool compares across heads.

Peak memory is per process, which is why each (head, size) gets its own:
``ru_maxrss`` would carry a parent's size over into its child, ``VmHWM``
does not. ``--mem-cap-gib`` caps this process's address space
(``RLIMIT_AS``) first thing in :func:`main`, so that a head that gathers
too much fails with a ``MemoryError`` (or torch's allocation
``RuntimeError``) in its row instead of taking the machine down. The
interpreter and the packages imported at start-up (torch, mmdet, the
zoo) are already mapped by then and count towards the cap.
"""
import argparse
import json
import logging
import resource
import time
from typing import Optional, Sequence, Tuple

import mmcv
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from torch import nn

from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
from projects.benchmark.train_probe import peak_rss_mib


def set_address_space_cap(gib: float) -> None:
    """Cap this process's address space (soft and hard ``RLIMIT_AS``).

    Args:
        gib (float): The cap, GiB (2**30 bytes); 0 or less leaves the
            limit as it is.
    """
    if gib > 0:
        cap = int(gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def build_model(head: str, config: str, init: bool) -> Tuple[nn.Module,
                                                             Config]:
    """The detector of a SOLO config with another mask head, in eval mode.

    Args:
        head (str): Registered type of the mask head, e.g. ``'SOLOHead'``
            or ``'ZooSOLOHead'``.
        config (str): Path of an mmdet SOLO or SOLOv2 config.
        init (bool): Apply mmdet's ``init_weights`` (mask and class biases
            of -4.6, few candidates) instead of PyTorch's default init
            (many candidates, as early in training).

    Returns:
        tuple[nn.Module, Config]: The model and its config.
    """
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    cfg.model.mask_head.type = head
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    if init:
        model.init_weights()
    return model.eval(), cfg


def prepare_input(model: nn.Module, image: str,
                  size: int) -> Tuple[dict, dict]:
    """One image resized to a square input and pre-processed.

    Args:
        model (nn.Module): The detector (its ``data_preprocessor`` is used).
        image (str): Path of the image.
        size (int): Side of the square network input, pixels.

    Returns:
        tuple[dict, dict]: The pre-processed batch (``inputs``,
        ``data_samples``) and the image meta (shapes in pixels).

    Raises:
        FileNotFoundError: If ``image`` cannot be read as an image.
    """
    img = mmcv.imread(image)
    if img is None:
        raise FileNotFoundError(f'{image}: not a readable image')
    oh, ow = img.shape[:2]
    x = torch.from_numpy(mmcv.imresize(img, (size, size))).permute(2, 0, 1)
    meta = dict(
        img_shape=(size, size),
        ori_shape=(oh, ow),
        batch_input_shape=(size, size),
        pad_shape=(size, size),
        scale_factor=(size / ow, size / oh))
    data = model.data_preprocessor(
        dict(inputs=[x.float()],
             data_samples=[DetDataSample(metainfo=meta)]), False)
    return data, meta


def measure(model: nn.Module, cfg: Config, data: dict, meta: dict,
            out: str) -> dict:
    """Time the three stages and write the result to ``out + '.pt'``.

    Args:
        model (nn.Module): The detector, in eval mode.
        cfg (Config): Its config (for ``model.test_cfg.score_thr``).
        data (dict): The pre-processed batch of one image.
        meta (dict): The image meta.
        out (str): Path prefix of the result file.

    Returns:
        dict: The row without ``head`` and ``size`` (keys: see the module
        docstring); times in seconds, memory in MiB.
    """
    row = {}
    with torch.no_grad():
        t0 = time.perf_counter()
        feats = model.extract_feat(data['inputs'])
        t1 = time.perf_counter()
        outs = model.mask_head(feats)
        t2 = time.perf_counter()
        row['candidates'] = sum(
            int((c > cfg.model.test_cfg.score_thr).sum()) for c in outs[1])
        row['rss_before_post_mib'] = peak_rss_mib()
        try:
            res = model.mask_head.predict_by_feat(
                *outs, batch_img_metas=[meta])[0]
            row['post_s'] = time.perf_counter() - t2
            row['detections'] = len(res)
            torch.save(
                dict(scores=res.scores, labels=res.labels,
                     masks=res.masks.bool()), out + '.pt')
        except (MemoryError, RuntimeError) as e:
            row['error'] = str(e).splitlines()[0][:160]
    row['backbone_neck_s'] = t1 - t0
    row['head_forward_s'] = t2 - t1
    row['peak_rss_mib'] = peak_rss_mib()
    return row


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments (see the module docstring)."""
    p = argparse.ArgumentParser(
        prog='tools/analysis/solo_benchmark_worker.py',
        description='One (head, size) run of tools/analysis/'
        'benchmark_solo.py.')
    p.add_argument('head', help='registered mask head type, e.g. SOLOHead')
    p.add_argument('size', type=int, help='square input side, pixels')
    p.add_argument('config', help='mmdet SOLO or SOLOv2 config file')
    p.add_argument('image', help='image file')
    p.add_argument('out', help='path prefix of OUT.json and OUT.pt')
    p.add_argument('--init', action='store_true',
                   help="apply mmdet's init_weights")
    p.add_argument('--mem-cap-gib', type=float, default=16.,
                   help='address-space cap of this process, GiB '
                   '(0: no cap)')
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Cap the address space, run one (head, size), write ``OUT.json``.

    Args:
        argv (Sequence[str], optional): Arguments instead of ``sys.argv``.
    """
    args = parse_args(argv)
    set_address_space_cap(args.mem_cap_gib)
    register_all_modules()
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    model, cfg = build_model(args.head, args.config, args.init)
    data, meta = prepare_input(model, args.image, args.size)
    row = dict(head=args.head, size=args.size)
    row.update(measure(model, cfg, data, meta, args.out))
    with open(args.out + '.json', 'w') as f:
        json.dump(row, f)


if __name__ == '__main__':
    main()
