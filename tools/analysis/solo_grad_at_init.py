"""Gradient norms that SOLO's mask and category losses send into its head
at initialisation, on the first two feral_cats training photos (384 x 384,
no flip), from the offline ResNet-50 init:

    python tools/analysis/solo_grad_at_init.py [CONFIG]

CONFIG is a path relative to the repository (default: SOLO's feral_cats
small-data config). Reads the config, its offline backbone checkpoint and
the photos from data/; prints, per loss, the L2 norm of its gradient over
each parameter group of the head (towers and output convs), the numbers
of docs/results/solo_small_data/README.md; writes nothing.
"""
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmdet.registry import DATASETS, MODELS
from mmdet.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/solo/solo_r50_fpn_1xb2-200i_feral-cats-384.py'


def main(config: str = CONFIG) -> None:
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, config))
    init = cfg.model.backbone.init_cfg
    init.checkpoint = osp.join(ROOT, init.checkpoint)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = osp.join(ROOT, ds_cfg.data_root)
    for t in ds_cfg.pipeline:
        if t['type'] == 'RandomFlip':
            t['prob'] = 0.
    ds = DATASETS.build(ds_cfg)
    batch = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), True)
    losses = model(**batch, mode='loss')
    for key in ('loss_mask', 'loss_cls'):
        model.zero_grad()
        losses[key].backward(retain_graph=True)
        groups = {}
        for name, p in model.mask_head.named_parameters():
            if p.grad is not None:
                group = name.split('.')[0]
                groups[group] = groups.get(group, 0.) + float(
                    p.grad.norm()**2)
        print(f'{key} = {float(losses[key]):.4f}')
        for group, sq in groups.items():
            print(f'  {group:18s} gradient norm {sq**0.5:.3e}')


if __name__ == '__main__':
    main(*sys.argv[1:])
