"""Run a zoo model on images, a video or a camera and draw its predictions
(MMDetection's ``demo/image_demo.py``, ``video_demo.py`` and
``webcam_demo.py`` as one tool)::

    python tools/demo.py INPUT CONFIG --weights CKPT [--out-dir DIR]
        [--score-thr T] [--device cpu|cuda|cuda:N]
        [--precision fp32|bf16] [--channels-last] [--fuse-conv-bn]

INPUT is an image, a folder of images, a video file, ``webcam`` or
``webcam:N``. Images are written under --out-dir with their own names, a
video as ``<out-dir>/<its name>`` at its own fps; a camera is shown in a
window (q or Esc stops). At the end the tool prints frames per second of the
model (``model.test_step``) and end to end (read, pipeline, model, drawing,
writing).

How it is built:

* The model, test pipeline, collate function and visualizer are mmdet's
  ``DetInferencer`` (mmdet/apis/det_inferencer.py). It serves the zoo's
  configs: it reads a config with ``Config.fromfile``, which imports
  ``custom_imports`` (``projects``: the zoo's heads register themselves),
  and it sets the ``mmdet`` default scope. :class:`ZooDetInferencer`
  changes two things: for a checkpoint whose ``meta`` has no class names it
  takes them from the config's test dataset, not COCO's 80 names; and a
  checkpoint whose weights do not fit the config (another method or class
  count) stops the demo with what does not fit and what the checkpoint
  was trained with, where DetInferencer would draw with half-loaded
  weights.
* The checkpoint first goes through
  ``projects.engine.checkpoint.load_safe_checkpoint``, as in tools/test.py:
  a file that pickles code is refused with its own message, and MMEngine's
  log types are allowed, so that mmengine's loader (torch's
  ``weights_only=True`` default), which DetInferencer then calls, reads
  checkpoints that training wrote. The file is therefore read twice.
* Per frame the tool calls DetInferencer's ``preprocess``, ``forward``
  (timed as "model") and ``visualize`` (DetLocalVisualizer) instead of
  ``__call__``, which times nothing, saves arrays as numbered files under
  ``<out_dir>/vis/`` and opens neither videos nor cameras. ``visualize``
  draws on an array as given, so it gets the frame as RGB (a BGR frame
  would get its class colours swapped). Frames are read and written by
  ``projects/apis/demo_io.py`` (OpenCV).
* ``--precision``/``--channels-last``/``--fuse-conv-bn`` wrap the frames'
  forward calls in ``projects.engine.inference_precision.InferencePrecision``
  (removable forward hooks on the network modules; decoding, NMS and mask
  pasting stay fp32; BatchNorm folded into the convs and unfolded at the
  end); see :func:`precision_context`.
"""
import argparse
import copy
import os.path as osp
import re
import sys
import time
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np
from mmdet.apis import DetInferencer
from mmdet.registry import DATASETS


def device_arg(value: str) -> str:
    """``--device``: ``cpu``, ``cuda`` or ``cuda:N``."""
    if not re.fullmatch(r'cpu|cuda(:\d+)?', value):
        raise argparse.ArgumentTypeError(
            f'unknown device {value!r}; use cpu, cuda or cuda:N')
    return value


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw a model\'s masks, boxes, classes and scores on '
        'images, a video or a camera')
    parser.add_argument(
        'input', help='an image, a folder of images, a video file, '
        '"webcam" or "webcam:N" (camera N)')
    parser.add_argument('config', help='config file')
    parser.add_argument('--weights', required=True, help='checkpoint file')
    parser.add_argument(
        '--out-dir', default=osp.join('work_dirs', 'demo'),
        help='folder for the annotated images or video (default '
        'work_dirs/demo)')
    parser.add_argument(
        '--score-thr', '--pred-score-thr', dest='score_thr', type=float,
        default=0.3, help='draw detections scoring at least this '
        '(default 0.3)')
    parser.add_argument(
        '--device', type=device_arg, default=None,
        help='cpu, cuda or cuda:N (default cuda if available, else cpu)')
    parser.add_argument(
        '--precision', choices=('fp32', 'bf16'), default='fp32',
        help='inference precision (default fp32)')
    parser.add_argument(
        '--channels-last', action='store_true',
        help='run the model on channels-last tensors')
    parser.add_argument(
        '--fuse-conv-bn', action='store_true',
        help='fold BatchNorm layers into the convs before them (speed)')
    return parser.parse_args(argv)


class ZooDetInferencer(DetInferencer):
    """mmdet's ``DetInferencer``, with class names from the config when the
    checkpoint has none, refusing weights that do not fit the config
    (``CheckpointMismatchError``), which ``DetInferencer`` loads with
    ``strict=False`` and a warning.

    ``DetInferencer`` falls back to COCO's 80 names (with a warning) for a
    checkpoint without ``meta.dataset_meta`` or ``meta.CLASSES`` (e.g. a
    re-saved ``state_dict``); the config's test dataset names the classes
    the model was built for. Everything else is ``DetInferencer``'s.
    """

    def __init__(self, model, weights: str, **kwargs) -> None:
        self.weights_path = weights  # for the misfit message
        super().__init__(model, weights, **kwargs)

    def _load_weights_to_model(self, model, checkpoint, cfg) -> None:
        if checkpoint is not None:  # refuse weights that do not fit
            from projects.engine.checkpoint import check_checkpoint_fits
            check_checkpoint_fits(
                model, checkpoint, self.weights_path,
                getattr(cfg, 'filename', 'config'),
                (cfg.test_dataloader.dataset.get('metainfo') or {}).get(
                    'classes'))
        meta = (checkpoint or {}).get('meta') or {}
        if checkpoint is not None and 'dataset_meta' not in meta \
                and 'CLASSES' not in meta:
            ds = dict(copy.deepcopy(cfg.test_dataloader.dataset),
                      lazy_init=True)
            meta = dict(meta, dataset_meta=DATASETS.build(ds).metainfo)
            checkpoint = dict(checkpoint, meta=meta)
        super()._load_weights_to_model(model, checkpoint, cfg)


def precision_context(model, precision: str, channels_last: bool,
                      fuse_conv_bn: bool = False):
    """``InferencePrecision(model, precision=..., channels_last=...,
    fuse_conv_bn=...)`` of projects/engine/inference_precision.py: a context
    manager whose removable forward hooks run the network part of
    ``model.test_step`` in bf16 and/or channels-last (post-processing stays
    fp32), with BatchNorm folded while entered; fp32 without the other
    options is a no-op. Stops with its message when the device has no
    usable bf16."""
    from projects.engine.inference_precision import (InferencePrecision,
                                                     PrecisionNotSupportedError)
    try:
        return InferencePrecision(
            model, precision=precision, channels_last=channels_last,
            fuse_conv_bn=fuse_conv_bn)
    except PrecisionNotSupportedError as e:
        sys.exit(f'error: --precision {precision}: {e}')


def fps_report(model_s: List[float], total_s: List[float]) -> str:
    """Frames per second and ms per frame of the model and end to end.

    Args:
        model_s (list[float]): seconds of ``model.test_step`` per frame.
        total_s (list[float]): seconds per frame end to end.

    Returns:
        str: one line; the first frame (one-time set-up) is left out when
        there are more.
    """
    skip = 1 if len(total_s) > 1 else 0
    parts = []
    for label, times in (('model', model_s), ('end-to-end', total_s)):
        mean = float(np.mean(times[skip:]))
        parts.append(f'{label} {1 / mean:.2f} frames/s '
                     f'({1000 * mean:.1f} ms/frame)')
    kept = len(total_s) - skip
    note = ', first frame left out as warm-up' if skip else ''
    return f'[demo] fps over {kept} frame(s){note}: ' + '; '.join(parts)


def run(inferencer, frames: Iterator[Tuple[str, np.ndarray]],
        sink: Callable[[str, np.ndarray], bool], score_thr: float,
        num_frames: int, device: str) -> Tuple[List[float], List[float],
                                               int]:
    """Predict and draw each frame, and hand it to ``sink``.

    Args:
        inferencer (DetInferencer): the model, pipeline and visualizer.
        frames (Iterator): ``(name, image)``, image a uint8 array of
            shape (H, W, 3), BGR.
        sink (Callable): gets ``(name, drawn image)`` (same shape, BGR);
            returns False to stop.
        score_thr (float): draw detections scoring at least this.
        num_frames (int): for the progress bar; 0 when unknown (no bar).
        device (str): the model's device (CUDA is synchronised for timing).

    Returns:
        tuple: seconds of the model per frame, seconds end to end per frame,
        and the number of detections drawn.
    """
    import torch
    from mmengine.utils import ProgressBar

    bar = ProgressBar(num_frames, file=sys.stdout) if num_frames else None
    model_s, total_s, drawn = [], [], 0
    sync = torch.cuda.synchronize if device.startswith('cuda') else None
    start = time.perf_counter()
    try:
        for name, bgr in frames:
            keep, n = _frame(inferencer, name, bgr, sink, score_thr, sync,
                             model_s)
            drawn += n
            end = time.perf_counter()
            total_s.append(end - start)
            start = end
            if bar:
                bar.update()
            if not keep:
                break
    except KeyboardInterrupt:  # Ctrl-C: stop, report what ran
        print('\n[demo] interrupted')
    if bar:
        bar.file.write('\n')
    return model_s, total_s, drawn


def _frame(inferencer, name, bgr, sink, score_thr, sync, model_s):
    """One frame of :func:`run`: (sink's answer, detections drawn)."""
    _, data = next(iter(inferencer.preprocess([bgr], batch_size=1)))
    t0 = time.perf_counter()
    preds = inferencer.forward(data)
    if sync:
        sync()
    model_s.append(time.perf_counter() - t0)
    drawn = int((preds[0].pred_instances.scores >= score_thr).sum())
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    vis = inferencer.visualize(
        [rgb], preds, return_vis=True, pred_score_thr=score_thr)[0]
    return sink(name, np.ascontiguousarray(vis[..., ::-1])), drawn


def load_config(path: str):
    """The config at ``path``, ready for :class:`ZooDetInferencer`; stops
    with a message naming the file or key at fault."""
    from mmengine.config import Config

    from projects.apis.run_checks import ConfigCheckError, check_model_types
    if not osp.isfile(path):
        sys.exit(f'error: config file {path!r} not found')
    cfg = Config.fromfile(path)  # imports custom_imports (projects)
    try:
        check_model_types(cfg)
    except ConfigCheckError as e:
        sys.exit(f'error: {e}')
    if not (cfg.get('test_dataloader') or {}).get('dataset', {}).get(
            'pipeline'):
        sys.exit(f'error: {path}: no test_dataloader.dataset.pipeline to '
                 'prepare images with')
    # the tool writes the files itself: no LocalVisBackend (it warns
    # without a save_dir); no name: DetInferencer then names the instance
    # by the time, so a Runner's global 'visualizer' is neither taken over
    # nor shadowed
    vis = dict(cfg.get('visualizer') or dict(type='DetLocalVisualizer'))
    vis.pop('name', None)
    cfg.visualizer = dict(vis, vis_backends=None)
    return cfg


def check_weights(path: str) -> str:
    """Refuse a missing, damaged or code-pickling checkpoint (as
    tools/test.py does); return where the class names will come from:
    ``'checkpoint'`` or ``'config'``."""
    from projects.engine.checkpoint import (UnreadableCheckpointError,
                                            UnsafeCheckpointError,
                                            load_safe_checkpoint)
    if not osp.isfile(path):
        sys.exit(f'error: checkpoint {path!r} not found')
    try:  # pickled code is refused before mmengine opens the file
        meta = load_safe_checkpoint(path).get('meta') or {}
    except (UnsafeCheckpointError, UnreadableCheckpointError) as e:
        sys.exit(f'error: {e}')
    return 'checkpoint' if 'dataset_meta' in meta or 'CLASSES' in meta \
        else 'config'


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    from projects.apis.demo_io import (DemoInputError, ImageSink, VideoSink,
                                       WindowSink, headless_reason,
                                       open_camera, open_video, output_path,
                                       parse_input, read_images)

    try:  # the input first, before anything heavy is loaded
        src = parse_input(args.input)
        if src.kind == 'webcam' and headless_reason():
            sys.exit(f'error: INPUT {args.input}: webcam mode shows the '
                     f'frames in a window, but {headless_reason()}. Run it '
                     'where a display is attached (or with X forwarding), '
                     'or record a video and give its file as INPUT: the '
                     'annotated video is then written to --out-dir.')
        for path in src.paths:  # never write over an input
            output_path(args.out_dir, path)
        source = None
        if src.kind == 'video':
            source = open_video(src.paths[0])
        elif src.kind == 'webcam':
            source = open_camera(src.camera)
    except DemoInputError as e:
        sys.exit(f'error: {e}')

    import torch
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and not torch.cuda.is_available():
        sys.exit(f'error: --device {device}: CUDA is not available here')
    cfg = load_config(args.config)
    names_from = check_weights(args.weights)

    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    from projects.engine.checkpoint import CheckpointMismatchError
    try:
        inferencer = ZooDetInferencer(
            cfg, args.weights, device=device, show_progress=False)
    except CheckpointMismatchError as e:
        sys.exit(f'error: {e}')
    classes = inferencer.model.dataset_meta.get('classes') or ()
    print(f'[demo] {args.config} on {device}, {args.precision}'
          f'{", channels-last" if args.channels_last else ""}'
          f'{", BN folded" if args.fuse_conv_bn else ""}; classes '
          f'(from the {names_from}): {", ".join(map(str, classes))}')

    try:
        if src.kind == 'images':
            frames, num = read_images(src.paths), len(src.paths)
            sink = ImageSink(args.out_dir)
        else:
            frames = ((f'frame {i}', f)
                      for i, f in enumerate(source.frames()))
            num = source.num_frames
            sink = VideoSink(args.out_dir, src.paths[0], source) \
                if src.kind == 'video' else \
                WindowSink(f'tools/demo.py {args.input} (q or Esc stops)')
    except DemoInputError as e:
        sys.exit(f'error: {e}')
    try:
        with precision_context(inferencer.model, args.precision,
                               args.channels_last, args.fuse_conv_bn):
            model_s, total_s, drawn = run(inferencer, frames, sink,
                                          args.score_thr, num, device)
    except DemoInputError as e:
        sys.exit(f'error: {e}')
    finally:
        print(f'[demo] {sink.close()}')
    print(f'[demo] {drawn} detection(s) scoring >= {args.score_thr:g} '
          f'drawn on {len(total_s)} frame(s)')
    if total_s:
        print(fps_report(model_s, total_s))


if __name__ == '__main__':
    main()
