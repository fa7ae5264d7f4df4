"""Time CondInst's dynamic mask head alone for a number of instances.

    python tools/analysis/time_dynamic_mask_head.py [--instances 100]
        [--size 800 1333] [--depth 3] [--width 8] [--mask-channels 8]
        [--rel-coords | --no-rel-coords] [--repeat 50] [--warmup 5]
        [--device cpu|cuda] [--out result.json]

The slides (CondInst Table 1, "time": milliseconds the mask head takes for
100 instances; "only cost ~5ms for even the maximum number of boxes")
time the dynamic mask head without the rest of the model. This tool builds
the zoo's :class:`ZooCondInstMaskHead` from the model base
(``configs/_base_/models/condinst_r50_fpn.py``) with the given depth,
width, mask-feature channels and relative-coordinates switch, and times its
``forward_single`` on random inputs: the relative coordinates, the split of
each instance's parameters, the grouped 1x1 convs over the mask-feature map
at stride 8 of a ``--size`` input (padded to a multiple of 32, as the data
preprocessor does) and the x2 upsampling to stride 4. The mask branch,
which runs once per image, is not timed. It prints the median and the
inter-quartile range (IQR) in milliseconds over ``--repeat`` runs after
``--warmup`` untimed ones; on CUDA every run is bracketed by
``torch.cuda.synchronize``.
"""
import argparse
import json
import math
import os.path as osp
import sys
import time
from typing import List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(ROOT, 'configs', '_base_', 'models', 'condinst_r50_fpn.py')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line (``sys.argv[1:]`` when ``argv`` is None).

    Raises:
        SystemExit: naming the option at fault (a count below 1, an input
            side under 32 pixels).
    """
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--instances', type=int, default=100,
                   help='instances whose masks are computed (default 100)')
    p.add_argument('--size', type=int, nargs=2, default=[800, 1333],
                   metavar=('H', 'W'),
                   help='input height and width in pixels; the mask '
                   'features are at stride 8 (default 800 1333)')
    p.add_argument('--depth', type=int, default=3,
                   help='dynamic conv layers (Table 1a, default 3)')
    p.add_argument('--width', type=int, default=8,
                   help='channels of the hidden layers (Table 1b, default 8)')
    p.add_argument('--mask-channels', type=int, default=8,
                   help='channels of the mask features F_mask (default 8)')
    p.add_argument('--rel-coords', action=argparse.BooleanOptionalAction,
                   default=True,
                   help='concatenate relative coordinates (Table 3)')
    p.add_argument('--repeat', type=int, default=50,
                   help='timed runs (default 50)')
    p.add_argument('--warmup', type=int, default=5,
                   help='untimed runs first (default 5)')
    p.add_argument('--device', default='cpu', help='cpu or cuda')
    p.add_argument('--out', help='also write the result to this JSON file')
    args = p.parse_args(argv)
    for name in ('instances', 'depth', 'width', 'mask_channels', 'repeat'):
        if getattr(args, name) < 1:
            p.error(f'--{name.replace("_", "-")}={getattr(args, name)}: '
                    'must be >= 1')
    if args.warmup < 0:
        p.error(f'--warmup={args.warmup}: must be >= 0')
    if min(args.size) < 32:
        p.error(f'--size {args.size[0]} {args.size[1]}: each side must be '
                '>= 32 pixels')
    return args


def build_head(args: argparse.Namespace):
    """The model base's mask head with the arguments' architecture.

    Returns:
        ZooCondInstMaskHead: in eval mode on ``args.device``.
    """
    from mmengine.config import Config

    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from projects.condinst import ZooCondInstMaskHead  # noqa: F401
    register_all_modules()
    cfg = Config.fromfile(BASE).model.mask_head
    cfg.update(num_layers=args.depth, feat_channels=args.width,
               rel_coords=args.rel_coords)
    cfg.mask_feature_head.out_channels = args.mask_channels
    return MODELS.build(cfg).to(args.device).eval()


def quantile(values: List[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default) of ``values``."""
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def time_head(args: argparse.Namespace) -> dict:
    """Build the head and time ``forward_single``.

    Returns:
        dict: the settings, ``feat_size`` [h, w] of the mask features,
        ``num_params`` per instance, ``median_ms``, ``q1_ms``, ``q3_ms``,
        ``iqr_ms`` and every run's ``times_ms``.
    """
    import torch
    from mmengine.structures import InstanceData

    head = build_head(args)
    dev = torch.device(args.device)
    stride = head.mask_feat_stride
    pad_h, pad_w = (math.ceil(s / 32) * 32 for s in args.size)
    h, w = pad_h // stride, pad_w // stride
    gen = torch.Generator().manual_seed(0)
    n = args.instances
    mask_feat = torch.randn(args.mask_channels, h, w, generator=gen)
    points = torch.rand(n, 2, generator=gen) * torch.tensor(
        [args.size[1], args.size[0]], dtype=torch.float)
    strides = torch.tensor([8., 16., 32., 64., 128.])[torch.randint(
        0, 5, (n, ), generator=gen)]
    pos = InstanceData(
        param_preds=torch.randn(n, head.num_params, generator=gen) * 0.1,
        points=points, strides=strides).to(dev)
    mask_feat = mask_feat.to(dev)
    cuda = dev.type == 'cuda'
    times = []
    with torch.no_grad():
        for i in range(args.warmup + args.repeat):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            masks, = head.forward_single(mask_feat, pos)
            if cuda:
                torch.cuda.synchronize()
            if i >= args.warmup:
                times.append((time.perf_counter() - t0) * 1e3)
    assert masks.shape[0] == n
    q1, med, q3 = (quantile(times, q) for q in (0.25, 0.5, 0.75))
    return dict(
        instances=n, input_size=list(args.size), feat_size=[h, w],
        feat_stride=stride, mask_size=list(masks.shape[1:]),
        depth=args.depth, width=args.width,
        mask_channels=args.mask_channels, rel_coords=args.rel_coords,
        num_params=head.num_params, device=str(dev),
        threads=torch.get_num_threads(), warmup=args.warmup,
        repeat=args.repeat, median_ms=med, q1_ms=q1, q3_ms=q3,
        iqr_ms=q3 - q1, times_ms=times)


def main(argv: Optional[List[str]] = None) -> dict:
    """Time the head, print median and IQR, write ``--out``.

    Returns:
        dict: :func:`time_head`'s result.
    """
    args = parse_args(argv)
    if args.device.startswith('cuda'):
        import torch
        if not torch.cuda.is_available():
            sys.exit(f'error: --device {args.device}: CUDA is not available')
    r = time_head(args)
    print(f"dynamic mask head: {r['instances']} instances, mask features "
          f"{r['mask_channels']}x{r['feat_size'][0]}x{r['feat_size'][1]} "
          f"(stride {r['feat_stride']} of {args.size[0]}x{args.size[1]}), "
          f"depth {r['depth']}, width {r['width']}, rel coords "
          f"{'on' if r['rel_coords'] else 'off'}, {r['num_params']} params "
          f"per instance, {r['device']} ({r['threads']} threads)")
    print(f"median {r['median_ms']:.2f} ms, IQR {r['iqr_ms']:.2f} ms "
          f"(q1 {r['q1_ms']:.2f}, q3 {r['q3_ms']:.2f}; {r['repeat']} runs)")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(r, f, indent=2)
    return r


if __name__ == '__main__':
    main()
