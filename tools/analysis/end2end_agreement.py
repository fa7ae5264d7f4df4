"""The end-to-end ONNX graph against PyTorch on a test split: detections,
mask AP and latency (docs/results/end2end).

    python tools/analysis/end2end_agreement.py CONFIG CKPT --label NAME
        [--images 100] [--score-thr 0.3] [--time 20] [--out FILE.json]
        [--readme docs/results/end2end/README.md]

Exports CONFIG with CKPT end to end (``tools/deployment/export_onnx.py
--end2end``'s code), then, on the first ``--images`` images of the
config's test split:

* runs the graph as ``tools/deployment/ort_run.py`` does (its own
  ``preprocess`` and ``to_image``: resize, normalise, boxes and mask
  probabilities back to the image, binarised) and PyTorch's
  ``model.predict`` at the original size;
* matches the detections scoring at least ``--score-thr`` (same label, box
  IoU >= 0.5) and reports how many match, the least box and mask IoU of
  the matched pairs;
* evaluates both sets of detections (all of them) with pycocotools
  against the split's annotations: mask and box AP;
* with ``--time N``, the median batch-1 latency of N runs on one image:
  the graph in onnxruntime (input already preprocessed), PyTorch eager
  fp32 and bf16 with folded BatchNorm (``InferencePrecision``), both
  ``model.predict`` on the preprocessed batch; all on torch's thread
  count.

Each run adds (or replaces) its ``--label`` row in ``--out`` and the table
in ``--readme``.
"""
import argparse
import copy
import importlib.util
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

COLUMNS = ('method', 'images', 'dets >= thr torch / ORT', 'matched',
           'min box IoU', 'min mask IoU', 'mask AP torch / ORT',
           'box AP torch / ORT', 'MiB', 'ORT fp32 ms', 'torch fp32 ms',
           'torch bf16 fused ms', 'CPU')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--label', required=True, help='row name')
    parser.add_argument('--images', type=int, default=100)
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--time', type=int, default=0, metavar='N')
    parser.add_argument('--work-dir', default='work_dirs/end2end')
    parser.add_argument('--out', default='docs/results/end2end/'
                        'agreement.json')
    parser.add_argument('--readme')
    return parser.parse_args(argv)


def load_tool(rel: str):
    """A script under tools/ as a module (its code, not a copy):
    ``deployment/ort_run.py`` for the runner's pre- and post-processing,
    ``deployment/export_onnx.py`` for its ``median_ms``."""
    path = osp.join(ROOT, 'tools', rel)
    spec = importlib.util.spec_from_file_location(
        osp.basename(rel)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def coco_ap(coco_gt, records: List[dict], iou_type: str) -> float:
    """COCO AP (%) of ``records`` (loadRes format); 0 detections give 0."""
    from pycocotools.cocoeval import COCOeval
    if not records:
        return 0.0
    dt = coco_gt.loadRes(copy.deepcopy(records))
    ev = COCOeval(coco_gt, dt, iou_type)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return float(ev.stats[0]) * 100


def to_records(img_id: int, cat_ids: List[int], boxes, scores, labels,
               masks, rle_fn) -> List[dict]:
    """COCO result records of one image (boxes x1y1x2y2 in pixels)."""
    from pycocotools import mask as mask_utils
    out = []
    for box, score, label, mask in zip(boxes, scores, labels, masks):
        x1, y1, x2, y2 = (float(v) for v in box)
        rle = rle_fn(mask)
        rle = mask_utils.frPyObjects(rle, *rle['size'])
        rle['counts'] = rle['counts'].decode()
        out.append(dict(image_id=img_id, category_id=cat_ids[int(label)],
                        bbox=[x1, y1, x2 - x1, y2 - y1], score=float(score),
                        segmentation=rle))
    return out


def main(argv: Optional[List[str]] = None) -> Dict:
    args = parse_args(argv)
    import cv2
    import onnxruntime as ort
    import torch
    from mmengine.config import Config
    from mmengine.structures import InstanceData
    from pycocotools.coco import COCO

    import projects  # noqa: F401 registers the zoo
    from projects.apis import load_detector
    from projects.benchmark.markdown_blocks import write_block
    from projects.benchmark.roofline import cpu_name
    from projects.deploy import (dcn_layers, end2end_metadata,
                                 export_end2end, fixed_input_shape,
                                 load_batch, match_detections,
                                 with_standard_dcn)
    from projects.engine.inference_precision import InferencePrecision
    runner = load_tool('deployment/ort_run.py')
    median_ms = load_tool('deployment/export_onnx.py').median_ms

    cfg = Config.fromfile(args.config)
    model = load_detector(cfg, args.checkpoint)
    shape = fixed_input_shape(cfg)
    ds = cfg.test_dataloader.dataset
    ann = osp.join(ds.data_root, ds.ann_file)
    coco_gt = COCO(ann)
    cat_ids = sorted(coco_gt.getCatIds())
    img_ids = sorted(coco_gt.getImgIds())[:args.images]
    paths = [osp.join(ds.data_root, ds.data_prefix['img'],
                      coco_gt.imgs[i]['file_name']) for i in img_ids]

    os.makedirs(args.work_dir, exist_ok=True)
    onnx_path = osp.join(args.work_dir, f'{args.label}.onnx')
    first = load_batch(model, cfg, paths[:1], shape)
    net = with_standard_dcn(model) if dcn_layers(model) else model
    export_end2end(net, onnx_path, first['inputs'],
                   end2end_metadata(cfg, model, shape, args.score_thr))
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(onnx_path, options,
                                   providers=['CPUExecutionProvider'])
    meta = runner.read_metadata(session, onnx_path)

    torch_recs, ort_recs = [], []
    num = dict(ref=0, test=0, matched=0)
    min_box, min_mask = 1.0, 1.0
    for img_id, path in zip(img_ids, paths):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        dets = runner.to_image(
            session.run(None, {'inputs': runner.preprocess(image, meta)}),
            meta, image.shape[:2], -1.0)
        data = load_batch(model, cfg, [path], shape)
        with torch.no_grad():
            ref = model.predict(data['inputs'],
                                data['data_samples'])[0].pred_instances
        torch_recs += to_records(img_id, cat_ids, ref.bboxes, ref.scores,
                                 ref.labels, ref.masks.numpy(), runner.rle)
        ort_recs += to_records(img_id, cat_ids, dets['boxes'],
                               dets['scores'], dets['labels'],
                               dets['masks'], runner.rle)
        got = InstanceData(bboxes=torch.from_numpy(dets['boxes']),
                           scores=torch.from_numpy(dets['scores']),
                           labels=torch.from_numpy(dets['labels']),
                           masks=torch.from_numpy(dets['masks']))
        keep = got.scores >= args.score_thr
        agree = match_detections(ref[ref.scores >= args.score_thr],
                                 got[keep])
        num['ref'] += agree['num_ref']
        num['test'] += agree['num_test']
        num['matched'] += agree['matched']
        min_box = min(min_box, agree['min_box_iou'])
        if agree['min_mask_iou'] is not None:
            min_mask = min(min_mask, agree['min_mask_iou'])
    row = dict(
        method=args.label, config=args.config, checkpoint=args.checkpoint,
        images=len(paths), score_thr=args.score_thr,
        dets_torch=num['ref'], dets_ort=num['test'],
        matched=num['matched'], min_box_iou=min_box, min_mask_iou=min_mask,
        mask_ap_torch=coco_ap(coco_gt, torch_recs, 'segm'),
        mask_ap_ort=coco_ap(coco_gt, ort_recs, 'segm'),
        box_ap_torch=coco_ap(coco_gt, torch_recs, 'bbox'),
        box_ap_ort=coco_ap(coco_gt, ort_recs, 'bbox'),
        onnx_mib=osp.getsize(onnx_path) / 2**20, cpu=cpu_name(),
        threads=torch.get_num_threads())
    if args.time:
        x, samples = first['inputs'], first['data_samples']
        feed = {'inputs': x.numpy()}
        row['ort_fp32_ms'] = median_ms(lambda: session.run(None, feed),
                                       args.time)
        with torch.no_grad():
            row['torch_fp32_ms'] = median_ms(
                lambda: model.predict(x, copy.deepcopy(samples)), args.time)
            with InferencePrecision(model, 'bf16', fuse_conv_bn=True):
                row['torch_bf16_fused_ms'] = median_ms(
                    lambda: model.predict(x, copy.deepcopy(samples)),
                    args.time)
    print(json.dumps(row, indent=2))

    rows = []
    if osp.isfile(args.out):
        with open(args.out) as f:
            rows = [r for r in json.load(f) if r['method'] != args.label]
    rows.append(row)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(rows, f, indent=2)
    if args.readme:
        write_block(args.readme, 'end2end agreement', table(rows),
                    append=True)
    return row


def _ms(row: dict, key: str) -> str:
    return f'{row[key]:.0f}' if key in row else '-'


def table(rows: List[dict]) -> str:
    """The Markdown table of the recorded rows."""
    lines = ['| ' + ' | '.join(COLUMNS) + ' |',
             '| ' + ' | '.join('---' for _ in COLUMNS) + ' |']
    for r in rows:
        lines.append('| ' + ' | '.join([
            r['method'], str(r['images']),
            f"{r['dets_torch']} / {r['dets_ort']}", str(r['matched']),
            f"{r['min_box_iou']:.4f}", f"{r['min_mask_iou']:.4f}",
            f"{r['mask_ap_torch']:.1f} / {r['mask_ap_ort']:.1f}",
            f"{r['box_ap_torch']:.1f} / {r['box_ap_ort']:.1f}",
            f"{r['onnx_mib']:.0f}", _ms(r, 'ort_fp32_ms'),
            _ms(r, 'torch_fp32_ms'), _ms(r, 'torch_bf16_fused_ms'),
            f"{r['cpu']}, {r['threads']} threads"]) + ' |')
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
