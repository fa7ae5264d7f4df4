"""Post-processing time and peak memory of mmdet's SOLO heads against the
zoo's, on one real image with the same weights.

    python tools/analysis/benchmark_solo.py [--heads SOLOHead ZooSOLOHead]
        [--sizes 384 768] [--image data/fruits_nuts/images/11.jpg]
        [--mem-cap-gib 16] [--timeout-s 600] [--init]

Each (head, size) runs in its own process,
``tools/analysis/solo_benchmark_worker.py`` (the zoo must be installed,
``pip install -e .``; see that script for what is measured): peak resident
memory is per process (Linux ``VmHWM``; ``ru_maxrss`` would carry this
process's size over into the child), and each process runs under an
address-space cap (``--mem-cap-gib``) and a wall-clock limit
(``--timeout-s``), so mmdet's head gives a MemoryError or timeout row
instead of taking the machine down. The model is mmdet's
``solo_r50_fpn_1x_coco`` (80 classes; SOLOv2 heads use
``solov2_r50_fpn_1x_coco``) with its ``mask_head.type`` swapped. Weights are
PyTorch's default init unless ``--init`` applies mmdet's ``init_weights``
(whose mask and class biases of -4.6 leave nothing above the thresholds):
many candidates, as in a model early in training. The last column says
whether the zoo head's scores, labels and masks equal mmdet's.
"""
import argparse
import importlib.util
import json
import os.path as osp
import subprocess
import sys
import tempfile

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MMDET_CONFIGS = {
    'v1': 'solo/solo_r50_fpn_1x_coco.py',
    'v2': 'solov2/solov2_r50_fpn_1x_coco.py'
}

WORKER_SCRIPT = osp.join(osp.dirname(osp.abspath(__file__)),
                         'solo_benchmark_worker.py')


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
                   help='address-space cap of each run, GiB (0: none)')
    p.add_argument('--timeout-s', type=float, default=600.,
                   help='wall-clock limit of each run, seconds')
    p.add_argument('--init', action='store_true',
                   help="apply mmdet's init_weights")
    return p.parse_args()


def run_one(head, size, args, tmp):
    """Run one (head, size) in its own capped process.

    Args:
        head (str): Mask head type.
        size (int): Square input side, pixels.
        args (argparse.Namespace): The tool's arguments (image, init,
            mem_cap_gib in GiB, timeout_s in seconds).
        tmp (str): Folder for the worker's ``<head>_<size>.json`` and
            ``.pt`` files.

    Returns:
        dict: The worker's row, or ``head``, ``size`` and ``error`` when it
        timed out, was killed or failed before writing its row.
    """
    import mmdet
    version = 'v2' if 'V2' in head else 'v1'
    cfg = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs',
                   MMDET_CONFIGS[version])
    out = osp.join(tmp, f'{head}_{size}')
    cmd = [
        sys.executable, WORKER_SCRIPT, head,
        str(size), cfg, args.image, out, '--mem-cap-gib',
        str(args.mem_cap_gib)
    ] + (['--init'] if args.init else [])
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.timeout_s)
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
    """Whether heads ``a`` and ``b`` gave the same result at ``size``.

    Returns:
        str: ``'yes'`` or ``'no'`` (labels and masks equal, scores within
        1e-6), ``'-'`` when either run wrote no result.
    """
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
        sys.exit(f'error: --image {args.image}: no such file (see '
                 'docs/datasets.md)')
    if importlib.util.find_spec('projects') is None:
        sys.exit('error: the zoo (package projects) is not importable: '
                 'install it '
                 'first (`pip install -e .` in the repository root, or '
                 '`bash tools/setup.sh`)')
    args.image = osp.abspath(args.image)
    print('| head | input | candidates (cell, class) | detections | '
          'backbone+neck s | head forward s | post-processing s | '
          'peak RSS MiB | same as mmdet |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    with tempfile.TemporaryDirectory() as tmp:
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
