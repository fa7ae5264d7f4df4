"""Run an exported model with onnxruntime (CPU) on images.

    python tools/deployment/onnx_infer.py CONFIG MODEL.onnx IMAGE...
        [--out-dir DIR] [--score-thr 0.3] [--checkpoint CKPT]
        [--threads N] [--cfg-options KEY=VALUE ...]

MODEL.onnx comes from tools/deployment/export_onnx.py with the same CONFIG.
Each image goes through the config's test pipeline, is padded to the
graph's fixed input size, runs in onnxruntime and is post-processed by the
config's heads in torch (:class:`projects.deploy.OrtDetector`): the
detections ``model.predict`` gives. For every image it prints the
detections scoring at least ``--score-thr`` (class, score, box in
original-image pixels, mask area in pixels); with ``--out-dir`` it also
draws them with mmdet's ``DetLocalVisualizer`` into DIR/<image name>.

Only YOLACT++ needs ``--checkpoint``: its mask re-scoring net runs in
post-processing, outside the graph; other methods take no weights besides
the ONNX file.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line (``sys.argv[1:]`` when ``argv`` is None)."""
    parser = argparse.ArgumentParser(
        description='Run an exported ONNX model with onnxruntime on images '
        'and post-process it as the config does')
    parser.add_argument('config', help='the config the model was exported '
                        'from')
    parser.add_argument('onnx', help='the .onnx file')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--out-dir', help='draw the detections into DIR')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='print/draw detections scoring at least this '
                        '(default 0.3)')
    parser.add_argument('--checkpoint', help='weights of the post-processing '
                        "modules (YOLACT++'s re-scoring net)")
    parser.add_argument('--threads', type=int, default=None,
                        help="onnxruntime intra-op threads (default: its "
                        'own, all cores)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, key=value')
    return parser.parse_args(argv)


def dataset_meta(cfg) -> dict:
    """``classes`` and ``palette`` of the config's test set: its
    ``metainfo`` or its dataset class's ``METAINFO``."""
    from mmdet.registry import DATASETS
    ds_cfg = cfg.test_dataloader.dataset
    meta = dict(DATASETS.get(ds_cfg.type).METAINFO)
    meta.update(ds_cfg.get('metainfo') or {})
    return meta


def main(argv: Optional[List[str]] = None) -> list:
    """Run the tool; returns one DetDataSample per image.

    Raises:
        SystemExit: naming the file or option at fault.
    """
    args = parse_args(argv)
    for what, path in [('config', args.config), ('ONNX model', args.onnx)] \
            + [('image', p) for p in args.images] \
            + [('checkpoint', args.checkpoint)] * bool(args.checkpoint):
        if not osp.isfile(path):
            sys.exit(f'error: {what} {path!r} not found')
    from mmengine.config import Config

    from projects.apis import load_detector
    from projects.deploy import OrtDetector, load_batch, postprocess_modules
    from projects.engine.checkpoint import (UnreadableCheckpointError,
                                            UnsafeCheckpointError)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        model = load_detector(cfg, args.checkpoint)
        post = postprocess_modules(model)
        if post and not args.checkpoint:
            sys.exit(f'error: {args.config}: {", ".join(post)} run in '
                     'post-processing, outside the ONNX graph; give their '
                     'weights with --checkpoint')
        ort = OrtDetector(model, args.onnx, num_threads=args.threads)
    except (UnsafeCheckpointError, UnreadableCheckpointError,
            NotImplementedError, ValueError) as e:
        sys.exit(f'error: {e}')
    batch, _, height, width = ort.input_shape
    classes = dataset_meta(cfg)['classes']
    visualizer = None
    if args.out_dir:
        from mmdet.visualization import DetLocalVisualizer
        os.makedirs(args.out_dir, exist_ok=True)
        visualizer = DetLocalVisualizer.get_instance('onnx_infer')
        visualizer.dataset_meta = dataset_meta(cfg)
    results = []
    for start in range(0, len(args.images), batch):
        paths = args.images[start:start + batch]
        # a fixed batch size: the last chunk repeats its last image
        chunk = paths + paths[-1:] * (batch - len(paths))
        try:
            data = load_batch(model, cfg, chunk, (height, width))
        except ValueError as e:
            sys.exit(f'error: {e}')
        samples = ort.predict(data['inputs'], data['data_samples'])
        for path, sample in zip(paths, samples):
            results.append(sample)
            show(path, sample, classes, args.score_thr)
            if visualizer is not None:
                draw(visualizer, path, sample, args)
    return results


def show(path: str, sample, classes, thr: float) -> None:
    """Print the detections of one image scoring at least ``thr``."""
    pred = sample.pred_instances
    pred = pred[pred.scores >= thr]
    print(f'{path}: {len(pred)} detections with score >= {thr}')
    for i in range(len(pred)):
        box = [round(float(v), 1) for v in pred.bboxes[i]]
        area = int(pred.masks[i].sum()) if 'masks' in pred else 0
        print(f'  {classes[int(pred.labels[i])]:12s} '
              f'{float(pred.scores[i]):.3f} box {box} mask {area} px')


def draw(visualizer, path: str, sample, args) -> None:
    """Draw one image's detections into ``--out-dir``."""
    import mmcv
    out = osp.join(args.out_dir, osp.basename(path))
    visualizer.add_datasample(
        osp.basename(path), mmcv.imread(path, channel_order='rgb'), sample,
        draw_gt=False, show=False, pred_score_thr=args.score_thr,
        out_file=out)
    print(f'  wrote {out}')


if __name__ == '__main__':
    main()
