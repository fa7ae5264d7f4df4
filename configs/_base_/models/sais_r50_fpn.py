# SAIS (Xiang et al.): FCOS box head with mask coefficients (SAISHead) and a
# YOLACT-style protonet (SAISMaskHead) on ResNet-50 + FPN (P3-P7).
model = dict(
    type='SingleStageInstanceSegmentor',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32,
        pad_mask=True),
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
        add_extra_convs='on_output',
        num_outs=5,
        relu_before_extra_convs=True),
    bbox_head=dict(
        type='SAISHead',
        num_classes=80,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        strides=[8, 16, 32, 64, 128],
        num_protos=32,
        fuse_towers=True,  # Table III: coefficients from cls + reg towers
        center_aware=True,  # Table II: center-aware targets (§III-B)
        norm_on_bbox=True,
        centerness_on_reg=True,
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
    mask_head=dict(
        type='SAISMaskHead',
        in_channels=256,
        feat_channels=256,
        num_protos=32,
        num_convs=3,
        proto_level=0,  # P3: prototypes at 1/4 of the input
        # GN as in the FCOS towers: without it the prototypes from P3 are
        # tens in magnitude and their ReLUs die in the first iterations
        # (measured on fruits_nuts: all prototypes 0, segm AP 0)
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        max_masks_to_train=100,
        loss_mask_weight=1.0),
    test_cfg=dict(
        nms_pre=1000,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100,
        mask_thr_binary=0.5))
