"""YOLO-Mask (projects/yolo_mask, configs/yolo_mask/): the mask branch
on YOLOv3's detections, the two training steps and the 7x7 switch.

Real fruits_nuts photos go through the config's own pipelines, shrunk to
SIZE x SIZE (flips off) to keep the file short; the models are built
without pretrained weights.
"""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.structures import InstanceData

from conftest import ROOT, load_config, model_inputs, real_dataset
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from projects.yolo_mask import clip_to_image, sample_mask_rois

SIZE = 256
CONFIGS = osp.join(ROOT, 'configs', 'yolo_mask')
STEP1 = osp.join(CONFIGS, 'yolo-mask-step1_d53_1xb2-200i_fruits-nuts-384.py')
STEP2 = osp.join(CONFIGS, 'yolo-mask-step2_d53_1xb2-200i_fruits-nuts-384.py')
MASK7 = osp.join(CONFIGS, 'yolo-mask-step2-mask7_d53_8xb8-12e_coco-416.py')


def _cfg(path):
    register_all_modules()
    return load_config(path)


def _build(cfg, **changes):
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.update(changes)
    torch.manual_seed(0)
    return MODELS.build(model_cfg)


@pytest.fixture(scope='module')
def built():
    """``built(path)``: ``_build(_cfg(path))`` (seeded, random weights) of
    the configs the model tests use (STEP1, STEP2, MASK7), each built once
    per module; a test that changes its model (train mode, BN statistics,
    an optimiser step) takes ``copy.deepcopy`` of it. Each call leaves
    torch's random state where the build left it, as a fresh build would."""
    cache = {}

    def get(path):
        if path not in cache:
            model = _build(_cfg(path))
            cache[path] = model, torch.get_rng_state()
        model, rng = cache[path]
        torch.set_rng_state(rng)
        return model

    return get


@pytest.fixture(scope='module')
def cfg(fruits_nuts):
    return _cfg(STEP2)


@pytest.fixture(scope='module')
def train_samples(cfg):
    ds = real_dataset(cfg, 'train_dataloader', SIZE)
    return [ds[0], ds[1]]


@pytest.fixture(scope='module')
def test_sample(cfg):
    return real_dataset(cfg, 'test_dataloader', SIZE)[0]


def _calibrate_bn(model, samples):
    """BN statistics of the samples, as a trained step 1 leaves them: with
    the initial ones (mean 0, var 1) the random Darknet's activations grow
    through its 52 convs and its boxes run to inf."""
    bns = [m for m in model.modules()
           if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
    data = model_inputs(model, samples, True)
    model.backbone.train(), model.neck.train(), model.bbox_head.train()
    with torch.no_grad():
        model.bbox_head(model.extract_feat(data['inputs']))
    for bn in bns:
        bn.momentum = 0.1
    return model


@pytest.fixture(scope='module')
def mask_model(built, train_samples):
    """Step 2 ('mask' mode), random weights, BN statistics of two images."""
    return _calibrate_bn(copy.deepcopy(built(STEP2)), train_samples)


def _without_gt(sample):
    sample = copy.deepcopy(sample)
    gt = sample['data_samples'].gt_instances
    sample['data_samples'].gt_instances = gt[gt.labels < 0]
    return sample


def _losses(model, samples):
    data = model_inputs(model, samples, True)
    return model(**data, mode='loss')


def _grads(module):
    return [p.grad for p in module.parameters()]


def test_mask_loss_with_gt_trains_the_mask_head(mask_model, train_samples):
    model = mask_model.train()
    losses = _losses(model, train_samples)
    assert set(losses) == {'loss_mask'}  # step 2: no detector loss
    loss = losses['loss_mask']
    assert torch.isfinite(loss).all() and float(loss.detach()) > 0
    model.zero_grad()
    loss.sum().backward()
    assert all(g is not None and torch.isfinite(g).all()
               for g in _grads(model.mask_head))
    assert sum(float(g.abs().sum()) for g in _grads(model.mask_head)) > 0
    assert all(p.grad is None for p in model.backbone.parameters())


def test_mask_loss_without_gt_is_zero_and_backpropagates(
        mask_model, train_samples):
    model = mask_model.train()
    empty = [_without_gt(s) for s in train_samples]
    assert all(len(s['data_samples'].gt_instances) == 0 for s in empty)
    loss = _losses(model, empty)['loss_mask']
    assert torch.isfinite(loss).all() and float(loss.detach()) == 0
    assert loss.requires_grad  # connected to the mask head
    model.zero_grad()
    loss.sum().backward()
    grads = _grads(model.mask_head)
    assert all(g is not None and float(g.abs().sum()) == 0 for g in grads)
    # one image without GT in the batch: the other still trains masks
    mixed = _losses(model, [empty[0], train_samples[1]])['loss_mask']
    assert float(mixed.detach()) > 0


def test_gt_boxes_give_positives_when_nothing_is_detected(
        mask_model, train_samples):
    data = model_inputs(mask_model, train_samples[:1], True)
    gt = data['data_samples'][0].gt_instances  # boxes as (m, 4) tensors
    none = InstanceData(bboxes=torch.zeros(0, 4))
    result, = sample_mask_rois([none], [gt], None, mask_model.mask_assigner,
                               mask_model.mask_sampler)
    assert len(gt) > 0
    assert len(result.pos_priors) == len(gt)
    assert sorted(result.pos_assigned_gt_inds.tolist()) == \
        list(range(len(gt)))
    # and a detection at IoU < 0.5 of every GT box is no positive
    box = gt.bboxes[:1].clone()
    box[:, 2:] += (box[:, 2:] - box[:, :2]) * 1.5  # IoU 1/6.25 with its GT
    result, = sample_mask_rois([InstanceData(bboxes=box)], [gt], None,
                               mask_model.mask_assigner,
                               mask_model.mask_sampler)
    assert len(result.pos_priors) == len(gt)


def test_step2_sgd_step_changes_only_the_mask_branch(cfg, built,
                                                     train_samples):
    model = copy.deepcopy(built(STEP2)).train()
    assert not model.backbone.training and not model.bbox_head.training
    assert model.mask_head.training
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert not any(p.requires_grad for p in model.bbox_head.parameters())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    optim.update_params(_losses(model, train_samples)['loss_mask'].sum())
    after = model.state_dict()
    detector = [k for k in before if not k.startswith('mask_')]
    mask = [k for k in before if k.startswith('mask_head.')]
    assert any('running_mean' in k for k in detector)  # BN stats checked
    changed = [k for k in detector if not torch.equal(before[k], after[k])]
    assert changed == []
    assert all(not torch.equal(before[k], after[k]) for k in mask)


@pytest.mark.slow
def test_step1_trains_the_detector_only(built, train_samples):
    model = copy.deepcopy(built(STEP1)).train()
    losses = _losses(model, train_samples)
    assert set(losses) == {'loss_cls', 'loss_conf', 'loss_xy', 'loss_wh'}
    assert all(not p.requires_grad for p in model.mask_head.parameters())
    assert all(p.requires_grad for p in model.backbone.parameters())


@pytest.mark.slow
def test_e2e_sums_both_losses(cfg, train_samples):
    model = _build(cfg, train_mode='e2e').train()
    losses = _losses(model, train_samples)
    assert set(losses) == {
        'loss_cls', 'loss_conf', 'loss_xy', 'loss_wh', 'loss_mask'}
    assert float(losses['loss_mask'].detach()) > 0
    model.zero_grad()
    sum(v.sum() if torch.is_tensor(v) else sum(v)
        for v in losses.values()).backward()
    assert all(p.grad is not None for p in model.parameters())


def _predict(model, sample, **test_cfg):
    model = copy.deepcopy(model).eval()
    model.test_cfg.update(test_cfg)
    data = model_inputs(model, [sample], False)
    with torch.no_grad():
        return model(**data, mode='predict')[0]


def test_masks_are_pasted_at_the_original_image_size(mask_model,
                                                     test_sample):
    assert tuple(test_sample['inputs'].shape[-2:]) == (SIZE, SIZE)
    # keep every candidate: the random detector scores far below 0.05
    result = _predict(mask_model, test_sample, score_thr=0., conf_thr=0.,
                      max_per_img=5)
    assert result.ori_shape == (600, 800)
    pred = result.pred_instances
    n = len(pred)
    assert 1 <= n <= 5
    assert pred.bboxes.shape == (n, 4) and pred.scores.shape == (n, )
    assert pred.masks.shape == (n, 600, 800)
    assert pred.masks.dtype == torch.bool and pred.masks.any()
    boxes = pred.bboxes  # in the original image (rescaled)
    assert float(boxes[:, 2].max()) > SIZE or float(boxes[:, 3].max()) > SIZE
    assert float(boxes[:, 2].max()) <= 800 and float(boxes[:, 3].max()) <= 600
    # every pixel of a mask lies within its box (+1 px of paste border)
    for box, mask in zip(boxes, pred.masks):
        ys, xs = mask.nonzero(as_tuple=True)
        if len(xs):
            assert xs.min() >= box[0].floor() - 1 and xs.max() <= box[2] + 1
            assert ys.min() >= box[1].floor() - 1 and ys.max() <= box[3] + 1


def test_runaway_boxes_are_clipped_or_dropped():
    """An untrained YOLOv3 head gives boxes of 1e24 px or inf: RoIAlign
    would sample them for minutes (see clip_to_image)."""
    inf, nan = float('inf'), float('nan')
    dets = InstanceData(
        bboxes=torch.tensor([[10., 20., 1e24, 30.], [0., 0., inf, 5.],
                             [nan, 0., 5., 5.], [-50., -9., -1., 40.],
                             [-3e18, 5., 7., 3e18]]),
        scores=torch.arange(5.))
    kept = clip_to_image(dets, (60, 80))
    assert kept.scores.tolist() == [0., 4.]
    assert kept.bboxes.tolist() == [[10., 20., 80., 30.], [0., 5., 7., 60.]]


def test_zero_detections_give_an_empty_well_formed_result(
        mask_model, test_sample):
    pred = _predict(mask_model, test_sample, score_thr=1.1).pred_instances
    assert pred.bboxes.shape == (0, 4)
    assert pred.scores.shape == (0, ) and pred.labels.shape == (0, )
    assert pred.masks.shape == (0, 600, 800)
    assert pred.masks.dtype == torch.bool


@pytest.mark.slow
def test_mask7_switch_gives_7x7_logits_and_targets(built, train_samples):
    model = copy.deepcopy(built(MASK7)).train()
    assert model.train_mode == 'mask' and model.mask_feat_level == 0
    assert model.mask_size == (7, 7)
    with torch.no_grad():
        x = model.extract_feat(torch.zeros(1, 3, SIZE, SIZE))
        rois = torch.tensor([[0., 10., 20., 120., 200.]])
        logits = model.mask_logits(x, rois)
    assert x[0].shape[-1] == SIZE // 32  # pooled from the stride-32 level
    assert logits.shape == (1, 80, 7, 7)
    loss = _losses(model, train_samples)['loss_mask']
    assert torch.isfinite(loss).all() and float(loss.detach()) > 0


def test_default_mask_logits_are_28x28(mask_model):
    assert mask_model.mask_size == (28, 28)
    rois = torch.tensor([[0., 10., 20., 120., 200.]])
    with torch.no_grad():
        x = mask_model.extract_feat(torch.zeros(1, 3, SIZE, SIZE))
        assert mask_model.mask_logits(x, rois).shape == (1, 3, 28, 28)


@pytest.mark.parametrize('change,message', [
    (dict(train_mode='rpn'), 'train_mode'),
    (dict(mask_feat_level=3), 'mask_feat_level'),
    (dict(mask_feat_level=0), 'featmap_strides'),
    (dict(mask_roi_extractor=dict(
        type='SingleRoIExtractor', out_channels=256, featmap_strides=[8],
        roi_layer=dict(type='RoIAlign', output_size=14))), 'channels'),
    (dict(mask_roi_extractor=dict(
        type='SingleRoIExtractor', out_channels=128, featmap_strides=[8],
        roi_layer=dict(type='RoIAlign', output_size=7))), 'mask_size'),
])
def test_inconsistent_mask_branch_is_refused(cfg, change, message):
    # the check runs in the constructor, after the detector is built: on
    # the meta device the build allocates and initialises no Darknet-53
    # weights (a second of the test each)
    with pytest.raises(ValueError, match=message), torch.device('meta'):
        _build(cfg, **change)


YOLO_MASK_CONFIGS = sorted(
    glob.glob(osp.join(CONFIGS, 'yolo-mask-*.py')))
assert YOLO_MASK_CONFIGS, f'no YOLO-Mask configs under {CONFIGS}'


def _last_checkpoint(cfg, name):
    loop = cfg.train_cfg
    if 'max_epochs' in loop:
        return f'work_dirs/{name}/epoch_{loop.max_epochs}.pth'
    return f'work_dirs/{name}/iter_{loop.max_iters}.pth'


@pytest.mark.parametrize('path', YOLO_MASK_CONFIGS, ids=osp.basename)
def test_configs_build_and_chain(path, built):
    cfg = _cfg(path)
    # the three configs the model tests build are built once for both; the
    # others are built on the meta device (every constructor and check
    # runs; no weights are allocated or initialised)
    if path in (STEP1, STEP2, MASK7):
        model = built(path)
    else:
        with torch.device('meta'):
            model = MODELS.build(cfg.model)
    name = osp.basename(path)[:-3]
    algorithm = name.split('_')[0]  # yolo-mask-step1, -step2(-mask7), -e2e
    mode = ('mask' if '-step2' in algorithm else
            'e2e' if algorithm.endswith('-e2e') else 'detector')
    assert model.train_mode == mode
    assert model.backbone.depth == 53
    assert model.bbox_head.prior_generator.num_base_priors == [3, 3, 3]
    assert cfg.model.data_preprocessor.std == [255., 255., 255.]
    segm = 'segm' in cfg.val_evaluator.metric
    assert segm == (mode != 'detector')
    if mode == 'mask':  # load_from is the same data's step 1's last ckpt
        step1 = cfg.load_from.split('/')[1]
        assert step1.startswith('yolo-mask-step1_')
        assert step1.split('_')[-1] == name.split('_')[-1]  # data, input
        assert osp.isfile(osp.join(CONFIGS, step1 + '.py'))
        assert cfg.load_from == _last_checkpoint(
            _cfg(osp.join(CONFIGS, step1 + '.py')), step1)
    if '_1xb2-' in name:  # the small-data runs: fixed 384x384, 200
        # iterations (the converged budget's 24e: 2,304)
        resize = [t for t in cfg.train_dataloader.dataset.pipeline
                  if t['type'] == 'Resize'][0]
        assert resize['scale'] == (384, 384)
        assert cfg.train_cfg.max_iters == (2304 if '-24e_' in name else 200)
    else:
        pipeline = cfg.train_dataloader.dataset.pipeline
        types = [t['type'] for t in pipeline]
        assert types[2:4] == ['Expand', 'MinIoURandomCrop']
        assert pipeline[1]['with_mask'] is True
        size = int(name.split('-')[-1])
        assert pipeline[4]['scale'][-1] == (size, size)
