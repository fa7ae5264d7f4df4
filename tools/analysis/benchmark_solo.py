"""Post-processing time and peak memory of mmdet's SOLO heads against the
zoo's, on one real image with the same weights.

    python tools/analysis/benchmark_solo.py [--heads SOLOHead ZooSOLOHead]
        [--sizes 384 768] [--image data/fruits_nuts/images/11.jpg]
        [--mem-cap-gib 16] [--timeout-s 600] [--init]

Each (head, size) runs in its own process (peak resident memory is per
process, Linux ``VmHWM``; ``ru_maxrss`` would carry this process's size
over into the child) under an address-space cap and a wall-clock
limit, so mmdet's head gives a MemoryError or timeout row instead of taking
the machine down. The model
is mmdet's ``solo_r50_fpn_1x_coco`` (80 classes; SOLOv2 heads use
``solov2_r50_fpn_1x_coco``) with its ``mask_head.type`` swapped. Weights are
PyTorch's default init unless ``--init`` applies mmdet's ``init_weights``
(whose mask and class biases of -4.6 leave nothing above the thresholds):
many candidates, as in a model early in training. The last column says
whether the zoo head's scores, labels and masks equal mmdet's.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MMDET_CONFIGS = {
    'v1': 'solo/solo_r50_fpn_1x_coco.py',
    'v2': 'solov2/solov2_r50_fpn_1x_coco.py'
}

WORKER = r'''
import json, logging, sys, time
import mmcv, torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
import projects  # noqa: F401
from projects.benchmark.train_probe import peak_rss_mib
register_all_modules()
MMLogger.get_current_instance().setLevel(logging.ERROR)
head, size, cfg_path, image, init, out = sys.argv[1:7]
size = int(size)
cfg = Config.fromfile(cfg_path)
cfg.model.backbone.init_cfg = None
cfg.model.mask_head.type = head
torch.manual_seed(0)
model = MODELS.build(cfg.model)
if init == '1':
    model.init_weights()
model.eval()
img = mmcv.imread(image)
oh, ow = img.shape[:2]
x = torch.from_numpy(mmcv.imresize(img, (size, size))).permute(2, 0, 1)
meta = dict(img_shape=(size, size), ori_shape=(oh, ow),
            batch_input_shape=(size, size), pad_shape=(size, size),
            scale_factor=(size / ow, size / oh))
data = model.data_preprocessor(
    dict(inputs=[x.float()], data_samples=[DetDataSample(metainfo=meta)]),
    False)
row = dict(head=head, size=size)
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
        torch.save(dict(scores=res.scores, labels=res.labels,
                        masks=res.masks.bool()), out + '.pt')
    except (MemoryError, RuntimeError) as e:
        row['error'] = str(e).splitlines()[0][:160]
row['backbone_neck_s'] = t1 - t0
row['head_forward_s'] = t2 - t1
row['peak_rss_mib'] = peak_rss_mib()
with open(out + '.json', 'w') as f:
    json.dump(row, f)
'''


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--heads', nargs='+', default=['SOLOHead', 'ZooSOLOHead'],
                   help='mmdet and zoo head types (SOLOV2Head and '
                   'ZooSOLOV2Head use the SOLOv2 model)')
    p.add_argument('--sizes', nargs='+', type=int, default=[384, 768],
                   help='square input sizes, pixels')
    p.add_argument('--image',
                   default=osp.join(ROOT, 'data/fruits_nuts/images/11.jpg'))
    p.add_argument('--mem-cap-gib', type=float, default=16.,
                   help='address-space cap of each run, GiB')
    p.add_argument('--timeout-s', type=float, default=600.,
                   help='wall-clock limit of each run, seconds')
    p.add_argument('--init', action='store_true',
                   help="apply mmdet's init_weights")
    return p.parse_args()


def run_one(head, size, args, tmp):
    """One (head, size) in its own capped process; returns its row."""
    import mmdet
    version = 'v2' if 'V2' in head else 'v1'
    cfg = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs',
                   MMDET_CONFIGS[version])
    out = osp.join(tmp, f'{head}_{size}')
    cap = int(args.mem_cap_gib * 2**30)
    code = ('import resource, runpy, sys; '
            f'resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap})); '
            'sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], '
            'run_name="__main__")')
    worker = osp.join(tmp, 'worker.py')
    env = dict(os.environ, PYTHONPATH=ROOT)
    try:
        proc = subprocess.run([
            sys.executable, '-c', code, worker, head, str(size), cfg,
            args.image, '1' if args.init else '0', out
        ], env=env, capture_output=True, text=True, timeout=args.timeout_s)
    except subprocess.TimeoutExpired:
        return dict(head=head, size=size,
                    error=f'did not finish in {args.timeout_s:.0f} s')
    if not osp.exists(out + '.json'):
        if proc.returncode < 0:
            return dict(head=head, size=size,
                        error=f'killed by signal {-proc.returncode}')
        errors = [line for line in proc.stderr.splitlines()
                  if 'Error' in line] or proc.stderr.splitlines() or ['?']
        return dict(head=head, size=size, error=errors[-1][:160])
    with open(out + '.json') as f:
        return json.load(f)


def same_result(tmp, a, b, size):
    import torch
    pa, pb = (osp.join(tmp, f'{h}_{size}.pt') for h in (a, b))
    if not (osp.exists(pa) and osp.exists(pb)):
        return '-'
    ra, rb = torch.load(pa), torch.load(pb)
    same = (torch.equal(ra['labels'], rb['labels'])
            and torch.equal(ra['masks'], rb['masks'])
            and torch.allclose(ra['scores'], rb['scores'], atol=1e-6))
    return 'yes' if same else 'no'


def main():
    args = parse_args()
    if not osp.isfile(args.image):
        sys.exit(f'--image {args.image}: no such file (see README, '
                 'Datasets)')
    print('| head | input | candidates (cell, class) | detections | '
          'backbone+neck s | head forward s | post-processing s | '
          'peak RSS MiB | same as mmdet |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    with tempfile.TemporaryDirectory() as tmp:
        with open(osp.join(tmp, 'worker.py'), 'w') as f:
            f.write(WORKER)
        for size in args.sizes:
            for head in args.heads:
                r = run_one(head, size, args, tmp)
                ref = head.replace('Zoo', '')
                same = same_result(tmp, ref, head, size) \
                    if head.startswith('Zoo') and ref in args.heads else ''
                post = (f"{r['post_s']:.2f}" if 'post_s' in r else
                        f"failed: {r.get('error', '?')}")
                print(f"| {head} | {size}x{size} | "
                      f"{r.get('candidates', '-')} | "
                      f"{r.get('detections', '-')} | "
                      f"{r.get('backbone_neck_s', float('nan')):.2f} | "
                      f"{r.get('head_forward_s', float('nan')):.2f} | "
                      f"{post} | {r.get('peak_rss_mib', float('nan')):.0f} | "
                      f'{same} |', flush=True)


if __name__ == '__main__':
    main()
