# FCOS R50-FPN (Tian et al., ICCV 2019; Shen slides, "Overview of FCOS",
# Fig. 2): the zoo's box-only reference row for the FCOS-based instance
# segmenters (SAIS, BlendMask, CondInst), mmdet 3.3's own FCOS detector and
# FCOSHead. No mask branch: its configs evaluate `bbox` only.
#
# The head is mmdet's FCOS "with improvements" (the settings of
# fcos_r50-caffe_fpn_gn-head-center-normbbox-centeronreg-giou_1x_coco.py and
# of the pytorch-style fcos_r50_fpn_gn-head-center-normbbox-centeronreg-
# giou_8xb8-amp-lsj-200e_coco.py: GN towers, centre sampling, distances
# normalised by the stride, centerness on the regression tower, GIoU loss,
# NMS at IoU 0.6), the FCOS of the slides' Table 8.
#
# Where it differs from mmdet's 1x FCOS configs, and why:
# - backbone, init and normalisation are the zoo's (as in
#   configs/_base_/models/sais_r50_fpn.py and mmdet's pytorch-style FCOS):
#   pytorch-style ResNet-50 with trainable BN under norm_eval, torchvision's
#   ImageNet weights, RGB ImageNet mean/std; mmdet's 1x configs use the
#   caffe-style ResNet (frozen BN) from detectron's weights with a BGR mean
#   and std 1. One backbone for every row keeps the zoo's tables comparable;
#   small-data configs swap the init for the `selfsup_init` delta.
# - the schedule is the zoo's (schedules/schedule_1x.py or
#   schedule_small_data.py), with gradient clipping and no bias lr x2 / no
#   bias decay (mmdet's `paramwise_cfg`), like SAIS.
# Against SAIS's box head (SAISHead on the same FPN) the differences are
# FCOS's: centre sampling on (SAIS off), NMS IoU 0.6 (SAIS 0.5), the
# minimal-area assignment (SAIS: center-aware targets, §III-B).
model = dict(
    type='FCOS',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(
        type='FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        start_level=1,
        add_extra_convs='on_output',  # P6, P7 from P5
        num_outs=5,
        relu_before_extra_convs=True),
    bbox_head=dict(
        type='FCOSHead',
        num_classes=80,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        strides=[8, 16, 32, 64, 128],
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        center_sampling=True,
        center_sample_radius=1.5,
        norm_on_bbox=True,
        centerness_on_reg=True,
        dcn_on_last_conv=False,
        conv_bias=True,
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100))
