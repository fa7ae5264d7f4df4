"""How much of a trained model's box head is alive: the fraction of positive
outputs of every conv of ``bbox_head`` (after its activation, where it has
one) on val photos, and the spread of the class scores over the image.

    python tools/analysis/prototype_head_activity.py RUN [RUN ...] \
        [--work-root work_dirs/protocol/feral_cats_cpu/runs] [--images 4]

Reads each run's ``config.py`` and ``iter_200.pth`` and the first val
photos of its dataset (data/), and prints the Markdown table of
docs/results/prototype_collapse/README.md ("The box head dies too");
writes nothing.

RUN is a folder of the protocol's runs (``yolact_s0``) or any folder with
``iter_200.pth`` and ``config.py`` (or one other ``.py`` config). A ReLU
conv whose outputs are all 0 passes nothing on and gets no gradient: the
head's class and box outputs are then the same at every location (a
spatial std of 0).
"""
import argparse
import glob
import json
import os.path as osp
import sys
from collections import defaultdict

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
WORK_ROOT = osp.join(ROOT, 'work_dirs', 'protocol', 'feral_cats_cpu', 'runs')


def load(run_dir: str):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    from projects.engine.checkpoint import load_safe_checkpoint
    register_all_modules()
    configs = sorted(glob.glob(osp.join(run_dir, '*.py')))
    cfg = Config.fromfile(osp.join(run_dir, 'config.py') if osp.isfile(
        osp.join(run_dir, 'config.py')) else configs[0])
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    state = load_safe_checkpoint(osp.join(run_dir, 'iter_200.pth'))
    model.load_state_dict(state['state_dict'])
    return cfg, model.eval()


def activity(cfg, model, n_images: int) -> dict:
    """Mean fraction of outputs > 0 per conv of the box head (first
    pyramid level's call) and the mean spatial std of its outputs."""
    stats = defaultdict(list)
    handles = []
    for name, module in model.bbox_head.named_modules():
        parent = name.rpartition('.')[0]
        in_conv_module = parent and type(model.bbox_head.get_submodule(
            parent)).__name__ == 'ConvModule'
        if type(module).__name__ == 'ConvModule' or (isinstance(
                module, torch.nn.Conv2d) and not in_conv_module):
            def hook(m, a, out, name=name):
                if isinstance(out, torch.Tensor) and out.dim() == 4 and \
                        name not in seen:
                    seen.add(name)
                    stats[name].append(((out > 0).float().mean().item(),
                                        out.std(dim=(2, 3)).mean().item()))
            handles.append(module.register_forward_hook(hook))
    ds_cfg = cfg.val_dataloader.dataset
    with open(osp.join(ROOT, ds_cfg.data_root, ds_cfg.ann_file)) as f:
        images = json.load(f)['images'][:n_images]
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    for im in images:
        seen = set()
        data = pipeline(dict(img_path=osp.join(
            ROOT, ds_cfg.data_root, ds_cfg.data_prefix.img, im['file_name']),
            img_id=im['id']))
        with torch.no_grad():
            model.test_step(pseudo_collate([data]))
    for h in handles:
        h.remove()
    return {k: tuple(sum(x) / len(x) for x in zip(*v))
            for k, v in stats.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+')
    parser.add_argument('--work-root', default=WORK_ROOT,
                        help='folder of the protocol runs (default: '
                        'work_dirs/protocol/feral_cats_cpu/runs)')
    parser.add_argument('--images', type=int, default=4)
    args = parser.parse_args()
    print('| run | module | active | spatial std |')
    print('| --- | --- | --- | --- |')
    for run in args.runs:
        run_dir = run if osp.isdir(run) else osp.join(args.work_root, run)
        cfg, model = load(run_dir)
        for name, (active, std) in activity(cfg, model, args.images).items():
            print(f'| {osp.basename(run_dir.rstrip("/"))} | {name} | '
                  f'{active:.3f} | {std:.4f} |')


if __name__ == '__main__':
    main()
