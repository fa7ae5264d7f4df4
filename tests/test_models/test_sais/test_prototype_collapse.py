"""The collapse of the prototype mask branch, reproduced on the
full SAIS R50-FPN model, from the zoo's offline ResNet-50 init, on real
feral_cats training photos, and the two fixes the protocol adopts
(docs/results/prototype_collapse).

Without a fix (the old small-data recipe's lr 0.01 at batch 2, eight times
the linearly scaled FCOS rate) the ReLU prototypes shrink into their dead,
absorbing state within a dozen steps: almost no pixel active, most
prototypes zero everywhere. ``proto_norm`` keeps every prototype alive at
the same lr; the linearly scaled lr 0.001 keeps them alive without it.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, model_inputs, real_dataset
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from projects.engine import prototype_stats

CONFIG = osp.join(ROOT, 'configs', 'sais',
                  'sais_r50_fpn_1xb2-200i_feral-cats-384.py')
STEPS = 12


def train_steps(lr: float, proto_norm: bool) -> dict:
    """``STEPS`` SGD steps (momentum 0.9, weight decay 1e-4, gradient
    clipping at 35, as the small-data schedule; constant lr) at batch 2
    on the first training photos at 192 x 192; returns
    :func:`prototype_stats` of the last step's prototypes."""
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    init = cfg.model.backbone.init_cfg
    init.checkpoint = osp.join(ROOT, init.checkpoint)
    if not osp.isfile(init.checkpoint):
        pytest.fail(f'{init.checkpoint} missing: run `bash tools/setup.sh`')
    cfg.model.mask_head.proto_norm = proto_norm
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    seen = []
    model.mask_head.protonet.register_forward_hook(
        lambda m, a, out: seen.append(prototype_stats(out)))
    ds = real_dataset(cfg, size=192)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    for i in range(STEPS):
        losses = model(**model_inputs(model, [ds[2 * i], ds[2 * i + 1]],
                                      True), mode='loss')
        opt.zero_grad()
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        torch.nn.utils.clip_grad_norm_(params, 35)
        opt.step()
    return seen[-1]


@pytest.mark.slow
def test_prototypes_die_at_the_old_recipes_lr():
    stats = train_steps(0.01, proto_norm=False)
    assert stats['proto_alive'] <= 12, stats
    assert stats['proto_active'] < 0.05, stats


@pytest.mark.slow
def test_proto_norm_keeps_them_alive_at_the_same_lr():
    stats = train_steps(0.01, proto_norm=True)
    assert stats['proto_alive'] == 32, stats
    assert stats['proto_active'] > 0.2, stats


@pytest.mark.slow
def test_the_linearly_scaled_lr_keeps_them_alive():
    stats = train_steps(0.001, proto_norm=False)
    assert stats['proto_alive'] >= 28, stats
    assert stats['proto_active'] > 0.1, stats
