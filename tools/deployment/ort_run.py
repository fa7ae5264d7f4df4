"""Run an end-to-end ONNX model on images with onnxruntime, numpy and
OpenCV only: no PyTorch, mmcv, mmdet or config.

    python tools/deployment/ort_run.py MODEL.onnx IMAGE... [--out-dir DIR]
        [--score-thr T] [--threads N] [--json FILE]

MODEL.onnx comes from ``tools/deployment/export_onnx.py CONFIG CKPT --out
MODEL.onnx --end2end``; its metadata holds the input size, the channel
order, mean and std, the class names, the default score threshold and the
mask threshold. This script does the resize and normalisation (the graph
takes the resized, normalised image), runs the graph, maps boxes and mask
probabilities back to the original image size (bilinear, then binarised at
the mask threshold), prints each detection scoring at least the threshold
(class, score, box in image pixels, mask area in pixels) and, with
``--out-dir``, draws them into DIR/<image name>. ``--json`` writes the
detections of all images (box, score, label, and the mask as COCO's
uncompressed run-length encoding), for evaluation with pycocotools.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

import cv2
import numpy as np
import onnxruntime as ort

#: metadata keys the runner needs (written by projects/deploy/end2end.py)
META_KEYS = ('input_shape', 'mean', 'std', 'bgr_to_rgb', 'classes',
             'score_thr', 'mask_thr')
#: metadata keys read when present (files exported before them lack them)
OPTIONAL_KEYS = ('boxes_from_masks', )


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """The command line (``sys.argv[1:]`` when ``argv`` is None)."""
    parser = argparse.ArgumentParser(
        description='Run an end-to-end ONNX instance segmenter on images '
        'with onnxruntime only')
    parser.add_argument('onnx', help='the end-to-end .onnx file')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--out-dir', help='draw the detections into DIR')
    parser.add_argument('--score-thr', type=float, default=None,
                        help="print/draw detections scoring at least this "
                        "(default: the file's score_thr)")
    parser.add_argument('--threads', type=int, default=None,
                        help="onnxruntime intra-op threads (default: all "
                        'cores)')
    parser.add_argument('--json', help='write every detection of every '
                        'image (masks as COCO RLE) to this file')
    return parser.parse_args(argv)


def read_metadata(session: ort.InferenceSession, path: str) -> Dict:
    """The runner's settings from the model's metadata.

    Raises:
        SystemExit: the file has no end-to-end metadata (naming the key).
    """
    props = session.get_modelmeta().custom_metadata_map
    missing = [k for k in META_KEYS if k not in props]
    if missing:
        sys.exit(f'error: {path}: no {", ".join(missing)} in its metadata; '
                 'export it with tools/deployment/export_onnx.py --end2end')
    return {k: json.loads(v) for k, v in props.items()
            if k in META_KEYS + OPTIONAL_KEYS}


def preprocess(image: np.ndarray, meta: Dict) -> np.ndarray:
    """The image (H0, W0, 3) BGR uint8 as the graph's input (1, 3, H, W)
    float32: resized to the input size, channels swapped if the model was
    trained on RGB, normalised."""
    h, w = meta['input_shape']
    x = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
    if meta['bgr_to_rgb']:
        x = x[:, :, ::-1]
    x = (x.astype(np.float32) - np.float32(meta['mean'])) / \
        np.float32(meta['std'])
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def to_image(outputs: List[np.ndarray], meta: Dict, image_hw, score_thr
             ) -> Dict[str, np.ndarray]:
    """The graph's detections scoring at least ``score_thr``, at the
    original image size: boxes (n, 4) in image pixels, masks (n, H0, W0)
    bool. With ``boxes_from_masks`` in the metadata (SOLOv2) the boxes are
    the tight boxes of these masks, (x1, y1, x2 + 1, y2 + 1) and zeros for
    an empty mask, as PyTorch takes them at the image size (scaling the
    graph's input-size boxes would move each side by up to a scale
    factor)."""
    boxes, scores, labels, probs = outputs
    keep = scores >= score_thr
    boxes, scores, labels, probs = (boxes[keep], scores[keep], labels[keep],
                                    probs[keep])
    h, w = meta['input_shape']
    img_h, img_w = image_hw
    boxes = boxes * np.float32([img_w / w, img_h / h, img_w / w, img_h / h])
    masks = np.zeros((len(probs), img_h, img_w), dtype=bool)
    for i, p in enumerate(probs):
        masks[i] = cv2.resize(p, (img_w, img_h),
                              interpolation=cv2.INTER_LINEAR) > \
            meta['mask_thr']
    if meta.get('boxes_from_masks'):
        boxes = mask_boxes(masks)
    return dict(boxes=boxes, scores=scores, labels=labels, masks=masks)


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """Tight boxes of binary masks (n, H, W): (n, 4) float32, (x1, y1,
    x2 + 1, y2 + 1) in pixels, zeros for an empty mask (mmdet's
    ``mask2bbox``)."""
    boxes = np.zeros((len(masks), 4), dtype=np.float32)
    for i, m in enumerate(masks):
        cols, rows = np.flatnonzero(m.any(0)), np.flatnonzero(m.any(1))
        if len(cols):
            boxes[i] = cols[0], rows[0], cols[-1] + 1, rows[-1] + 1
    return boxes


def rle(mask: np.ndarray) -> Dict:
    """COCO's uncompressed RLE of a binary mask (column-major run
    lengths, starting with the zeros)."""
    flat = mask.T.reshape(-1).astype(np.uint8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        counts = [0] + counts
    return dict(size=list(mask.shape), counts=counts)


def draw(image: np.ndarray, dets: Dict, classes: List[str]) -> np.ndarray:
    """The detections over ``image``: a translucent mask, box and
    ``class score`` label each."""
    out = image.copy()
    rng = np.random.default_rng(0)
    colors = rng.integers(64, 256, (max(len(classes), 1), 3))
    for box, score, label, mask in zip(dets['boxes'], dets['scores'],
                                       dets['labels'], dets['masks']):
        color = [int(c) for c in colors[int(label) % len(colors)]]
        out[mask] = (0.5 * out[mask] + 0.5 * np.array(color)).astype(
            np.uint8)
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, 2)
        cv2.putText(out, f'{classes[int(label)]} {score:.2f}',
                    (x1, max(y1 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    color, 1, cv2.LINE_AA)
    return out


def main(argv: Optional[List[str]] = None) -> List[Dict]:
    """Run the tool; returns each image's detections (for tests).

    Raises:
        SystemExit: a missing file or a model without end-to-end metadata.
    """
    args = parse_args(argv)
    for path in [args.onnx] + args.images:
        if not osp.isfile(path):
            sys.exit(f'error: {path!r}: no such file')
    options = ort.SessionOptions()
    if args.threads:
        options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(args.onnx, options,
                                   providers=['CPUExecutionProvider'])
    meta = read_metadata(session, args.onnx)
    score_thr = meta['score_thr'] if args.score_thr is None \
        else args.score_thr
    classes = meta['classes']
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
    results, records = [], []
    for image_id, path in enumerate(args.images):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            sys.exit(f'error: {path!r}: not an image OpenCV can read')
        outputs = session.run(None, {'inputs': preprocess(image, meta)})
        dets = to_image(outputs, meta, image.shape[:2], score_thr)
        print(f'{path}: {len(dets["scores"])} detections scoring >= '
              f'{score_thr:g}')
        for box, score, label, mask in zip(dets['boxes'], dets['scores'],
                                           dets['labels'], dets['masks']):
            print(f'  {classes[int(label)]:12s} {score:.3f} box '
                  f'[{", ".join(f"{v:.1f}" for v in box)}] mask '
                  f'{int(mask.sum())} px')
            records.append(dict(
                image=path, image_index=image_id,
                category=classes[int(label)], label=int(label),
                score=float(score), bbox=[float(v) for v in box],
                segmentation=rle(mask)))
        if args.out_dir:
            out = osp.join(args.out_dir, osp.basename(path))
            cv2.imwrite(out, draw(image, dets, classes))
        results.append(dets)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(records, f)
        print(f'wrote {len(records)} detections to {args.json}')
    return results


if __name__ == '__main__':
    main()
