"""Where a trained prototype model's masks sit against the 0.5 threshold:
for the top detections of val photos, the mean of ``sigmoid(P c)`` inside
each box and the fraction of box pixels above the mask threshold (0.5, the
binarisation of YOLACT §3.2 and of mmdet's ``mask_thr``).

    python tools/analysis/prototype_mask_margin.py RUN [RUN ...] \
        [--work-root work_dirs/protocol/feral_cats_cpu/runs] [--images 20]

Reads each run's ``config.py`` and ``iter_200.pth`` and the first val
photos of its dataset (data/), and prints the Markdown table of
docs/results/prototype_collapse/README.md ("YOLACT's masks after the
fix", which adds the runs' mask AP); writes nothing.

RUN is a folder of the protocol's runs (``yolact_s0``) with
``iter_200.pth`` and ``config.py``. A model whose masks have the right
shape but sit below 0.5 inside its boxes binarises to nearly empty masks:
COCO mask AP 0 with box AP above 0. The tensors are the prototype figure's
(``projects/visualization/prototype_figure.py``, the heads' own methods).
"""
import argparse
import json
import os.path as osp
import sys

import torch
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
WORK_ROOT = osp.join(ROOT, 'work_dirs', 'protocol', 'feral_cats_cpu', 'runs')


def margins(run_dir: str, n_images: int, top_k: int) -> dict:
    """Mean inside-box probability and fraction above 0.5 over the top
    ``top_k`` detections of the first ``n_images`` val photos."""
    from projects.visualization import prototype_figure as pf
    cfg = Config.fromfile(osp.join(run_dir, 'config.py'))
    model = pf.load_model(cfg, osp.join(run_dir, 'iter_200.pth'))
    ds = cfg.val_dataloader.dataset
    with open(osp.join(ROOT, ds.data_root, ds.ann_file)) as f:
        images = json.load(f)['images'][:n_images]
    means, above = [], []
    for im in images:
        batch, _ = pf.load_image(cfg, model, osp.join(
            ROOT, ds.data_root, ds.data_prefix.img, im['file_name']))
        data = pf.extract(model, batch, top_k=top_k)
        for cropped in data.cropped:
            inside = cropped[cropped > 0]
            if inside.numel():
                means.append(inside.mean().item())
                above.append((inside > 0.5).float().mean().item())
    t = torch.tensor
    return dict(detections=len(means), mean_prob=t(means).mean().item(),
                frac_above=t(above).mean().item(),
                median_frac_above=t(above).median().item())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+')
    parser.add_argument('--work-root', default=WORK_ROOT,
                        help='folder of the protocol runs (default: '
                        'work_dirs/protocol/feral_cats_cpu/runs)')
    parser.add_argument('--images', type=int, default=20)
    parser.add_argument('--top', type=int, default=5)
    args = parser.parse_args()
    print('| run | detections | mean sigmoid(P c) in box | '
          'box pixels > 0.5 (mean / median) |')
    print('| --- | --- | --- | --- |')
    for run in args.runs:
        run_dir = run if osp.isdir(run) else osp.join(args.work_root, run)
        m = margins(run_dir, args.images, args.top)
        print(f'| {osp.basename(run_dir.rstrip("/"))} | {m["detections"]} | '
              f'{m["mean_prob"]:.3f} | {m["frac_above"]:.2f} / '
              f'{m["median_frac_above"]:.2f} |', flush=True)


if __name__ == '__main__':
    main()
