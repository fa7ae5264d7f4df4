"""The FCOS and Mask R-CNN small-data configs' models (mmdet's own, random
init) on real photos through each config's own pipelines: finite losses
with and without ground truth, predictions rescaled to the original image
(Mask R-CNN masks pasted at its size), and a well-formed empty result when
nothing passes the score threshold."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, model_inputs, real_dataset
from projects.apis import build_model

SIZE = 256  # training samples are shrunk to SIZE x SIZE (flips off)
CONFIGS = {
    'fcos-fruits-nuts': 'fcos/fcos_r50_fpn_1xb2-200i_fruits-nuts-384.py',
    'fcos-feral-cats': 'fcos/fcos_r50_fpn_1xb2-200i_feral-cats-384.py',
    'mask-rcnn-fruits-nuts':
    'mask_rcnn/mask-rcnn_r50_fpn_1xb2-200i_fruits-nuts-384.py',
    'mask-rcnn-feral-cats':
    'mask_rcnn/mask-rcnn_r50_fpn_1xb2-200i_feral-cats-384.py',
}
# the losses that only positives (GT matches) feed
POSITIVE_LOSSES = {
    'FCOS': ('loss_bbox', 'loss_centerness'),
    'MaskRCNN': ('loss_rpn_bbox', 'loss_bbox', 'loss_mask'),
}
# losses that negatives feed too
ALWAYS_LOSSES = {'FCOS': ('loss_cls', ), 'MaskRCNN': ('loss_rpn_cls',
                                                      'loss_cls')}

pytestmark = pytest.mark.slow  # R-50 forward/backward on 2 CPU cores


def _cfg(key: str) -> Config:
    return Config.fromfile(osp.join(ROOT, 'configs', CONFIGS[key]))


def _with_test_cfg(cfg: Config, **changes) -> Config:
    """A copy of ``cfg`` with ``changes`` in the test_cfg that filters the
    detections (``rcnn`` for Mask R-CNN)."""
    cfg = copy.deepcopy(cfg)
    test_cfg = cfg.model.test_cfg
    (test_cfg.rcnn if 'rcnn' in test_cfg else test_cfg).update(changes)
    return cfg


def _value(loss) -> torch.Tensor:
    """A loss entry as one tensor (the RPN gives a list per level)."""
    return sum(loss) if isinstance(loss, (list, tuple)) else loss


@pytest.fixture(scope='module', params=sorted(CONFIGS))
def case(request, fruits_nuts):
    """(cfg, model, samples): the config, its model (seeded random init,
    no pretrained weights) and real samples of its own dataset: ``full``
    and ``empty`` (annotations removed) training samples at SIZE, ``test``
    a validation photo through the config's own 384x384 test pipeline."""
    cfg = _cfg(request.param)
    ds = real_dataset(cfg, 'train_dataloader', SIZE, filter_cfg=None)
    empty = copy.deepcopy(ds[1])
    gt = empty['data_samples'].gt_instances
    empty['data_samples'].gt_instances = gt[:0]
    samples = dict(full=ds[0], empty=empty,
                   test=real_dataset(cfg, 'test_dataloader')[0])
    assert len(samples['full']['data_samples'].gt_instances) > 0
    return cfg, build_model(cfg, None, 'cpu'), samples


@pytest.mark.parametrize('batch', [('full', ), ('empty', ),
                                   ('full', 'empty')])
def test_losses_are_finite_with_and_without_gt(case, batch):
    """Every loss and gradient is finite; the positives' losses are > 0
    exactly when the batch has ground truth, the classification losses
    always."""
    cfg, model, samples = case
    model.train()
    data = model_inputs(model, [samples[k] for k in batch], True)
    losses = model(**data, mode='loss')
    has_gt = 'full' in batch
    for name in POSITIVE_LOSSES[cfg.model.type]:
        value = float(_value(losses[name]).detach())
        assert (value > 0) == has_gt, f'{name} = {value}'
    for name in ALWAYS_LOSSES[cfg.model.type]:
        assert float(_value(losses[name]).detach()) > 0, name
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    model.zero_grad()
    total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    if has_gt and cfg.model.type == 'MaskRCNN':
        assert model.roi_head.mask_head.conv_logits.weight.grad.abs().sum() > 0


def _predict(model, sample, rescale=True):
    model.eval()
    data = model_inputs(model, [sample], False)
    with torch.no_grad():
        return model.predict(data['inputs'], data['data_samples'],
                             rescale=rescale)[0]


def test_predictions_at_the_original_image_size(case):
    """Boxes (and Mask R-CNN's masks) in the original photo: the rescaled
    boxes are the network-input boxes divided by the scale factor; masks
    are bool, of the photo's size, and lie in their boxes."""
    cfg, _, samples = case
    # keep every candidate: the random-init scores are far below 0.05
    model = build_model(_with_test_cfg(cfg, score_thr=0., max_per_img=5),
                        None, 'cpu')
    sample = samples['test']
    h, w = sample['data_samples'].ori_shape
    assert tuple(sample['inputs'].shape[-2:]) == (384, 384) != (h, w)
    result = _predict(model, sample)
    pred = result.pred_instances
    n = len(pred)
    assert 1 <= n <= 5
    assert pred.bboxes.shape == (n, 4) and pred.scores.shape == (n, )
    assert pred.labels.max() < len(cfg.metainfo.classes)
    sx, sy = sample['data_samples'].scale_factor
    unscaled = _predict(model, sample, rescale=False).pred_instances
    expected = unscaled.bboxes / unscaled.bboxes.new_tensor([sx, sy, sx, sy])
    torch.testing.assert_close(pred.bboxes, expected)
    assert float(pred.bboxes[:, 0::2].max()) <= w
    assert float(pred.bboxes[:, 1::2].max()) <= h
    if cfg.model.type == 'FCOS':
        assert 'masks' not in pred
        return
    assert pred.masks.shape == (n, h, w) and pred.masks.dtype == torch.bool
    assert pred.masks.any()
    for box, mask in zip(pred.bboxes, pred.masks):
        ys, xs = mask.nonzero(as_tuple=True)
        if len(xs):  # + 1 px of paste border
            assert xs.min() >= box[0].floor() - 1 and xs.max() <= box[2] + 1
            assert ys.min() >= box[1].floor() - 1 and ys.max() <= box[3] + 1


def test_zero_detections_are_well_formed(case):
    """score_thr 1.0 in test_cfg keeps nothing: empty boxes, scores and
    long labels (and bool masks of the photo's size) for the evaluator."""
    cfg, _, samples = case
    model = build_model(_with_test_cfg(cfg, score_thr=1.0), None, 'cpu')
    sample = samples['test']
    h, w = sample['data_samples'].ori_shape
    pred = _predict(model, sample).pred_instances
    assert pred.bboxes.shape == (0, 4) and pred.scores.shape == (0, )
    assert pred.labels.shape == (0, ) and pred.labels.dtype == torch.long
    if cfg.model.type == 'MaskRCNN':
        assert pred.masks.shape == (0, h, w)
        assert pred.masks.dtype == torch.bool
