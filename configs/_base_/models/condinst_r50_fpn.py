# CondInst (Tian et al., ECCV 2020; slides "CondInst", Fig. 3): FCOS box
# head that also generates each instance's mask-head filters
# (ZooCondInstBboxHead), a mask branch on P3-P5 and the dynamic mask head
# (ZooCondInstMaskHead) on ResNet-50 (pytorch style) + FPN (P3-P7), as
# AdelaiDet configs/CondInst/Base-CondInst.yaml and mmdet's
# condinst_r50_fpn_ms-poly-90k_coco_instance.py.
model = dict(
    type='ZooCondInst',
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
        type='ZooCondInstBboxHead',
        # = dynamic_param_count(8, width 8, depth 3, rel coords): 169; the
        # model refuses to build when it differs from the mask head's
        num_params=169,
        num_classes=80,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        strides=[8, 16, 32, 64, 128],
        norm_on_bbox=True,
        centerness_on_reg=True,
        center_sampling=True,
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
        type='ZooCondInstMaskHead',
        num_layers=3,  # Table 1a: depth
        feat_channels=8,  # Table 1b: width
        rel_coords=True,  # Table 3: relative coordinates to F_mask
        size_of_interest=8,
        mask_out_stride=4,
        max_masks_to_train=300,
        mask_feature_head=dict(
            in_channels=256,
            feat_channels=128,
            start_level=0,
            end_level=2,
            out_channels=8,  # channels of F_mask
            mask_stride=8,
            num_stacked_convs=4,
            norm_cfg=dict(type='BN', requires_grad=True)),
        loss_mask=dict(
            type='DiceLoss',
            use_sigmoid=True,
            activate=True,
            eps=5e-6,
            loss_weight=1.0)),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100,
        mask_thr=0.5))

# CondInst-RT, a model delta (apply as `model = _base_.condinst_rt`): the
# recipe of AdelaiDet's BlendMask RT_R_50_4x (configs/BlendMask/Base-RT.yaml
# and Base-550.yaml) on CondInst. FPN P3-P5 only (FCOS sizes of interest 64
# and 128) and one tower of 3 convs shared by classification and regression
# instead of two towers of 4. The mask branch already reads P3-P5.
condinst_rt = dict(
    neck=dict(num_outs=3, add_extra_convs=False),
    bbox_head=dict(
        strides=[8, 16, 32],
        regress_ranges=((-1, 64), (64, 128), (128, 1e8)),
        stacked_convs=0,
        num_share_convs=3))
