"""Shared pieces of the benchmark tests: fixture metafiles in the zoo's
model-index shape, test_metrics.json files, a tiny SAIS, a tiny Mask R-CNN
and hook bookkeeping. Fixtures defined here are imported by the test
modules that use them (a conftest.py here would shadow tests/conftest.py,
which the tests import as ``conftest``)."""
import json
import time

import pytest
import torch
from conftest import TINY_CFG, load_script, real_dataset

SAIS_METAFILE = """\
Collections:
  - Name: SAIS
    Metadata:
      Architecture: [SAISHead, SAISMaskHead]
    Paper:
      Title: 'SAIS: Single-stage Anchor-free Instance Segmentation'
      URL: https://arxiv.org/abs/0000.00000
    README: configs/sais/README.md
Models:
  - Name: sais_r50_fpn_8xb2-1x_coco-640
    In Collection: SAIS
    Config: configs/sais/sais_r50_fpn_8xb2-1x_coco-640.py
    Reported In: SAIS paper, Table IV
    Metadata:
      Training Memory (GB): {sais_gb}
    Results:
      - Task: Instance Segmentation
        Dataset: COCO
        Metrics:
          mask AP: 27.6
  - Name: sais_r50_fpn_1xb2-200i_fruits-nuts-384
    In Collection: SAIS
    Config: configs/sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py
    Metadata: {{Training Data: fruits_nuts}}
"""

YOLACT_METAFILE = """\
Collections:
  - Name: SSS
    Metadata:
      Architecture: [SSSHead]
  - Name: {yolact}
    Metadata:
      Architecture: [ZooYOLACTHead, ZooYOLACTProtonet]
    Paper:
      Title: 'YOLACT: Real-time Instance Segmentation'
      URL: https://arxiv.org/abs/1904.02689
  - Name: YOLACT++
    Metadata:
      Architecture: [ZooYOLACTHead, YOLACTPlusPlusProtonet]
Models:
  - Name: yolact_r50_1xb8-55e_coco
    In Collection: {yolact}
    Config: configs/yolact/yolact_r50_1xb8-55e_coco.py
    Reported In: {yolact_source}
    Metadata:
      Training Memory (GB): {yolact_gb}
      inference time (ms/im): [{{value: 23.5, hardware: Titan Xp}}]
  - Name: yolact_r50_fruits-nuts
    In Collection: {yolact}
    Config: configs/yolact/yolact_r50_fruits-nuts.py
    Metadata:
      Training Memory (GB): 9.9
  - Name: yolactpp_r50_fruits-nuts
    In Collection: YOLACT++
    Config: configs/yolact/yolactpp_r50_fruits-nuts.py
{yolactpp_figure}"""


def write_metafiles(root, sais_gb=1.8, yolact_gb=3.8, yolact='YOLACT',
                    yolact_source='SAIS paper, Table IV',
                    yolactpp_gb=None) -> str:
    """``root/configs/{sais,yolact}/metafile.yml``; returns the configs
    folder. (YOLACT's fruits-nuts Model has a memory figure but no
    ``Reported In``: not a paper figure. YOLACT++ has one only when
    ``yolactpp_gb`` is given, from 'YOLACT++ paper, Table 6'.)"""
    yolactpp_figure = '' if yolactpp_gb is None else (
        '    Reported In: YOLACT++ paper, Table 6\n'
        f'    Metadata: {{Training Memory (GB): {yolactpp_gb}}}\n')
    configs = root / 'configs'
    for method, text in (
            ('sais', SAIS_METAFILE.format(sais_gb=sais_gb)),
            ('yolact', YOLACT_METAFILE.format(
                yolact=yolact, yolact_gb=yolact_gb,
                yolact_source=yolact_source,
                yolactpp_figure=yolactpp_figure))):
        (configs / method).mkdir(parents=True, exist_ok=True)
        (configs / method / 'metafile.yml').write_text(text)
    return str(configs)


def metrics(segm_ap: float) -> dict:
    """A CocoMetric result: mask AP ``segm_ap``, box AP half of it."""
    m = {}
    for kind, ap in (('bbox', segm_ap / 2), ('segm', segm_ap)):
        for s, v in (('mAP', ap), ('mAP_50', 2 * ap), ('mAP_75', ap / 2),
                     ('mAP_s', -1.0), ('mAP_m', ap), ('mAP_l', ap)):
            m[f'coco/{kind}_{s}'] = v
    return m


def write_metrics(folder, config, result, checkpoint='x.pth') -> None:
    """A tools/test.py test_metrics.json in ``folder``."""
    folder.mkdir(parents=True)
    (folder / 'test_metrics.json').write_text(
        json.dumps(dict(config=config, checkpoint=checkpoint,
                        metrics=result)))


def load_tool():
    """tools/benchmark.py as a module."""
    return load_script('tools/benchmark.py')


def hook_count(model: torch.nn.Module) -> int:
    """Forward and forward pre-hooks on the model's modules."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks)
               for m in model.modules())


class VirtualClock:
    """A clock (seconds) that moves only by :meth:`sleep`: a StageTimer on
    it measures exactly the injected delays, whatever the load of the
    machine (other test runs share these 2 cores)."""

    def __init__(self) -> None:
        self.now = 0.

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def sleeping(fn, seconds: float, sleep=time.sleep):
    """``fn`` that sleeps ``seconds`` (by ``sleep``) first."""

    def wrapped(*args, **kwargs):
        sleep(seconds)
        return fn(*args, **kwargs)

    return wrapped


@pytest.fixture(scope='module')
def tiny_sais(fruits_nuts):
    """(model, batch): the tiny SAIS test config, random init, eval mode,
    and its first fruits_nuts test image at 128x128."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from projects.apis import build_model
    cfg = Config.fromfile(TINY_CFG)
    model = build_model(cfg, None, 'cpu').eval()
    batch = pseudo_collate(
        [real_dataset(cfg, 'test_dataloader', size=128)[0]])
    return model, batch


def mask_rcnn_cfg() -> dict:
    """mmdet's mask-rcnn_r50_fpn (configs/_base_/models), 3 classes, no
    pretrained init, keeping every RoI (``score_thr=0``) so that the mask
    branch always runs."""
    box_coder = dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4)
    extractor = dict(type='SingleRoIExtractor', out_channels=256,
                     featmap_strides=[4, 8, 16, 32])
    return dict(
        type='MaskRCNN',
        data_preprocessor=dict(
            type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_mask=True,
            pad_size_divisor=32),
        backbone=dict(
            type='ResNet', depth=50, num_stages=4, out_indices=(0, 1, 2, 3),
            frozen_stages=1, norm_cfg=dict(type='BN', requires_grad=True),
            norm_eval=True, style='pytorch'),
        neck=dict(type='FPN', in_channels=[256, 512, 1024, 2048],
                  out_channels=256, num_outs=5),
        rpn_head=dict(
            type='RPNHead', in_channels=256, feat_channels=256,
            anchor_generator=dict(type='AnchorGenerator', scales=[8],
                                  ratios=[0.5, 1.0, 2.0],
                                  strides=[4, 8, 16, 32, 64]),
            bbox_coder=dict(box_coder, target_stds=[1.0] * 4),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True),
            loss_bbox=dict(type='L1Loss')),
        roi_head=dict(
            type='StandardRoIHead',
            bbox_roi_extractor=dict(
                extractor, roi_layer=dict(type='RoIAlign', output_size=7,
                                          sampling_ratio=0)),
            bbox_head=dict(
                type='Shared2FCBBoxHead', in_channels=256,
                fc_out_channels=1024, roi_feat_size=7, num_classes=3,
                bbox_coder=dict(box_coder, target_stds=[0.1, 0.1, 0.2, 0.2]),
                reg_class_agnostic=False,
                loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False),
                loss_bbox=dict(type='L1Loss')),
            mask_roi_extractor=dict(
                extractor, roi_layer=dict(type='RoIAlign', output_size=14,
                                          sampling_ratio=0)),
            mask_head=dict(
                type='FCNMaskHead', num_convs=4, in_channels=256,
                conv_out_channels=256, num_classes=3,
                loss_mask=dict(type='CrossEntropyLoss', use_mask=True))),
        train_cfg=None,
        test_cfg=dict(
            rpn=dict(nms_pre=100, max_per_img=20,
                     nms=dict(type='nms', iou_threshold=0.7),
                     min_bbox_size=0),
            rcnn=dict(score_thr=0.0, nms=dict(type='nms', iou_threshold=0.5),
                      max_per_img=5, mask_thr_binary=0.5)))


@pytest.fixture(scope='module')
def mask_rcnn():
    """(model, batch): the Mask R-CNN of :func:`mask_rcnn_cfg`, seeded
    random init, eval mode, and one random 64x96 image."""
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmdet.utils import register_all_modules
    from mmengine.config import ConfigDict
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(ConfigDict(mask_rcnn_cfg()))
    model.init_weights()
    model.eval()
    shape = (64, 96)
    sample = DetDataSample(metainfo=dict(img_shape=shape, ori_shape=shape,
                                         scale_factor=(1., 1.)))
    image = torch.randint(0, 256, (3, *shape), dtype=torch.uint8)
    return model, dict(inputs=[image], data_samples=[sample])
