"""Time RoIAlign forward + backward on CPU: the zoo's ParallelRoIAlign
against mmcv's kernel, for the RoI layers of the zoo's methods.

    python tools/analysis/roi_align_speed.py [--cases mask-rcnn-box
        mask-rcnn-mask blendmask yolo-mask mask-rcnn-box-val] [--repeat 5]
        [--threads 2] [--readme PAGE.md] [--marker 'roi align layer']

Each case is one RoI layer call as a training step (or a validation
image) makes it: a feature map of a 384 x 384 batch of 2 (of one image)
at the layer's stride, with the layer's channels, output size and
sampling ratio (``aligned=True``), and that many RoIs of random sizes
between the case's bounds (pixels) at random places (a fixed seed). The
time is forward plus backward into the features (forward only, without
autograd, for a validation case), the median of ``--repeat`` runs after
one untimed run, in ms, both layers on the same tensors (mmcv's on an
NCHW copy, as the bf16 wrapper hands it). With ``--readme`` the table is
written between ``<!-- MARKER: begin -->`` and ``<!-- MARKER: end -->``
of that page.
"""
import argparse
import os.path as osp
import statistics
import sys
import time
from typing import List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

#: name: (stride, channels, output size, sampling ratio, RoIs, min, max px,
#: pass): 'train' times forward + backward on a batch of 2, 'val' forward
#: only on one image
CASES = {
    # mmdet's level mapping sends 112-224 px RoIs to stride 8
    'mask-rcnn-box': (8, 256, 7, 0, 512, 112, 224, 'train'),
    'mask-rcnn-mask': (4, 256, 14, 0, 64, 32, 112, 'train'),
    # the blender's crops of the 4 bases (configs/_base_/models/blendmask)
    'blendmask': (4, 4, 56, 1, 200, 20, 220, 'train'),
    # YOLO-Mask's mask branch: the 128-channel stride-8 neck level, 14 x 14,
    # up to max_per_img=100 detections per image that overlap a GT by IoU
    # 0.5 (configs/_base_/models/yolo_mask_d53.py); feral_cats' cats are large
    'yolo-mask': (8, 128, 14, 0, 100, 64, 320, 'train'),
    # a validation image's box head on the stride-4 level: of its 1,000
    # proposals (mmdet's rpn test_cfg), those under 112 px go there (about
    # 750 on a feral_cats val image)
    'mask-rcnn-box-val': (4, 256, 7, 0, 750, 8, 112, 'val'),
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line (``sys.argv[1:]`` when ``argv`` is None).

    Raises:
        SystemExit: an unknown case or a count below 1.
    """
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--cases', nargs='+', choices=sorted(CASES),
                   default=list(CASES))
    p.add_argument('--repeat', type=int, default=5)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--readme', help='write the table into this page')
    p.add_argument('--marker', default='roi align layer',
                   help="the page's block to write (default: %(default)s)")
    args = p.parse_args(argv)
    for key in ('repeat', 'threads'):
        if getattr(args, key) < 1:
            p.error(f'--{key} must be at least 1')
    return args


def time_case(case: str, repeat: int) -> dict:
    """Median ms of forward (+ backward) of both layers for one case."""
    import torch
    from mmcv.ops import roi_align
    from projects.layers import parallel_roi_align
    stride, channels, out, ratio, count, low, high, step = CASES[case]
    gen = torch.Generator().manual_seed(0)
    side, images = 384 // stride, 2 if step == 'train' else 1
    features = torch.randn(images, channels, side, side, generator=gen)
    size = low + (high - low) * torch.rand(count, 2, generator=gen)
    centre = 384 * torch.rand(count, 2, generator=gen)
    image = torch.randint(0, images, (count, 1), generator=gen).float()
    rois = torch.cat([image, centre - size / 2, centre + size / 2], 1)
    grad = torch.randn(count, channels, out, out, generator=gen)
    layers = {
        'ParallelRoIAlign': lambda x: parallel_roi_align(
            x, rois, out, 1 / stride, ratio, True),
        'mmcv RoIAlign': lambda x: roi_align(
            x.contiguous(), rois, out, 1 / stride, ratio, 'avg', True),
    }
    row = dict(case=case, stride=stride, channels=channels, output=out,
               rois=count, step=step)
    for name, layer in layers.items():
        times = []
        for i in range(repeat + 1):
            x = features.clone().requires_grad_(step == 'train')
            start = time.perf_counter()
            if step == 'train':
                layer(x).backward(grad)
            else:
                with torch.no_grad():
                    layer(x)
            if i:
                times.append(1000 * (time.perf_counter() - start))
        row[name] = statistics.median(times)
    return row


def main(argv: Optional[List[str]] = None) -> List[dict]:
    args = parse_args(argv)
    import torch
    from projects.benchmark.roofline import cpu_name
    torch.set_num_threads(args.threads)
    rows = [time_case(case, args.repeat) for case in args.cases]
    lines = ['| case | pass | stride | channels | output | RoIs | '
             'ParallelRoIAlign ms | mmcv RoIAlign ms |',
             '| --- | --- | --- | --- | --- | --- | --- | --- |']
    passes = {'train': 'fwd + bwd', 'val': 'fwd'}
    lines += [f'| {r["case"]} | {passes[r["step"]]} | {r["stride"]} | '
              f'{r["channels"]} | {r["output"]} | {r["rois"]} | '
              f'{r["ParallelRoIAlign"]:.0f} | {r["mmcv RoIAlign"]:.0f} |'
              for r in rows]
    lines.append('')
    lines.append(f'Median of {args.repeat} runs; {cpu_name()}, '
                 f'{args.threads} torch threads.')
    table = '\n'.join(lines)
    print(table)
    if args.readme:
        from projects.benchmark.markdown_blocks import write_block
        write_block(args.readme, args.marker, table)
    return rows


if __name__ == '__main__':
    main()
