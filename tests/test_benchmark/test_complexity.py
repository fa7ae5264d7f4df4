"""The FLOP counter: mmcv's DCNv2 counts as the convolution it replaces,
and a model that detects nothing still counts its heads (their outputs are
kept alive in the trace by hooks, not by rebinding ``forward``)."""
import torch
from conftest import TINY_CFG, real_dataset

from projects.benchmark import complexity
from projects.benchmark.complexity import flop_analyzer
from projects.apis import build_model


def test_deformable_convolution_flops():
    """mmcv's DCNv2 counts as the convolution it replaces plus its offset
    conv (mmengine alone counts it 0)."""
    from mmcv.ops import ModulatedDeformConv2dPack
    from mmengine.analysis import FlopAnalyzer
    x = (torch.rand(1, 16, 20, 24), )
    dcn = ModulatedDeformConv2dPack(16, 32, 3, padding=1).eval()
    conv = torch.nn.Conv2d(16, 32, 3, padding=1)
    with torch.no_grad():
        expected = (FlopAnalyzer(conv, x).total() +
                    FlopAnalyzer(dcn.conv_offset, x).total())
        assert expected == 20 * 24 * (32 + 27) * 16 * 9
        assert flop_analyzer(dcn, x).total() == expected


def tiny_solo() -> dict:
    """A SOLO (ResNet-18, 32-channel FPN and head, 3 grids), random init:
    with the focal loss's prior bias it detects nothing."""
    return dict(
        type='SOLO',
        data_preprocessor=dict(
            type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_mask=True,
            pad_size_divisor=32),
        backbone=dict(type='ResNet', depth=18, out_indices=(0, 1, 2, 3),
                      norm_eval=True, style='pytorch'),
        neck=dict(type='FPN', in_channels=[64, 128, 256, 512],
                  out_channels=32, start_level=1, num_outs=3),
        mask_head=dict(
            type='ZooSOLOHead', num_classes=3, in_channels=32,
            stacked_convs=1, feat_channels=32, strides=[8, 16, 32],
            scale_ranges=((1, 96), (48, 192), (96, 2048)), pos_scale=0.2,
            num_grids=[12, 8, 4], cls_down_index=0,
            loss_mask=dict(type='DiceLoss', use_sigmoid=True,
                           loss_weight=3.0),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                          alpha=0.25, loss_weight=1.0),
            norm_cfg=dict(type='GN', num_groups=8, requires_grad=True)),
        test_cfg=dict(nms_pre=500, score_thr=0.1, mask_thr=0.5,
                      filter_thr=0.05, kernel='gaussian', sigma=2.0,
                      max_per_img=100))


def test_flops_of_a_model_without_detections(fruits_nuts):
    """An untrained SOLO detects nothing and returns fresh empty tensors,
    which the tracer would prune back to 0 FLOPs; the heads still count."""
    from mmengine.config import Config, ConfigDict
    from mmengine.dataset import pseudo_collate
    cfg = Config.fromfile(TINY_CFG)
    cfg.model = ConfigDict(tiny_solo())
    model = build_model(cfg, None, 'cpu').eval()
    batch = pseudo_collate(
        [real_dataset(cfg, 'test_dataloader', size=128)[0]])
    result = complexity(model, batch)
    assert result['detections'] == 0
    inputs = model.data_preprocessor(batch, False)['inputs']
    with torch.no_grad():
        backbone = flop_analyzer(model.backbone, (inputs, )).total()
    assert result['flops'] > backbone > 0
    assert not any(m._forward_hooks for m in model.modules())
