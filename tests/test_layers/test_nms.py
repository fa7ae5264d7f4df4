"""Fast NMS, cross-class Fast NMS and standard NMS against loop references."""
import pytest
import torch

from projects.layers.nms import multiclass_nms


def _iou(a, b):
    w = max(0., min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0., min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def _fast_loop(boxes, scores, thr, score_thr, top_k):
    """SSS §3.3 by the definition: j survives if no higher-scoring box among
    the top-k overlaps it by more than thr, suppressed or not."""
    order = sorted(range(len(boxes)), key=lambda i: -scores[i])[:top_k]
    kept = []
    for pos, j in enumerate(order):
        worst = max([_iou(boxes[i], boxes[j]) for i in order[:pos]] or [0.])
        if worst <= thr and scores[j] > score_thr:
            kept.append(j)
    return kept


def _standard_loop(boxes, scores, thr, score_thr):
    order = sorted((i for i in range(len(boxes)) if scores[i] > score_thr),
                   key=lambda i: -scores[i])
    kept = []
    for j in order:
        if all(_iou(boxes[i], boxes[j]) <= thr for i in kept):
            kept.append(j)
    return kept


# A chain: B overlaps A (IoU 0.6), C overlaps B (IoU 0.6) but not A.
A = [0., 0., 100., 100.]
B = [25., 0., 125., 100.]
C = [50., 0., 150., 100.]  # IoU(A, C) = 1/3
D = [300., 300., 340., 340.]
CHAIN = torch.tensor([A, B, C, D])
CHAIN_SCORES = torch.tensor([[.9], [.8], [.7], [.6]])


def _run(nms_type, boxes, scores, **kw):
    cfg = dict(type=nms_type, iou_threshold=0.5, score_thr=0.05, top_k=200,
               max_per_img=100)
    cfg.update(kw)
    return multiclass_nms(boxes, scores, cfg)


def test_chain_fast_nms_suppresses_through_suppressed_box():
    assert _iou(A, B) == pytest.approx(0.6) and _iou(A, C) < 0.5
    _, _, fast = _run('fast_nms', CHAIN, CHAIN_SCORES)
    _, _, std = _run('nms', CHAIN, CHAIN_SCORES)
    assert fast.tolist() == [0, 3]  # C removed by B, itself removed
    assert std.tolist() == [0, 2, 3]  # standard NMS keeps C
    assert std.tolist() == _standard_loop(CHAIN.tolist(),
                                          CHAIN_SCORES[:, 0].tolist(), .5,
                                          .05)


def _random_case(seed, n=60, num_classes=5):
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(8, 2, generator=g) * 300
    pick = torch.randint(0, 8, (n, ), generator=g)
    xy = centres[pick] + torch.randn(n, 2, generator=g) * 8
    wh = 40 + torch.rand(n, 2, generator=g) * 30
    boxes = torch.cat([xy, xy + wh], 1)
    scores = torch.rand(n, num_classes, generator=g) ** 3
    return boxes, scores


@pytest.mark.parametrize('seed', range(5))
def test_per_class_fast_nms_matches_loop(seed):
    boxes, scores = _random_case(seed)
    dets, labels, inds = _run('fast_nms', boxes, scores, top_k=30,
                              max_per_img=-1)
    expect = set()
    for c in range(scores.size(1)):
        for j in _fast_loop(boxes.tolist(), scores[:, c].tolist(), .5, .05,
                            30):
            expect.add((j, c))
    assert set(zip(inds.tolist(), labels.tolist())) == expect
    assert torch.equal(dets[:, 4], scores[inds, labels])
    assert (dets[:-1, 4] >= dets[1:, 4]).all()


@pytest.mark.parametrize('seed', range(5))
def test_cross_class_fast_nms_matches_loop(seed):
    boxes, scores = _random_case(seed)
    dets, labels, inds = _run('cross_class_fast_nms', boxes, scores,
                              top_k=40, max_per_img=-1)
    best, best_label = scores.max(1)
    expect = _fast_loop(boxes.tolist(), best.tolist(), .5, .05, 40)
    assert inds.tolist() == expect  # same order: by descending score
    assert torch.equal(labels, best_label[inds])
    assert torch.equal(dets[:, :4], boxes[inds])


def test_cross_class_keeps_one_box_per_location():
    boxes = torch.tensor([A, A])
    scores = torch.tensor([[.9, .1], [.1, .8]])  # two classes, same box
    _, labels, _ = _run('fast_nms', boxes, scores)
    assert sorted(labels.tolist()) == [0, 1]
    _, labels, inds = _run('cross_class_fast_nms', boxes, scores)
    assert inds.tolist() == [0] and labels.tolist() == [0]


def test_max_per_img_and_empty_input():
    boxes, scores = _random_case(0)
    dets, _, _ = _run('nms', boxes, scores, max_per_img=7)
    assert dets.shape == (7, 5)
    dets, labels, inds = _run('fast_nms', torch.zeros(0, 4),
                              torch.zeros(0, 3))
    assert dets.shape == (0, 5) and labels.shape == inds.shape == (0, )


def test_unknown_type_lists_allowed():
    with pytest.raises(ValueError, match='cross_class_fast_nms'):
        _run('matrix_nms', CHAIN, CHAIN_SCORES)


@pytest.mark.parametrize('seed', range(3))
def test_per_class_fast_nms_equals_mmdet_fast_nms(seed):
    """Peer check: dropping sub-threshold boxes first changes nothing."""
    from mmdet.models.layers import fast_nms
    boxes, scores = _random_case(seed, n=80, num_classes=6)
    rows = torch.arange(80, dtype=torch.float)[:, None]
    ref_dets, ref_labels, ref_rows = fast_nms(
        boxes, torch.cat([scores, torch.zeros(80, 1)], 1), rows, 0.05, 0.5,
        30, 50)
    dets, labels, inds = _run('fast_nms', boxes, scores, top_k=30,
                              max_per_img=50)
    assert torch.equal(inds, ref_rows[:, 0].long())
    assert torch.equal(labels, ref_labels)
    assert torch.allclose(dets, ref_dets)
