"""The benchmark's stage split on the zoo's Mask R-CNN (the small-data
config's model, random init, a real fruits_nuts photo at 384x384): the RPN
head and the RoI heads (both RoI extractors, the box head and the mask head
on the kept RoIs) are head forward, in time (StageTimer) and in FLOPs
(complexity); box decoding, NMS and mask pasting are post-processing.

FLOPs: the whole prediction's count must be the sum of the mapped modules'
FLOPs, each counted directly on the inputs it got in the same prediction,
plus the pasting's, counted directly too: nothing of a head lands outside
them and nothing is counted twice. Time: on a virtual clock moved only by
sleeps injected into each head's forward and into each post-processing
step, each sleep lands in its own stage."""
import copy
import os.path as osp
from typing import Dict, List

import pytest
import torch
from benchmark_helpers import VirtualClock, hook_count, sleeping
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch import nn

from conftest import ROOT, real_dataset
from projects.benchmark import TWO_STAGE, StageTimer, complexity, stage_map_of
from projects.benchmark.complexity import flop_analyzer
from projects.apis import build_model

CONFIG = osp.join(ROOT, 'configs', 'mask_rcnn',
                  'mask-rcnn_r50_fpn_1xb2-200i_fruits-nuts-384.py')
KEPT = 20  # detections kept per image (rcnn.max_per_img), to keep it short
# the head-forward modules of the two-stage map, by their path
HEADS = ('rpn_head', 'roi_head.bbox_roi_extractor', 'roi_head.bbox_head',
         'roi_head.mask_roi_extractor', 'roi_head.mask_head')

pytestmark = pytest.mark.slow  # R-50 Mask R-CNN predictions on 2 cores


def _module(model: nn.Module, path: str) -> nn.Module:
    for part in path.split('.'):
        model = getattr(model, part)
    return model


@pytest.fixture(scope='module')
def mask_rcnn_384(fruits_nuts):
    """(model, batch): the fruits_nuts Mask R-CNN in eval mode, keeping
    KEPT detections (the random-init box head scores ~1/4 per class, above
    the 0.05 threshold), and a real val photo through its test pipeline."""
    cfg = Config.fromfile(CONFIG)
    cfg.model.test_cfg.rcnn.max_per_img = KEPT
    model = build_model(cfg, None, 'cpu').eval()
    batch = pseudo_collate([real_dataset(cfg, 'test_dataloader')[0]])
    assert tuple(batch['inputs'][0].shape[-2:]) == (384, 384)
    return model, batch


class _Record:
    """Forward hooks keeping each named module's inputs and outputs."""

    def __init__(self, model: nn.Module, paths: tuple) -> None:
        self.calls: Dict[str, List[tuple]] = {p: [] for p in paths}
        self.handles = [
            _module(model, p).register_forward_hook(
                lambda m, args, out, p=p: self.calls[p].append((args, out)))
            for p in paths
        ]

    def close(self) -> None:
        for h in self.handles:
            h.remove()


class _Paste(nn.Module):
    """The mask head's post-processing alone (sigmoid, pasting at the
    original image size, threshold), for the FLOP counter."""

    def __init__(self, roi_head: nn.Module, results, metas: list) -> None:
        super().__init__()
        self.roi_head, self.results, self.metas = roi_head, results, metas

    def forward(self, mask_preds: torch.Tensor) -> torch.Tensor:
        return self.roi_head.mask_head.predict_by_feat(
            (mask_preds, ), [copy.deepcopy(self.results)], self.metas,
            self.roi_head.test_cfg, rescale=True)[0].masks


def _flops(module: nn.Module, args: tuple) -> int:
    with torch.no_grad():
        return flop_analyzer(module, args).total()


def test_head_flops_include_the_roi_heads_on_kept_rois(mask_rcnn_384,
                                                       monkeypatch):
    """complexity's count = backbone + neck + RPN head + box head on every
    proposal + mask head on the KEPT detections' RoIs (RoIAlign counts 0)
    + the pasting of the KEPT masks: each counted directly."""
    model, batch = mask_rcnn_384
    assert stage_map_of(model) is TWO_STAGE
    assert TWO_STAGE.modules(model)['head_forward'] == [
        _module(model, p) for p in HEADS]
    record = _Record(model, ('backbone', 'neck') + HEADS)
    paste_inputs = []  # the pasting's detections, before it rescales them
    mask_head = model.roi_head.mask_head

    def keep_paste_inputs(mask_preds, results_list, *args, **kwargs):
        # a deep copy: the pasting rescales the boxes in place
        paste_inputs.append(copy.deepcopy(results_list[0]))
        return predict_by_feat(mask_preds, results_list, *args, **kwargs)

    predict_by_feat = mask_head.predict_by_feat
    monkeypatch.setattr(mask_head, 'predict_by_feat', keep_paste_inputs)
    try:
        with torch.no_grad():
            data = model.data_preprocessor(batch, False)
            result = model.predict(data['inputs'], data['data_samples'])[0]
    finally:
        record.close()
        monkeypatch.undo()
    pred = result.pred_instances
    assert len(pred) == KEPT
    direct = {}
    for path, calls in record.calls.items():
        assert len(calls) == 1, path  # one call each per image
        direct[path] = _flops(_module(model, path), calls[0][0])
    (mask_feats, ), mask_preds = record.calls['roi_head.mask_head'][0]
    assert mask_feats.shape == (KEPT, 256, 14, 14)
    assert mask_preds.shape == (KEPT, 3, 28, 28)
    one_roi = _flops(model.roi_head.mask_head, (mask_feats[:1], ))
    assert direct['roi_head.mask_head'] == KEPT * one_roi > 0
    proposals = record.calls['roi_head.bbox_head'][0][0][0]
    assert proposals.shape[1:] == (256, 7, 7)
    assert len(proposals) > KEPT  # every RPN proposal, not only the kept
    assert direct['roi_head.bbox_roi_extractor'] == 0  # RoIAlign: no handle
    assert direct['rpn_head'] > 0 and direct['roi_head.bbox_head'] > 0
    assert len(paste_inputs) == 1 and len(paste_inputs[0]) == KEPT
    paste = _flops(_Paste(model.roi_head, paste_inputs[0],
                          [result.metainfo]), (mask_preds, ))
    assert paste > 0  # grid sampling, 4 FLOPs per pasted pixel

    counted = complexity(model, batch)
    assert counted['detections'] == KEPT
    backbone_neck = direct['backbone'] + direct['neck']
    head_forward = sum(direct[p] for p in HEADS)
    assert counted['flops'] == backbone_neck + head_forward + paste
    assert not any(m._forward_hooks for m in model.modules())


def test_roi_heads_time_is_head_forward_not_post(mask_rcnn_384,
                                                 monkeypatch):
    """Sleeps of 1, 2, 4, 8 and 16 s in the forward of the RPN head, box
    RoI extractor, box head, mask RoI extractor and mask head land in head
    forward (31 s), those of 32, 64 and 128 s in the RPN's proposal
    decoding and NMS, the box head's decoding and NMS, and the mask
    pasting (predict_by_feat each) in post-processing (224 s): the RoI
    heads' forward is never post-processing, whatever runs it."""
    model, batch = mask_rcnn_384
    hooks = hook_count(model)
    with StageTimer(model) as timer:  # the real clock: every stage runs
        real = timer(batch)
    assert real['detections'] == KEPT
    assert all(real[s] > 0 for s in ('preprocess', 'backbone_neck',
                                     'head_forward', 'post'))
    clock = VirtualClock()
    handles = []
    for seconds, path in zip((1, 2, 4, 8, 16), HEADS):
        # registered before the timer's (prepended) pre-hook: runs inside
        handles.append(_module(model, path).register_forward_pre_hook(
            lambda *a, s=seconds: clock.sleep(s)))
    for seconds, head in ((32, model.rpn_head),
                          (64, model.roi_head.bbox_head),
                          (128, model.roi_head.mask_head)):
        monkeypatch.setattr(head, 'predict_by_feat',
                            sleeping(head.predict_by_feat, seconds,
                                     clock.sleep))
    try:
        with StageTimer(model, clock=clock) as timer:
            t = timer(batch)
    finally:
        for h in handles:
            h.remove()
    assert t['head_forward'] == pytest.approx(31e3)
    assert t['post'] == pytest.approx(224e3)
    assert t['backbone_neck'] == t['preprocess'] == 0
    assert t['detections'] == KEPT
    monkeypatch.undo()
    assert hook_count(model) == hooks
