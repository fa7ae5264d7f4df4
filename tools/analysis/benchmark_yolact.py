"""Time the YOLACT family's NMS and our YOLACT against mmdet's, in one run.

    python tools/analysis/benchmark_yolact.py [--runs 20] [--seed 0]
        [--config configs/yolact/yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py]
        [--checkpoint CKPT]
        [--image IMG] [--model-runs 20] [--skip-model]

Part 1, NMS (SSS §3.3):
For 80 classes x 200 and 80 x 1000 detections (boxes jittered around 20
objects, each detection with one dominant class, as a trained detector's
sigmoid scores look), prints the median time in ms over ``--runs`` runs (after
a warm-up), the kept detections, and how many of standard NMS's kept
(detection, class) pairs each method also keeps.

Part 2, model: the zoo's YOLACT (``--config``) and mmdet 3.3's stock YOLACT
(:func:`projects.yolact.mmdet_peer.mmdet_yolact_model`) with the same weights
(``--checkpoint``, else random with ``--seed``) on the same real image (else
the first image of the config's test set): median ms over
``--model-runs`` rounds (the two models alternate within each round) of the
whole prediction, of its pre-processing + backbone + neck part and of the
rest (heads, NMS, mask assembly and pasting at the original size), the
detections, and our time / mmdet's.

Benchmarks belong here, not in the timed tests.
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch
from mmcv.ops import nms as mmcv_nms
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import load_checkpoint

from mmdet.registry import DATASETS, MODELS
from mmdet.utils import register_all_modules
from projects.engine.checkpoint import allow_mmengine_checkpoints
from projects.layers.nms import NMS_TYPES, multiclass_nms
from projects.yolact.mmdet_peer import mmdet_yolact_model


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


def benchmark_nms(runs: int, seed: int) -> None:
    """Part 1: print the NMS table (see the module docstring)."""
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'median of {runs} runs')
    print('speed-up and shared are relative to standard NMS (mmcv '
          'batched_nms, one call with per-class offsets)')
    print(f'{"classes x boxes":>16} {"method":>22} {"ms":>9} {"speed-up":>9} '
          f'{"kept":>6} {"shared with nms":>16}')
    for num_boxes in (200, 1000):
        boxes, scores = make_case(num_boxes, 80, seed)
        results = {}
        for nms_type in ('nms', ) + tuple(t for t in NMS_TYPES if t != 'nms'):
            cfg = dict(type=nms_type, iou_threshold=0.5, score_thr=0.05,
                       top_k=200, max_per_img=-1)
            ms = time_ms(lambda: multiclass_nms(boxes, scores, cfg), runs)
            _, labels, inds = multiclass_nms(boxes, scores, cfg)
            results[nms_type] = (ms, set(zip(inds.tolist(),
                                             labels.tolist())))
        loop_ms = time_ms(lambda: per_class_loop_nms(boxes, scores), runs)
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


def _stages_ms(model, batch) -> tuple:
    """One test_step split into (pre-processing + backbone + neck, heads +
    NMS + masks) in ms, as ``SingleStageInstanceSegmentor.predict`` runs
    it; returns the detections too."""
    with torch.no_grad():
        t0 = time.perf_counter()
        data = model.data_preprocessor(batch, False)
        x = model.extract_feat(data['inputs'])
        t1 = time.perf_counter()
        samples = data['data_samples']
        results = model.bbox_head.predict(x, samples, rescale=False)
        results = model.mask_head.predict(
            x, samples, rescale=True, results_list=results)
        t2 = time.perf_counter()
    return (t1 - t0) * 1000, (t2 - t1) * 1000, len(results[0])


def _time_models(models: dict, batch, runs: int) -> dict:
    """Median stage times per model; the models alternate within each
    round (and swap order every round) so that drifts of the CPU's speed
    hit all of them alike."""
    names = list(models)
    for name in names:  # warm-up
        _stages_ms(models[name], batch)
    times = {name: [] for name in names}
    for r in range(runs):
        for name in (names if r % 2 == 0 else names[::-1]):
            times[name].append(_stages_ms(models[name], batch))
    rows = {}
    for name, ts in times.items():
        feat = statistics.median(t[0] for t in ts)
        rest = statistics.median(t[1] for t in ts)
        total = statistics.median(t[0] + t[1] for t in ts)
        rows[name] = dict(total=total, feat=feat, rest=rest, dets=ts[0][2])
    return rows


def benchmark_model(args) -> None:
    """Part 2: our YOLACT against mmdet's on the same weights and image."""
    register_all_modules()
    cfg = Config.fromfile(args.config)
    cfg.model.backbone.init_cfg = None
    # mmdet's YOLACT has no normalised prototypes (the small-data recipe's
    # proto_norm, a parameter-free layer): both models run the paper's
    cfg.model.mask_head.proto_norm = False
    torch.manual_seed(args.seed)
    ours = MODELS.build(cfg.model).eval()
    if args.checkpoint:
        allow_mmengine_checkpoints()
        load_checkpoint(ours, args.checkpoint, map_location='cpu')
    theirs = MODELS.build(mmdet_yolact_model(cfg.model)).eval()
    theirs.load_state_dict(ours.state_dict())
    dataset_cfg = cfg.test_dataloader.dataset
    dataset = DATASETS.build(dataset_cfg)
    index = 0
    if args.image:
        names = [osp.basename(dataset.get_data_info(i)['img_path'])
                 for i in range(len(dataset))]
        if osp.basename(args.image) not in names:
            raise SystemExit(f'--image {args.image} is not in the test set '
                             f'of {args.config}')
        index = names.index(osp.basename(args.image))
    batch = pseudo_collate([dataset[index]])
    meta = batch['data_samples'][0]
    print(f'\n{args.config}, weights: {args.checkpoint or "random"}, image '
          f'{osp.basename(meta.img_path)} {meta.ori_shape[1]}x'
          f'{meta.ori_shape[0]} -> {meta.img_shape[1]}x{meta.img_shape[0]}, '
          f'median of {args.model_runs} runs')
    rows = _time_models(dict(ours=ours, mmdet=theirs), batch,
                        args.model_runs)
    print(f'{"model":>6} {"total ms":>9} {"backbone+neck":>14} '
          f'{"heads+post":>11} {"dets":>5}')
    for name, r in rows.items():
        print(f'{name:>6} {r["total"]:9.1f} {r["feat"]:14.1f} '
              f'{r["rest"]:11.1f} {r["dets"]:5d}')
    print(f'ours / mmdet: {rows["ours"]["total"] / rows["mmdet"]["total"]:.2f}'
          f'x (target <= 0.9x)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--config', default='configs/yolact/yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py')
    parser.add_argument('--checkpoint')
    parser.add_argument('--image', help='an image of the config test set')
    parser.add_argument('--model-runs', type=int, default=20)
    parser.add_argument('--skip-model', action='store_true')
    args = parser.parse_args()
    if not args.skip_model:
        for flag, path in (('--config', args.config),
                           ('--checkpoint', args.checkpoint)):
            if path and not osp.isfile(path):
                sys.exit(f'error: {flag} {path!r}: no such file (relative '
                         'paths are from the working directory; run from '
                         'the repository root or pass an absolute path)')
    benchmark_nms(args.runs, args.seed)
    if not args.skip_model:
        benchmark_model(args)


if __name__ == '__main__':
    main()
