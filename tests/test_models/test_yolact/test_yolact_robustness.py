"""Issue 3: an image with no GT, a GT box smaller than one prototype pixel and
a crowd annotation must not crash YOLACT (or SSS) training.

Real fruits_nuts photos and annotations go through mmdet's ``CocoDataset``
and the config's own train pipeline (input shrunk to 256x256 to keep the
tests short, flips off so that two samples of one image match), then
through the model's loss and backward.
"""
import json
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from pycocotools import mask as mask_utils

from conftest import ROOT, model_inputs, real_dataset, run_tool
from mmdet.registry import MODELS, TASK_UTILS
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import register_all_modules

SIZE = 256
CONFIGS = {
    'yolact': osp.join(ROOT, 'configs', 'yolact',
                       'yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py'),
    'sss': osp.join(ROOT, 'configs', 'yolact',
                    'sss_r50_ssd_1xb2-200i_fruits-nuts-384.py'),
}
# one image id per case; images 0-5 of fruits_nuts' train.json
CASES = ('normal', 'empty', 'tiny', 'plain', 'crowd', 'all_crowd')
HARD_CASES = ('empty', 'tiny', 'crowd', 'all_crowd')
TINY_PX = 2  # side of the small box after the resize to SIZE


def _rle(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE (as its crowd annotations): run lengths in
    column-major order, starting with a run of zeros."""
    pix = mask.ravel(order='F').astype(np.int8)
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(pix)) + 1,
                             [pix.size]])
    counts = np.diff(bounds).tolist()
    if pix[0]:
        counts = [0] + counts
    return dict(counts=counts, size=list(mask.shape))


def _free_corner(anns, img, w, h):
    """An (x, y) corner for a w x h box that touches no annotation box."""
    for x, y in ((8, 8), (img['width'] - 8 - w, 8),
                 (8, img['height'] - 8 - h)):
        if all(x + w < a['bbox'][0] or x > a['bbox'][0] + a['bbox'][2] or
               y + h < a['bbox'][1] or y > a['bbox'][1] + a['bbox'][3]
               for a in anns):
            return x, y
    raise AssertionError('no free corner')


def _write_coco(fruits_nuts, path):
    """A COCO json over real fruits_nuts images, one per case in CASES."""
    with open(osp.join(fruits_nuts, 'train.json')) as f:
        coco = json.load(f)
    images = coco['images'][:len(CASES)]
    anns = {im['id']: [a for a in coco['annotations']
                       if a['image_id'] == im['id']] for im in images}
    by_case = dict(zip(CASES, images))
    anns[by_case['empty']['id']] = []
    # 'tiny': the annotations of 'plain' plus a box of TINY_PX x TINY_PX
    # pixels after the resize, clear of every other box
    tiny = dict(by_case['plain'], id=by_case['tiny']['id'])
    images[CASES.index('tiny')] = tiny
    own = [dict(a, image_id=tiny['id']) for a in anns[by_case['plain']['id']]]
    w = TINY_PX * tiny['width'] / SIZE
    h = TINY_PX * tiny['height'] / SIZE
    x, y = _free_corner(own, tiny, w, h)
    own.append(dict(bbox=[x, y, w, h], area=w * h, iscrowd=0,
                    category_id=own[0]['category_id'], image_id=tiny['id'],
                    segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]]))
    anns[tiny['id']] = own
    # 'crowd': its first object as a crowd region (RLE); 'all_crowd': only
    # that object, as a crowd region
    for case, keep_rest in (('crowd', True), ('all_crowd', False)):
        im = by_case[case]
        first = dict(anns[im['id']][0], iscrowd=1)
        poly = mask_utils.frPyObjects(first['segmentation'], im['height'],
                                      im['width'])
        first['segmentation'] = _rle(
            mask_utils.decode(mask_utils.merge(poly)))
        anns[im['id']] = [first] + (anns[im['id']][1:] if keep_rest else [])
    flat = [dict(a, id=i + 1)
            for i, a in enumerate(a for im in images for a in anns[im['id']])]
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=flat,
                       categories=coco['categories']), f)


@pytest.fixture(scope='module')
def ann_file(tmp_path_factory, fruits_nuts):
    path = str(tmp_path_factory.mktemp('robust') / 'ann.json')
    _write_coco(fruits_nuts, path)
    return path


@pytest.fixture(scope='module')
def samples(ann_file, fruits_nuts):
    """Packed training samples, by case, from CocoDataset and the YOLACT
    config's train pipeline (SSS's is the same)."""
    register_all_modules()
    cfg = Config.fromfile(CONFIGS['yolact'])
    ds = real_dataset(cfg, 'train_dataloader', SIZE, ann_file=ann_file,
                      filter_cfg=None)
    assert len(ds) == len(CASES)
    return {case: ds[i] for i, case in enumerate(CASES)}


@pytest.fixture(scope='module', params=sorted(CONFIGS))
def model(request):
    """The config's model (no pretrained weights) with anchors laid on its
    feature maps at SIZE."""
    register_all_modules()
    cfg = Config.fromfile(CONFIGS[request.param])
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():
        feats = model.eval().extract_feat(torch.zeros(1, 3, SIZE, SIZE))
    anchors = cfg.model.bbox_head.anchor_generator
    sizes = [f.shape[-1] for f in feats]
    anchors.strides = [SIZE / s for s in sizes]
    if 'centers' in anchors:
        anchors.centers = [(SIZE / s / 2, SIZE / s / 2) for s in sizes]
    model.bbox_head.prior_generator = TASK_UTILS.build(anchors)
    return model.train()


def _loss(model, batch, backward=True, head_grad=True):
    """Losses of a batch; each is checked finite, and after backward every
    trainable parameter has a finite gradient."""
    data = model_inputs(model, batch, True)
    with torch.set_grad_enabled(backward):
        losses = {
            k: sum(v) if isinstance(v, list) else v
            for k, v in model(**data, mode='loss').items()
        }
    for name, value in losses.items():
        assert torch.isfinite(value), f'{name} = {value}'
    if not backward:
        return {k: float(v) for k, v in losses.items()}
    model.zero_grad()
    sum(losses.values()).backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f'no gradient reaches {name}'
            assert torch.isfinite(p.grad).all(), f'{name}: grad not finite'
    head = [p.grad.abs().sum() for p in model.bbox_head.parameters()]
    assert (sum(head) > 0) == head_grad, 'box head gradient'
    return {k: float(v.detach()) for k, v in losses.items()}


def test_image_without_gt(model, samples):
    """An image without GT adds no OHEM negatives (ZooYOLACTHead): mmdet
    adds all of them, about 100x a normal batch's loss_cls."""
    assert len(samples['empty']['data_samples'].gt_instances) == 0
    losses = _loss(model, [samples['normal'], samples['empty']])
    assert losses['loss_mask'] > 0  # the other image still trains masks
    # equal but for batch-norm statistics of a batch of 1 vs 2 (about 2%)
    alone = _loss(model, [samples['normal']], backward=False)
    assert losses['loss_cls'] == pytest.approx(alone['loss_cls'], rel=0.1)


def test_gt_smaller_than_one_prototype_pixel(model, samples):
    """The 2x2 box reaches the loss and trains boxes and classes, and the
    mask loss is what it is without it (ZooYOLACTProtonet.loss_by_feat).
    mmdet trains its positive towards an empty mask with 4 (SSS: 16) times
    the weight of a one-pixel box: 33.4 against 22.2 here for YOLACT, among
    the image's other objects."""
    gt = samples['tiny']['data_samples'].gt_instances
    plain = samples['plain']['data_samples'].gt_instances
    assert len(gt) == len(plain) + 1
    box = get_box_tensor(gt.bboxes)[-1]
    w, h = (box[2:] - box[:2]).tolist()
    assert w == pytest.approx(TINY_PX) and h == pytest.approx(TINY_PX)
    # the prototypes of this very input (SIZE x SIZE), kept by a hook
    # during the loss below rather than computed by a forward of their own
    protos = []
    handle = model.mask_head.protonet.register_forward_hook(
        lambda m, a, out: protos.append(out.shape))
    try:
        with_tiny = _loss(model, [samples['tiny']])
    finally:
        handle.remove()
    assert len(protos) == 1
    assert w * protos[0][-1] / SIZE < 1  # under one prototype pixel
    without = _loss(model, [samples['plain']], backward=False)
    assert with_tiny['loss_mask'] == pytest.approx(without['loss_mask'],
                                                   rel=1e-4)


def test_crowd_annotation_is_ignored(model, samples):
    """The crowd region (RLE) leaves the real pipeline as an ignored
    instance, mask included, and the rest of the image trains."""
    sample = samples['crowd']['data_samples']
    ignored = sample.ignored_instances
    assert len(ignored) == 1 and len(ignored.masks) == 1
    assert ignored.masks.areas[0] > 0
    assert len(sample.gt_instances) > 0
    losses = _loss(model, [samples['crowd']])
    assert losses['loss_mask'] > 0


def test_batch_of_only_crowd(model, samples):
    """No image of the batch has a non-crowd GT: every loss but the
    semantic one is zero (no positives, so no OHEM negatives either) and
    the graph still reaches every parameter."""
    sample = samples['all_crowd']['data_samples']
    assert len(sample.gt_instances) == 0 and len(sample.ignored_instances)
    losses = _loss(model, [samples['all_crowd'], samples['empty']],
                   head_grad=False)
    assert losses['loss_bbox'] == 0 and losses['loss_mask'] == 0
    assert losses['loss_cls'] == 0


@pytest.mark.slow
def test_two_training_iterations_over_the_cases(ann_file, tmp_path):
    """tools/train.py, two iterations of batch 2 over the HARD_CASES images
    (one epoch of them), with finite losses."""
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        f'_base_ = {CONFIGS["yolact"]!r}\n'
        'model = dict(backbone=dict(init_cfg=None))\n'
        'train_cfg = dict(max_iters=2, val_interval=10)\n'
        'default_hooks = dict(logger=dict(interval=1),\n'
        '                     checkpoint=dict(save_last=False))\n'
        'val_cfg = val_dataloader = val_evaluator = None\n'
        'train_dataloader = dict(dataset=dict(\n'
        f'    ann_file={ann_file!r}, filter_cfg=dict(filter_empty_gt=False),\n'
        f'    indices={[CASES.index(c) for c in HARD_CASES]}))\n')
    resize = [t['type'] for t in Config.fromfile(str(cfg)).train_pipeline]
    resize = resize.index('Resize')
    proc = run_tool('tools/train.py', str(cfg), '--work-dir',
                    str(tmp_path / 'work'), '--cfg-options',
                    f'train_dataloader.dataset.pipeline.{resize}.scale='
                    f'({SIZE},{SIZE})', timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    lines = [ln for ln in log.splitlines() if 'Iter(train)' in ln]
    assert len(lines) == 2, log[-3000:]
    for line in lines:
        losses = re.findall(r'(loss\w*): (\S+)', line)
        assert {k for k, _ in losses} >= {'loss', 'loss_cls', 'loss_mask'}
        assert all(np.isfinite(float(v)) for _, v in losses), line
