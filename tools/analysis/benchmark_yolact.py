"""Time Fast NMS, cross-class Fast NMS and standard NMS on one CPU run.

    python tools/analysis/benchmark_nms.py [--runs 20] [--seed 0]

For 80 classes x 200 and 80 x 1000 detections (boxes jittered around 20
objects, each detection with one dominant class, as a trained detector's
sigmoid scores look), prints the median time in ms over ``--runs`` runs (after
a warm-up), the kept detections, and how many of standard NMS's kept
(detection, class) pairs each method also keeps. Benchmarks belong here, not
in the timed tests.
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from mmcv.ops import nms as mmcv_nms  # noqa: E402

from projects.core.nms import NMS_TYPES, multiclass_nms  # noqa: E402


def per_class_loop_nms(boxes, scores, score_thr=0.05, iou_thr=0.5,
                       top_k=200):
    """The classic baseline: one mmcv ``nms`` call per class."""
    labels, inds = [], []
    for c in range(scores.size(1)):
        s, i = scores[:, c].topk(min(top_k, scores.size(0)))
        i = i[s > score_thr]
        if len(i):
            _, keep = mmcv_nms(boxes[i], scores[i, c], iou_thr)
            inds.append(i[keep])
            labels.append(torch.full_like(i[keep], c))
    if not inds:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0,
                                                            dtype=torch.long)
    return torch.cat(labels), torch.cat(inds)


def make_case(num_boxes: int, num_classes: int, seed: int):
    """Detections clustered on 20 objects; returns boxes (n, 4), scores (n, C).
    """
    g = torch.Generator().manual_seed(seed)
    objects = torch.rand(20, 2, generator=g) * 500
    sizes = 30 + torch.rand(20, 2, generator=g) * 120
    obj_cls = torch.randint(0, num_classes, (20, ), generator=g)
    pick = torch.randint(0, 20, (num_boxes, ), generator=g)
    xy = objects[pick] + torch.randn(num_boxes, 2, generator=g) * 10
    wh = sizes[pick] * (1 + 0.15 * torch.randn(num_boxes, 2, generator=g))
    boxes = torch.cat([xy, xy + wh.clamp(min=4)], 1)
    # background classes mostly near 0, a few above the 0.05 threshold
    scores = torch.rand(num_boxes, num_classes, generator=g)**6 * 0.1
    scores[torch.arange(num_boxes), obj_cls[pick]] = 0.3 + 0.7 * torch.rand(
        num_boxes, generator=g)
    return boxes, scores


def time_ms(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'median of {args.runs} runs')
    print('speed-up and shared are relative to standard NMS (mmcv '
          'batched_nms, one call with per-class offsets)')
    print(f'{"classes x boxes":>16} {"method":>22} {"ms":>9} {"speed-up":>9} '
          f'{"kept":>6} {"shared with nms":>16}')
    for num_boxes in (200, 1000):
        boxes, scores = make_case(num_boxes, 80, args.seed)
        results = {}
        for nms_type in ('nms', ) + tuple(t for t in NMS_TYPES if t != 'nms'):
            cfg = dict(type=nms_type, iou_threshold=0.5, score_thr=0.05,
                       top_k=200, max_per_img=-1)
            ms = time_ms(lambda: multiclass_nms(boxes, scores, cfg),
                         args.runs)
            _, labels, inds = multiclass_nms(boxes, scores, cfg)
            results[nms_type] = (ms, set(zip(inds.tolist(),
                                             labels.tolist())))
        loop_ms = time_ms(lambda: per_class_loop_nms(boxes, scores),
                          args.runs)
        labels, inds = per_class_loop_nms(boxes, scores)
        results['nms (per-class loop)'] = (loop_ms,
                                           set(zip(inds.tolist(),
                                                   labels.tolist())))
        ref_ms, ref_kept = results['nms']
        for nms_type, (ms, kept) in results.items():
            shared = len(kept & ref_kept)
            print(f'{f"80 x {num_boxes}":>16} {nms_type:>22} {ms:9.2f} '
                  f'{ref_ms / ms:8.1f}x {len(kept):6d} '
                  f'{shared:5d} ({100 * shared / max(len(ref_kept), 1):5.1f}%)')


if __name__ == '__main__':
    main()
