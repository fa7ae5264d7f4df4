"""Do a SOLO config's grids and scale ranges fit its data?

    python tools/analysis/solo_grid_fit.py CONFIG [CONFIG ...] [--iters N]

For the training set of each config (COCO JSON, boxes resized as the
config's fixed-size ``Resize`` does), it assigns every instance to the FPN
levels of the mask head as mmdet's ``SOLOHead`` does (``sqrt(w * h)`` of the
box, in input pixels, inside a level's ``scale_ranges``; SOLO §3.1) and
counts its positive grid cells: the cells the centre region of
``pos_scale`` times the box touches, at most the 3 x 3 around the centre
cell, as mmdet, except that the region is centred on the box centre where
mmdet takes the mask's centre of mass (so the counts are close, not
equal). It prints per level: instances, positives per instance,
the mask channels a positive trains (SOLO: one of S^2; Decoupled SOLO: an
X and a Y channel of S each; SOLOv2: a shared mask feature) and the
expected positive samples per mask channel over ``--iters`` iterations of
the config's batch size. The SOLO authors' advice (WXinlong/SOLO issue 224)
is that the grids must fit the objects; this puts numbers on it.
"""
import argparse
import json
import math
import os.path as osp
from collections import defaultdict
from typing import Dict, List

from mmengine.config import Config


def positives(box: List[float], size: int, grid: int,
              pos_scale: float) -> int:
    """Grid cells of one instance: those its centre region (around the box
    centre) touches, within the 3 x 3 around its centre cell.

    Args:
        box (list[float]): x, y, w, h in input pixels.
        size (int): the square input side, pixels.
        grid (int): S, cells per side.
        pos_scale (float): the centre region's size relative to the box.
    """
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    cell = size / grid
    c_i, c_j = int(cy // cell), int(cx // cell)
    top = max(int((cy - pos_scale * h / 2) // cell), c_i - 1)
    bottom = min(int((cy + pos_scale * h / 2) // cell), c_i + 1, grid - 1)
    left = max(int((cx - pos_scale * w / 2) // cell), c_j - 1)
    right = min(int((cx + pos_scale * w / 2) // cell), c_j + 1, grid - 1)
    return (bottom - top + 1) * (right - left + 1)


def fit(cfg: Config, iters: int) -> List[Dict]:
    """Per-level statistics of the config's training set.

    Raises:
        ValueError: the config has no fixed square Resize or no SOLO head.
    """
    head = cfg.model.mask_head
    if 'num_grids' not in head:
        raise ValueError('the config has no SOLO-style mask_head.num_grids')
    resize = [t for t in cfg.train_dataloader.dataset.pipeline
              if t['type'] == 'Resize']
    if not resize or resize[0].get('keep_ratio', True):
        raise ValueError('needs a fixed-size Resize (keep_ratio=False)')
    size_w, size_h = resize[0]['scale']
    ds = cfg.train_dataloader.dataset
    with open(osp.join(ds.data_root, ds.ann_file)) as f:
        coco = json.load(f)
    images = {im['id']: im for im in coco['images']}
    kind = head['type']
    per_level = defaultdict(lambda: dict(instances=0, positives=0))
    unassigned = 0
    for ann in coco['annotations']:
        if ann.get('iscrowd'):
            continue
        im = images[ann['image_id']]
        sx, sy = size_w / im['width'], size_h / im['height']
        x, y, w, h = ann['bbox']
        box = [x * sx, y * sy, w * sx, h * sy]
        scale = math.sqrt(box[2] * box[3])
        hit = False
        for lvl, ((lo, hi), grid) in enumerate(
                zip(head.scale_ranges, head.num_grids)):
            if lo <= scale <= hi:
                hit = True
                per_level[lvl]['instances'] += 1
                per_level[lvl]['positives'] += positives(
                    box, size_w, grid, head.pos_scale)
        unassigned += not hit
    batch = cfg.train_dataloader.batch_size
    epochs = iters * batch / len(images)
    rows = []
    for lvl, grid in enumerate(head.num_grids):
        stats = per_level[lvl]
        if 'V2' in kind:  # dynamic kernels over one shared mask feature
            channels = 1
        elif 'Decoupled' in kind:  # an X and a Y mask per cell
            channels = 2 * grid
        else:  # one mask channel per cell
            channels = grid * grid
        rows.append(dict(
            level=lvl, grid=grid, scale_range=tuple(head.scale_ranges[lvl]),
            instances=stats['instances'],
            pos_per_instance=stats['positives'] / max(stats['instances'], 1),
            channels=channels,
            samples_per_channel=stats['positives'] * epochs / channels))
    rows.append(dict(unassigned=unassigned, images=len(images),
                     epochs=epochs))
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('configs', nargs='+')
    p.add_argument('--iters', type=int, default=200,
                   help='training iterations (default 200)')
    args = p.parse_args(argv)
    for path in args.configs:
        cfg = Config.fromfile(path)
        rows = fit(cfg, args.iters)
        tail = rows.pop()
        print(f'\n{path}: {tail["images"]} training images, '
              f'{args.iters} iterations = {tail["epochs"]:.1f} epochs, '
              f'{tail["unassigned"]} instances in no scale range')
        print('level  S   scale range  instances  pos/inst  mask channels  '
              'positive samples per channel')
        for r in rows:
            print(f'{r["level"]:5d} {r["grid"]:3d}  '
                  f'{str(r["scale_range"]):>11}'
                  f'  {r["instances"]:9d}  {r["pos_per_instance"]:8.1f}'
                  f'  {r["channels"]:13d}  {r["samples_per_channel"]:10.1f}')


if __name__ == '__main__':
    main()
