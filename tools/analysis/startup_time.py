"""Start-up cost of ``tools/train.py`` on a COCO-size annotation file: the
preflight checks against mmdet's own dataset load.

    python tools/analysis/startup_time.py --data /tmp/synthetic_coco \
        [--images 118287] [--annotations 860001] [--repo .] \
        [--out docs/results/startup/startup.json --label after]
        [--readme docs/results/startup/README.md]

``--data`` is made first when it holds no annotation file: a synthetic
COCO train split (``--images`` images, ``--annotations`` polygon
annotations of 30 points with 2-decimal coordinates, COCO's 80 categories:
about the size of COCO train2017's 448 MB ``instances_train2017.json``),
an 8-image val split, and one symbolic link per image to one real photo
(``data/fruits_nuts/images/0.jpg``, 800x600), so every check and the
loader find real files. Nothing of it belongs in the repository.

Each figure comes from a fresh process of the checkout ``--repo`` (so an
older checkout can be measured the same way), on the SAIS coco-mini
config pointed at the synthetic data:

* ``preflight_s``: what tools/train.py runs before the Runner: the data,
  class and dataset checks of the train and val splits;
* ``dataset_load_s``: mmdet's ``CocoDataset`` of the train split, built
  and fully initialised (what the Runner does before the first
  iteration);
* ``startup_s``: ``tools/train.py`` for one iteration, process start to
  exit (validation and checkpoints off).

Writes one row (``--label``) into ``--out`` (a JSON list, rows of the same
label replaced) and, with ``--readme``, the table of ``--out``'s rows into
that page's ``startup`` block.
"""
import argparse
import json
import os
import os.path as osp
import random
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/sais/sais_r50_fpn_1xb2-200i_coco-mini-384.py'
PHOTO = 'data/fruits_nuts/images/0.jpg'
PHOTO_SIZE = (800, 600)  # width, height

PREFLIGHT = r'''
import sys, time
t0 = time.perf_counter()
from mmdet.utils import register_all_modules
register_all_modules()
from projects.apis import run_checks
cfg = run_checks.load_tool_config(sys.argv[1], OPTIONS, 'none', None)
t1 = time.perf_counter()
splits = ['train_dataloader', 'val_dataloader']
try:
    from projects.apis.preflight import check_annotated_data
    check_annotated_data(cfg, splits)
except ImportError:  # an older checkout: the checks one after another
    from projects.apis.class_check import check_classes
    run_checks.check_data(cfg, splits)
    check_classes(cfg)
    run_checks.check_datasets(cfg, splits)
print('SECONDS', time.perf_counter() - t1)
'''

DATASET_LOAD = r'''
import sys, time
from mmengine.config import Config
from mmdet.registry import DATASETS
from mmdet.utils import register_all_modules
register_all_modules()
cfg = Config.fromfile(sys.argv[1])
cfg.merge_from_dict(OPTIONS)
ds_cfg = cfg.train_dataloader.dataset
ds_cfg.lazy_init = True
t0 = time.perf_counter()
dataset = DATASETS.build(ds_cfg)
dataset.full_init()
print('SECONDS', time.perf_counter() - t0, len(dataset))
'''


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data', required=True,
                   help='folder of the synthetic COCO (made when empty)')
    p.add_argument('--images', type=int, default=118287)
    p.add_argument('--annotations', type=int, default=860001)
    p.add_argument('--repo', default=ROOT,
                   help='the checkout whose tools and checks are timed')
    p.add_argument('--out', help='JSON file of rows to add this one to')
    p.add_argument('--label', default='this checkout')
    p.add_argument('--readme', help='page whose `startup` block gets the '
                   'table of --out')
    return p.parse_args(argv)


def make_synthetic_coco(data: str, images: int, annotations: int,
                        seed: int = 0) -> None:
    """Write ``data/annotations/instances_{train,val}2017.json`` and the
    image links (see the module doc)."""
    from mmdet.datasets import CocoDataset
    rng = random.Random(seed)
    names = CocoDataset.METAINFO['classes']
    cats = [dict(id=i + 1, name=n, supercategory='thing')
            for i, n in enumerate(names)]
    w, h = PHOTO_SIZE
    photo = osp.join(ROOT, PHOTO)
    for split, n_img, n_ann in (('train2017', images, annotations),
                                ('val2017', 8, 40)):
        os.makedirs(osp.join(data, split), exist_ok=True)
        imgs = []
        for i in range(1, n_img + 1):
            name = f'{i:012d}.jpg'
            link = osp.join(data, split, name)
            if not osp.lexists(link):
                os.symlink(photo, link)
            imgs.append(dict(id=i, file_name=name, width=w, height=h))
        anns = []
        for k in range(1, n_ann + 1):
            bw, bh = rng.uniform(8, w / 3), rng.uniform(8, h / 3)
            x0, y0 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            poly = []
            for j in range(30):
                poly += [round(x0 + bw * rng.random(), 2),
                         round(y0 + bh * rng.random(), 2)]
            anns.append(dict(
                id=k, image_id=1 + (k - 1) % n_img,
                category_id=1 + rng.randrange(len(names)),
                bbox=[round(x0, 2), round(y0, 2), round(bw, 2),
                      round(bh, 2)],
                area=round(bw * bh / 2, 2), iscrowd=0, segmentation=[poly]))
        os.makedirs(osp.join(data, 'annotations'), exist_ok=True)
        with open(osp.join(data, 'annotations',
                           f'instances_{split}.json'), 'w') as f:
            json.dump(dict(images=imgs, annotations=anns, categories=cats),
                      f)


def options(data: str) -> dict:
    root = data.rstrip('/') + '/'
    return {'train_dataloader.dataset.data_root': root,
            'val_dataloader.dataset.data_root': root,
            'test_dataloader.dataset.data_root': root,
            'val_evaluator.ann_file':
            root + 'annotations/instances_val2017.json'}


def timed(cmd, cwd: str) -> dict:
    """Run ``cmd``; its wall seconds and its own ``SECONDS`` line if it
    prints one."""
    env = dict(os.environ, PYTHONPATH=cwd)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f'error: {" ".join(cmd[:3])} ... failed:\n'
                 f'{proc.stderr[-3000:]}')
    seconds = [float(line.split()[1]) for line in proc.stdout.splitlines()
               if line.startswith('SECONDS')]
    return dict(wall=wall, seconds=seconds[0] if seconds else wall)


def main(argv=None) -> None:
    args = parse_args(argv)
    data = osp.abspath(args.data)
    train_json = osp.join(data, 'annotations', 'instances_train2017.json')
    if not osp.isfile(train_json):
        t0 = time.perf_counter()
        make_synthetic_coco(data, args.images, args.annotations)
        print(f'made {data} in {time.perf_counter() - t0:.0f} s')
    opts = options(data)
    repo = osp.abspath(args.repo)
    py = sys.executable
    # each in a fresh process
    load = timed([py, '-c', DATASET_LOAD.replace('OPTIONS', repr(opts)),
                  CONFIG], repo)
    pre = timed([py, '-c', PREFLIGHT.replace('OPTIONS', repr(opts)), CONFIG],
                repo)
    work = osp.join(data, 'work_dir')
    cfg_opts = [f'{k}={v}' for k, v in opts.items()] + [
        'train_cfg.max_iters=1', 'train_cfg.val_begin=2',
        'default_hooks.checkpoint.interval=1000',
        'default_hooks.checkpoint.save_last=False']
    start = timed([py, 'tools/train.py', CONFIG, '--work-dir', work,
                   '--overwrite', '--cfg-options'] + cfg_opts, repo)
    row = dict(label=args.label, images=args.images,
               annotations=args.annotations,
               json_mib=round(osp.getsize(train_json) / 2**20, 1),
               preflight_s=round(pre['seconds'], 1),
               dataset_load_s=round(load['seconds'], 1),
               preflight_over_load=round(pre['seconds'] / load['seconds'],
                                         3),
               startup_s=round(start['wall'], 1),
               cpu=_cpu_name())
    print(json.dumps(row))
    if args.out:
        rows = []
        if osp.isfile(args.out):
            with open(args.out) as f:
                rows = [r for r in json.load(f) if r['label'] != args.label]
        with open(args.out, 'w') as f:
            json.dump(rows + [row], f, indent=1)
        if args.readme:
            write_table(args.readme, rows + [row])


COLUMNS = (('checkout', 'label'), ('images', 'images'),
           ('annotations', 'annotations'), ('JSON MiB', 'json_mib'),
           ('preflight s', 'preflight_s'),
           ("mmdet's dataset load s", 'dataset_load_s'),
           ('preflight / load', 'preflight_over_load'),
           ('start-up s', 'startup_s'), ('CPU', 'cpu'))


def write_table(readme: str, rows: list) -> None:
    """The rows as a Markdown table in ``readme``'s ``startup`` block."""
    from projects.benchmark.markdown_blocks import write_block
    from projects.benchmark.report import markdown
    cells = [[f'{r[key]:.0%}' if key == 'preflight_over_load' else
              str(r[key]) for _, key in COLUMNS] for r in rows]
    write_block(readme, 'startup',
                markdown([h for h, _ in COLUMNS], cells))


def _cpu_name() -> str:
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    return 'unknown'


if __name__ == '__main__':
    main()
