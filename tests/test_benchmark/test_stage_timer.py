"""StageTimer: forward hooks time each stage where the stage map of the
detector type says, for a single-stage (the tiny SAIS) and a two-stage
detector (mmdet's Mask R-CNN), without double counting nested calls, and
compose with the FLOP counter's hooks in either order."""
import importlib
import time
from types import SimpleNamespace

import pytest
import torch
from benchmark_helpers import (VirtualClock, hook_count,  # noqa: F401
                               mask_rcnn, sleeping, tiny_sais)
from torch import nn

from projects.benchmark import (SINGLE_STAGE, TWO_STAGE, StageTimer,
                                complexity, stage_map_of)
from projects.benchmark.complexity import KeepOutputs

STAGES = ('preprocess', 'backbone_neck', 'head_forward', 'post')


def test_sleeps_land_only_in_their_stage(tiny_sais):
    """A 200 ms sleep in the backbone shows in backbone+neck only, a 400 ms
    one in the box decoding and NMS (predict_by_feat) in post-processing
    only. On a virtual clock that only the sleeps move, so the split is
    exact however busy the CPU; on the real clock the same sleeps are
    lower bounds of their stages."""
    model, batch = tiny_sais
    hooks = hook_count(model)
    clock = VirtualClock()
    for timer_clock, sleep in ((clock, clock.sleep),
                               (time.perf_counter, time.sleep)):
        model.backbone.forward = sleeping(model.backbone.forward, 0.2, sleep)
        model.bbox_head.predict_by_feat = sleeping(
            model.bbox_head.predict_by_feat, 0.4, sleep)
        try:
            with StageTimer(model, clock=timer_clock) as timer:
                t = timer(batch)
        finally:
            del model.backbone.forward, model.bbox_head.predict_by_feat
        if timer_clock is clock:
            assert t['backbone_neck'] == pytest.approx(200)
            assert t['post'] == pytest.approx(400)
            assert t['head_forward'] == t['preprocess'] == 0
            assert t['total'] == pytest.approx(600)
        else:
            assert all(t[s] > 0 for s in STAGES)
            assert t['backbone_neck'] >= 200 and t['post'] >= 400
    assert hook_count(model) == hooks  # the timer's hooks are gone


def test_two_stage_heads_and_post_processing(mask_rcnn):
    """Mask R-CNN: every stage gets time (real clock); on the virtual
    clock, sleeps in the RPN head's and the RoI mask head's forward (100
    and 200 ms) land in head forward, one in the mask head's pasting
    (predict_by_feat, inside ``roi_head.predict``; 400 ms) in
    post-processing, nothing in backbone+neck."""
    model, batch = mask_rcnn
    assert stage_map_of(model) is TWO_STAGE
    with StageTimer(model) as timer:
        t = timer(batch)
    assert all(t[s] > 0 for s in STAGES) and t['detections'] > 0
    clock = VirtualClock()
    mask_head = model.roi_head.mask_head
    # registered before the timer: runs inside the timed call
    after = mask_head.register_forward_hook(lambda *a: clock.sleep(0.2))
    mask_head.predict_by_feat = sleeping(mask_head.predict_by_feat, 0.4,
                                         clock.sleep)
    before = None
    try:
        with StageTimer(model, clock=clock) as timer:
            # registered after the timer's (prepended) pre-hook: inside too
            before = model.rpn_head.register_forward_pre_hook(
                lambda *a: clock.sleep(0.1))
            t = timer(batch)
    finally:
        if before is not None:
            before.remove()
        after.remove()
        del mask_head.predict_by_feat
    assert t['head_forward'] == pytest.approx(300)
    assert t['post'] == pytest.approx(400)
    assert t['backbone_neck'] == t['preprocess'] == 0


class _Sleep(nn.Module):

    def __init__(self, clock: VirtualClock, seconds: float,
                 inner: nn.Module = None) -> None:
        super().__init__()
        self.clock, self.seconds, self.inner = clock, seconds, inner

    def forward(self, x):
        self.clock.sleep(self.seconds)
        return x if self.inner is None else self.inner(x)


class _Preprocessor(nn.Module):

    def forward(self, batch: dict, training: bool = False) -> dict:
        return batch


class _Toy(nn.Module):
    """A detector whose box head calls its mask head (also a top-level
    child, so timed too) and whose backbone calls a head."""

    def __init__(self, clock: VirtualClock = None) -> None:
        super().__init__()
        self.clock = clock = clock or VirtualClock()
        self.data_preprocessor = _Preprocessor()
        self.mask_head = _Sleep(clock, 0.2)
        self.bbox_head = _Sleep(clock, 0.1, inner=self.mask_head)
        self.extra_head = _Sleep(clock, 0.1)
        self.backbone = _Sleep(clock, 0.05, inner=self.extra_head)
        self.neck = nn.Identity()

    def predict(self, inputs, data_samples):
        self.bbox_head(self.neck(self.backbone(inputs)))
        self.clock.sleep(0.05)
        return [SimpleNamespace(pred_instances=[])]


def test_nested_timed_calls_count_once():
    """The mask head inside the box head counts once, in head forward
    (300 ms, not 500); the head inside the backbone counts in backbone+neck
    (150 ms), not in head forward (which would make it 400)."""
    toy = _Toy()
    with StageTimer(toy, clock=toy.clock) as timer:
        t = timer(dict(inputs=torch.zeros(1), data_samples=[]))
    assert t['head_forward'] == pytest.approx(300)
    assert t['backbone_neck'] == pytest.approx(150)
    assert t['post'] == pytest.approx(50)
    assert t['total'] == pytest.approx(sum(t[s] for s in STAGES))


def test_stage_map_lookup_follows_the_mro():
    from mmdet.models.detectors import (SOLO, YOLACT, MaskRCNN,
                                        SingleStageDetector,
                                        TwoStageDetector)

    from projects.yolo_mask import YOLOMask

    class MyTwoStage(MaskRCNN):
        pass

    for cls in (SingleStageDetector, YOLACT, SOLO, YOLOMask, _Toy):
        assert stage_map_of(cls) is SINGLE_STAGE, cls
    for cls in (TwoStageDetector, MaskRCNN, MyTwoStage):
        assert stage_map_of(cls) is TWO_STAGE, cls
    toy = _Toy()
    modules = SINGLE_STAGE.modules(toy)
    assert modules['backbone_neck'] == [toy.backbone, toy.neck]
    assert modules['head_forward'] == [toy.mask_head, toy.bbox_head,
                                       toy.extra_head]


def test_two_stage_map_modules(mask_rcnn):
    model, _ = mask_rcnn
    roi = model.roi_head
    assert TWO_STAGE.modules(model)['head_forward'] == [
        model.rpn_head, roi.bbox_roi_extractor, roi.bbox_head,
        roi.mask_roi_extractor, roi.mask_head]


class _ConvToy(nn.Module):
    """A detector of three convolutions that detects nothing: its empty
    results depend on no input, so only the kept head outputs make the
    FLOP trace count anything (as for an untrained SOLO)."""

    def __init__(self) -> None:
        super().__init__()
        self.data_preprocessor = _Preprocessor()
        self.backbone = nn.Conv2d(3, 8, 3, padding=1)
        self.neck = nn.Identity()
        self.bbox_head = nn.Conv2d(8, 4, 1)
        self.mask_head = nn.Conv2d(8, 2, 1)

    def predict(self, inputs, data_samples):
        from mmengine.structures import InstanceData
        x = self.neck(self.backbone(inputs))
        self.bbox_head(x), self.mask_head(x)
        empty = InstanceData(scores=torch.zeros(0), bboxes=torch.zeros(0, 4))
        return [SimpleNamespace(pred_instances=empty)]


TOY_BATCH = dict(inputs=torch.rand(1, 3, 16, 20), data_samples=[])
TOY_FLOPS = 16 * 20 * (3 * 8 * 9 + 8 * 4 + 8 * 2)  # multiply-adds


def test_flop_trace_inside_timer():
    """The FLOP counter's hooks come and go while the timer's stay; the
    timer times the traced prediction by stage; FLOPs do not change."""
    toy = _ConvToy()
    with StageTimer(toy) as timer:
        with timer.record() as spent:
            assert complexity(toy, TOY_BATCH)['flops'] == TOY_FLOPS
        assert spent['backbone_neck'] > 0 and spent['head_forward'] > 0
        ms = timer(TOY_BATCH)  # the timer still works after the trace
        assert ms['backbone_neck'] > 0 and ms['head_forward'] > 0
    assert hook_count(toy) == 0


def test_timer_inside_flop_trace(monkeypatch):
    """A timer opened inside the FLOP trace, after the counter's hooks, and
    closed after them (crossed order) times the traced prediction; FLOPs do
    not change and no hook is left."""
    toy = _ConvToy()
    spent = {}

    class KeepAndTime(KeepOutputs):

        def __init__(self, modules):
            super().__init__(modules)
            self.timer = StageTimer(toy)
            self.recording = self.timer.record()
            spent.update(inside=self.recording.__enter__())

        def close(self):
            super().close()
            self.recording.__exit__(None, None, None)
            self.timer.close()

    # the package exports the function complexity under the module's name
    module = importlib.import_module('projects.benchmark.complexity')
    monkeypatch.setattr(module, 'KeepOutputs', KeepAndTime)
    assert complexity(toy, TOY_BATCH)['flops'] == TOY_FLOPS
    assert spent['inside']['backbone_neck'] > 0
    assert spent['inside']['head_forward'] > 0
    assert hook_count(toy) == 0


def test_closed_timer_refuses_to_time(tiny_sais):
    model, batch = tiny_sais
    timer = StageTimer(model)
    timer.close()
    timer.close()
    with pytest.raises(RuntimeError, match='closed'):
        timer(batch)
