"""Export a model's dense network to ONNX and check it against PyTorch.

    python tools/deployment/export_onnx.py CONFIG CKPT --out model.onnx
        [--end2end] [--shape H W] [--image IMAGE] [--opset 17] [--time N]
        [--int8 CALIB_DIR] [--calib-images 8] [--eval-images 4]
        [--score-thr 0.3] [--cfg-options KEY=VALUE ...]

The checkpoint is read as tools/test.py reads it (``weights_only``,
:func:`projects.engine.checkpoint.load_safe_checkpoint`); ``random`` instead
of a file takes the layers' seeded random initialisation (torch's default
per layer, seed 0; not ``init_weights``, with which an untrained SOLO
detects nothing), to check an export without a trained model.

``--end2end`` writes one graph from the image to the detections:
post-processing (decoding, NMS / Fast NMS / Matrix NMS, mask assembly,
crop and paste) inside, in standard ONNX operations, and the input size,
mean/std, class names and thresholds in the file's metadata, so that
tools/deployment/ort_run.py (onnxruntime, numpy and OpenCV only) runs it
(:mod:`projects.deploy.end2end`). It prints how its detections agree with
``model.predict`` at the input size; ``--time N`` times it against torch.

Without ``--end2end``, the graph takes one fixed-shape batch (1, 3, H, W):
``--shape`` or, by default, the config's test resize rounded up to its
padding divisor (384 x 384 for the zoo's small-data configs); images are
resized by the test pipeline and padded to it
(:mod:`projects.deploy.inputs`).
Post-processing is not in the graph: it runs in torch
(:func:`projects.deploy.postprocess`).

On one real image (``--image``, default the first image of the config's
test set) it prints every output's name, shape and the largest absolute
difference between torch and onnxruntime, and how the detections of both
agree (``model.test_cfg``). YOLACT++'s DCNv2 layers are exported through
their standard-op stand-in (:mod:`projects.deploy.dcn`), the torch
reference keeping mmcv's op.

``--time N`` adds the median latency of N batch-1 runs of the network
alone (torch eager ``network_forward``, onnxruntime) and with
post-processing (torch eager ``model.predict``, onnxruntime plus the same
post-processing), on as many threads as torch uses.

``--int8 CALIB_DIR`` also writes ``<out>_int8.onnx``, statically quantised
on the first ``--calib-images`` images of CALIB_DIR (by name, leaving out
the evaluation images; :mod:`projects.deploy.quantize`), and prints how its
detections scoring at least ``--score-thr`` agree with the fp32 graph's on
the first ``--eval-images`` test images (or ``--image``). A calibration
image on which an fp32 output reaches 10x its median over the calibration
images is left out (:func:`projects.deploy.quantize.calibration_outliers`;
``--keep-calib-outliers`` keeps it). Its weights
have 7 bits, which runs right on every x86 CPU; ``--int8-full-range``
keeps 8, for CPUs with VNNI or AMX only (:func:`projects.deploy.quantize.
quantize_int8`).
"""
import argparse
import copy
import os.path as osp
import sys
import time
from typing import List, Optional

from mmengine.config import DictAction

#: CKPT value that asks for seeded random weights instead of a file
RANDOM = 'random'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line (``sys.argv[1:]`` when ``argv`` is None)."""
    parser = argparse.ArgumentParser(
        description='Export the dense network of a model to ONNX and compare '
        'onnxruntime with PyTorch on a real image')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help="checkpoint file, or 'random' "
                        'for seeded random weights (to check an export '
                        'without a trained model)')
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument('--end2end', action='store_true',
                        help='post-processing inside the graph (image in, '
                        'detections out), for tools/deployment/ort_run.py')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='fixed input size in pixels (default: the '
                        "config's test resize)")
    parser.add_argument('--image', help='image to check on (default: the '
                        "first of the config's test set)")
    parser.add_argument('--opset', type=int, default=17,
                        help='ONNX opset, >= 16 (default 17)')
    parser.add_argument('--time', type=int, default=0, metavar='N',
                        help='median latency of N runs (default: none)')
    parser.add_argument('--int8', metavar='CALIB_DIR',
                        help='also write an int8 model calibrated on the '
                        'images of CALIB_DIR')
    parser.add_argument('--int8-full-range', action='store_true',
                        help='int8 weights with 8 bits, not 7: for CPUs '
                        'with VNNI or AMX only (on AVX2 their int8 '
                        'convolutions overflow)')
    parser.add_argument('--calib-images', type=int, default=8,
                        help='calibration images used (default 8)')
    parser.add_argument('--keep-calib-outliers', action='store_true',
                        help='calibrate on every image, also those on '
                        'which an fp32 output reaches 10x its median '
                        '(left out by default: they flatten the int8 '
                        'ranges)')
    parser.add_argument('--eval-images', type=int, default=4,
                        help='test images the int8 model is compared on '
                        '(default 4; --image gives one)')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='int8 comparison: detections scoring at least '
                        "this; --end2end: the runner's default threshold, "
                        'stored in the file (default 0.3)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, key=value')
    args = parser.parse_args(argv)
    if args.shape and min(args.shape) < 32:
        parser.error(f'--shape {args.shape}: at least 32 pixels a side')
    for flag in ('int8_full_range', 'keep_calib_outliers'):
        if getattr(args, flag) and not args.int8:
            parser.error(f'--{flag.replace("_", "-")} needs --int8 '
                         'CALIB_DIR')
    if args.end2end and args.int8:
        parser.error('--int8 applies to the network-only export; '
                     '--end2end graphs are fp32')
    if args.time < 0 or args.calib_images < 1 or args.eval_images < 1:
        parser.error('--time must be >= 0, --calib-images and '
                     '--eval-images >= 1')
    return args


def test_images(cfg, num: int) -> List[str]:
    """Paths of the first ``num`` images of the config's test set.

    Raises:
        SystemExit: the test set cannot be read (naming the config key).
    """
    from mmdet.registry import DATASETS
    try:
        ds = DATASETS.build(copy.deepcopy(cfg.test_dataloader.dataset))
        return [ds.get_data_info(i)['img_path']
                for i in range(min(num, len(ds)))]
    except Exception as e:  # no data: any reason the dataset gives
        sys.exit(f'error: cannot read test_dataloader.dataset of '
                 f'{cfg.filename} ({type(e).__name__}: {e}); give --image')


def median_ms(fn, runs: int) -> float:
    """Median wall time of ``fn()`` in ms over ``runs`` calls, after one
    warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def agreement_line(what: str, agree: dict) -> str:
    """One line summing up :func:`projects.deploy.match_detections`; no
    IoU or score figures when no pair matched (its 1.0 then is no
    agreement)."""
    line = (f'{what}: {agree["num_ref"]} vs {agree["num_test"]} detections,'
            f' {agree["matched"]} matched')
    if not agree['matched']:
        return line
    line += f', box IoU min {agree["min_box_iou"]:.4f}'
    if agree['min_mask_iou'] is not None:
        line += (f', mask IoU min {agree["min_mask_iou"]:.4f} mean '
                 f'{agree["mean_mask_iou"]:.4f}')
    return line + f', max score diff {agree["max_score_diff"]:.2e}'


def export_int8(args, cfg, model, ort32, timed: dict) -> dict:
    """Quantise ``args.out`` and print how its detections scoring at least
    ``--score-thr`` agree with the fp32 graph's on ``--eval-images`` test
    images (left out of the calibration); with ``--time``, time it on the
    batch ``timed`` (``inputs``, ``data_samples``) as the fp32 graph."""
    import torch

    from projects.deploy import OrtDetector, load_batch, match_detections
    from projects.deploy.quantize import (calibration_images,
                                          calibration_outliers, quantize_int8)
    evals = [args.image] if args.image else test_images(cfg, args.eval_images)
    try:
        paths = [p for p in calibration_images(
            args.int8, args.calib_images + len(evals))
            if osp.abspath(p) not in map(osp.abspath, evals)]
    except FileNotFoundError as e:
        sys.exit(f'error: {e}')
    paths = paths[:args.calib_images]
    shape = ort32.input_shape[2:]
    batches = [
        (lambda p=p: load_batch(model, cfg, [p], shape)['inputs'])
        for p in paths
    ]
    outliers = calibration_outliers(args.out, batches) if (
        not args.keep_calib_outliers and len(paths) >= 3) else []
    for o in outliers:
        print(f'int8 calibration: left out {paths[o.index]}: the fp32 '
              f'output {o.output} reaches {o.ratio:.0f}x its median over '
              f'the {len(paths)} images (its min-max ranges would flatten '
              'the others; --keep-calib-outliers keeps it)')
    drop = {o.index for o in outliers}
    left_out = [paths[i] for i in sorted(drop)]
    batches = [b for i, b in enumerate(batches) if i not in drop]
    paths = [p for i, p in enumerate(paths) if i not in drop]
    out = osp.splitext(args.out)[0] + '_int8.onnx'
    start = time.perf_counter()
    quantize_int8(args.out, out, batches,
                  reduce_range=not args.int8_full_range)
    bits = 8 if args.int8_full_range else 7
    print(f'int8: wrote {out} ({osp.getsize(out) / 2**20:.1f} MiB, '
          f'{bits}-bit weights) in '
          f'{time.perf_counter() - start:.1f} s, calibrated on '
          f'{len(paths)} images of {args.int8}')
    ort8 = OrtDetector(model, out, num_threads=torch.get_num_threads())
    total = dict(num_ref=0, num_test=0, matched=0)
    mask_ious = []
    for path in evals:
        data = load_batch(model, cfg, [path], shape)
        x, samples = data['inputs'], data['data_samples']
        ref = ort32.predict(x, copy.deepcopy(samples))[0].pred_instances
        got = ort8.predict(x, copy.deepcopy(samples))[0].pred_instances
        agree = match_detections(ref[ref.scores >= args.score_thr],
                                 got[got.scores >= args.score_thr])
        print(agreement_line(f'int8 vs fp32, {osp.basename(path)}', agree))
        for key in total:
            total[key] += agree[key]
        if agree['matched'] and agree['mean_mask_iou'] is not None:
            mask_ious.append((agree['mean_mask_iou'], agree['matched']))
    matched = sum(n for _, n in mask_ious)
    mean_iou = sum(m * n for m, n in mask_ious) / matched if matched \
        else None
    print(f'int8 vs fp32, score >= {args.score_thr}, {len(evals)} images: '
          f'{total["num_ref"]} vs {total["num_test"]} detections, '
          f'{total["matched"]} matched' + (
              f', mean mask IoU {mean_iou:.4f}' if matched else ''))
    result = dict(int8_path=out, int8_mean_mask_iou=mean_iou,
                  calib_left_out=left_out, **total)
    if args.time:
        x, samples = timed['inputs'], timed['data_samples']
        result.update(
            int8_net_ms=median_ms(lambda: ort8.run(x), args.time),
            int8_ms=median_ms(
                lambda: ort8.predict(x, copy.deepcopy(samples)), args.time))
        print(f'int8 latency (as fp32 above): network '
              f'{result["int8_net_ms"]:.1f} ms, with post-processing '
              f'{result["int8_ms"]:.1f} ms')
    return result


def export_end2end_tool(args, cfg, model, net, data, shape) -> dict:
    """``--end2end``: write the graph, compare it with ``model.predict`` on
    ``data`` (input size), time both with ``--time``."""
    import onnxruntime as ort
    import torch

    from projects.deploy import (end2end_instances, end2end_metadata,
                                 export_end2end, match_detections)
    x, samples = data['inputs'], data['data_samples']
    meta = end2end_metadata(cfg, model, shape, args.score_thr)
    start = time.perf_counter()
    try:
        export_end2end(net, args.out, x, meta, opset=args.opset)
    except (NotImplementedError, ValueError) as e:
        sys.exit(f'error: {args.config}: {e}')
    export_s = time.perf_counter() - start
    size_mib = osp.getsize(args.out) / 2**20
    print(f'wrote {args.out} (end-to-end, {size_mib:.1f} MiB, opset '
          f'{args.opset}) in {export_s:.1f} s')
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(args.out, options,
                                   providers=['CPUExecutionProvider'])
    feed = {'inputs': x.numpy()}
    mask_thr = float(meta['mask_thr'])
    got = end2end_instances(session.run(None, feed), mask_thr)
    with torch.no_grad():
        ref = model.predict(x, copy.deepcopy(samples),
                            rescale=False)[0].pred_instances
    agree = match_detections(ref, got)
    print(agreement_line('torch vs end-to-end onnxruntime', agree))
    result = dict(export_s=export_s, size_mib=size_mib, agreement=agree)
    if args.time:
        with torch.no_grad():
            result['torch_ms'] = median_ms(
                lambda: model.predict(x, copy.deepcopy(samples),
                                      rescale=False), args.time)
        result['ort_ms'] = median_ms(lambda: session.run(None, feed),
                                     args.time)
        print(f'latency, batch 1, median of {args.time} ({shape[0]}x'
              f'{shape[1]}, {torch.get_num_threads()} threads, '
              f'{agree["num_ref"]} detections): torch eager '
              f'{result["torch_ms"]:.1f} ms, end-to-end onnxruntime '
              f'{result["ort_ms"]:.1f} ms')
    return result


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the tool; returns the measured values (for tests).

    Raises:
        SystemExit: naming the file or config at fault.
    """
    args = parse_args(argv)
    for what, path in (('config', args.config),
                       ('checkpoint', args.checkpoint)):
        if not osp.isfile(path) and (what, path) != ('checkpoint', RANDOM):
            sys.exit(f'error: {what} {path!r} not found')
    if args.image and not osp.isfile(args.image):
        sys.exit(f'error: image {args.image!r} not found')
    import torch
    from mmengine.config import Config

    from projects.apis import load_detector
    from projects.deploy import (OrtDetector, dcn_layers, detector_split,
                                 export_onnx, fixed_input_shape, load_batch,
                                 match_detections, network_forward,
                                 postprocess, with_standard_dcn)
    from projects.engine.checkpoint import (UnreadableCheckpointError,
                                            UnsafeCheckpointError)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        shape = tuple(args.shape) if args.shape else fixed_input_shape(cfg)
        model = load_detector(
            cfg, None if args.checkpoint == RANDOM else args.checkpoint)
        detector_split(model).layouts(model)  # a supported model
    except (UnsafeCheckpointError, UnreadableCheckpointError,
            NotImplementedError, ValueError) as e:
        sys.exit(f'error: {e}')
    image = args.image or test_images(cfg, 1)[0]
    try:
        data = load_batch(model, cfg, [image], shape)
    except ValueError as e:
        sys.exit(f'error: {e}')
    x, samples = data['inputs'], data['data_samples']
    print(f'input {tuple(x.shape)} from {image}')

    net = model
    dcn = dcn_layers(model)
    if dcn:
        net = with_standard_dcn(model)
        print(f'{len(dcn)} DCNv2 layers exported as GridSampleDCNv2 '
              '(standard ONNX ops, projects/deploy/dcn.py)')
    if args.end2end:
        return export_end2end_tool(args, cfg, model, net, data, shape)
    start = time.perf_counter()
    try:
        outs = export_onnx(net, args.out, x, opset=args.opset)
    except (NotImplementedError, ValueError) as e:
        sys.exit(f'error: {args.config}: {e}')
    export_s = time.perf_counter() - start
    size_mib = osp.getsize(args.out) / 2**20
    print(f'wrote {args.out} ({size_mib:.1f} MiB, opset {args.opset}) in '
          f'{export_s:.1f} s')
    if dcn:
        with torch.no_grad():
            outs = network_forward(model, x)  # mmcv's DCN as reference

    ort = OrtDetector(model, args.out, num_threads=torch.get_num_threads())
    ort_outs = ort.run(x)
    diffs = []
    print(f'{"output":36s} {"shape":20s} {"max |torch|":>12s} '
          f'{"max abs diff":>12s}')
    for name, t, o in zip(ort.output_names, outs, ort_outs):
        diffs.append(float((t - o).abs().max()))
        print(f'{name:36s} {str(tuple(t.shape)):20s} '
              f'{float(t.abs().max()):12.4g} {diffs[-1]:12.3g}')
    with torch.no_grad():
        ref = postprocess(model, outs, copy.deepcopy(samples))
    got = ort.predict(x, copy.deepcopy(samples))
    agree = match_detections(ref[0].pred_instances, got[0].pred_instances)
    print(agreement_line('torch vs onnxruntime', agree))
    result = dict(export_s=export_s, size_mib=size_mib,
                  max_abs_diff=max(diffs), agreement=agree)
    if args.time:
        with torch.no_grad():
            times = dict(
                torch_net_ms=median_ms(lambda: network_forward(model, x),
                                       args.time),
                torch_ms=median_ms(
                    lambda: model.predict(x, copy.deepcopy(samples)),
                    args.time))
        times.update(
            ort_net_ms=median_ms(lambda: ort.run(x), args.time),
            ort_ms=median_ms(lambda: ort.predict(x, copy.deepcopy(samples)),
                             args.time))
        print(f'latency, batch 1, median of {args.time} ({shape[0]}x'
              f'{shape[1]}, {torch.get_num_threads()} threads, '
              f'{agree["num_ref"]} detections): network torch eager '
              f'{times["torch_net_ms"]:.1f} ms, onnxruntime '
              f'{times["ort_net_ms"]:.1f} ms; with post-processing torch '
              f'{times["torch_ms"]:.1f} ms, onnxruntime '
              f'{times["ort_ms"]:.1f} ms')
        result.update(times)
    if args.int8:
        result['int8'] = export_int8(args, cfg, model, ort, data)
    return result


if __name__ == '__main__':
    main()
