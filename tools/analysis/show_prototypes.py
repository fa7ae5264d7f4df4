"""Draw what a prototype or basis model learned on one image.

    python tools/analysis/show_prototypes.py CONFIG CKPT IMAGE
        [--out FILE.png] [--top K] [--score-thr T]

For SAIS, SSS, YOLACT and YOLACT++: the ``k`` prototypes of the image
(each min-max normalised, with its index) and, for each of the ``--top``
best detections, its crop, its mask coefficients (bars), the linear
combination ``sigmoid(P c)`` before the crop and after the crop to its box
(YOLACT §3.2 "Mask Assembly" and Fig. 5 in the lecture slides, SAIS §III-A
b and Fig. 1; dbolya/yolact's ``--display_lincomb``). For BlendMask: its
``K`` bases and, per detection, its ``K`` attention maps and the blended
mask (BlendMask slides, Figure 1 "Blending process"). Any other method
stops with ``METHOD has no prototypes or bases`` naming the config and the
head type. The tensors come from
:mod:`projects.visualization.prototype_figure`.

The checkpoint is read as tools/test.py reads it (``weights_only``,
:func:`projects.engine.checkpoint.load_safe_checkpoint`). The PNG goes to
``--out`` (overwritten) or ``<work_dir>/prototypes_<image name>.png``, the
work dir being the config's ``work_dir`` or ``work_dirs/<config name>``.
``--score-thr`` replaces the box head's ``test_cfg.score_thr`` (a model
whose scores are all low still shows its top-K detections with
``--score-thr 0``).
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line (``sys.argv[1:]`` when ``argv`` is None)."""
    parser = argparse.ArgumentParser(
        description='Draw the prototypes (or BlendMask bases) of a model '
        'and the mask assembly of its top detections on one image')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('image', help='image file')
    parser.add_argument('--out', help='output PNG (default: '
                        '<work_dir>/prototypes_<image name>.png)')
    parser.add_argument('--top', type=int, default=4,
                        help='detections drawn, best first (default 4)')
    parser.add_argument('--score-thr', type=float, default=None,
                        help="replace the box head's test_cfg.score_thr")
    args = parser.parse_args(argv)
    if args.top < 0:
        parser.error(f'--top {args.top}: must be >= 0')
    return args


def default_out(cfg, config: str, image: str) -> str:
    """``<work_dir>/prototypes_<image name>.png``."""
    work_dir = cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(config))[0])
    return osp.join(work_dir,
                    f'prototypes_{osp.splitext(osp.basename(image))[0]}.png')


def main(argv: Optional[List[str]] = None) -> str:
    """Run the tool; returns the PNG's path.

    Raises:
        SystemExit: naming the file or config at fault.
    """
    args = parse_args(argv)
    for what, path in (('config', args.config),
                       ('checkpoint', args.checkpoint),
                       ('image', args.image)):
        if not osp.isfile(path):
            sys.exit(f'error: {what} {path!r} not found')
    from mmengine.config import Config

    from mmdet.utils import register_all_modules
    from projects.apis.metafiles import method_of
    from projects.engine.checkpoint import (UnreadableCheckpointError,
                                            UnsafeCheckpointError)
    from projects.visualization import (NoPrototypesError, build_figure,
                                        extract, load_image, load_model,
                                        save_png)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    try:  # the method is checked before the checkpoint is read
        model = load_model(cfg, args.checkpoint)
    except (NoPrototypesError, UnsafeCheckpointError,
            UnreadableCheckpointError, ValueError) as e:
        sys.exit(f'error: {e}')
    batch, image = load_image(cfg, model, args.image)
    data = extract(model, batch, args.top, args.score_thr)
    classes = cfg.get('test_dataloader', {}).get('dataset', {}).get(
        'metainfo', {}).get('classes', ())
    title = (f'{method_of(args.config, cfg.model)}: '
             f'{osp.basename(args.image)}')
    fig = build_figure(data, image, classes, title)
    out = args.out or default_out(cfg, args.config, args.image)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    save_png(fig, out)
    print(f'{data.maps.shape[0]} {data.kind} of {tuple(data.maps.shape[1:])}'
          f' (stride {data.stride:g} px), {len(data.boxes)} detections')
    for i, (box, score) in enumerate(zip(data.boxes, data.scores)):
        print(f'  #{i} score {float(score):.4f} box '
              f'{[round(float(v), 1) for v in box]}')
    print(f'wrote {out} ({osp.getsize(out) / 1024:.0f} KiB)')
    return out


if __name__ == '__main__':
    main()
