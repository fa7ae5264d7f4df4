# BlendMask (Chen et al., CVPR 2020; AdelaiDet configs/BlendMask/
# Base-BlendMask.yaml): an FCOS head with a top layer of K x 14 x 14
# attentions (BlendMaskBboxHead), a bottom module of K = 4 bases at stride 4
# from P3-P5 and the blender at 56 x 56 (BlendMaskMaskHead), on
# ResNet-50 + FPN (P3-P7), run by mmdet's SingleStageInstanceSegmentor.
num_bases = 4  # K (paper ablation on the number of bases)
attn_size = 14  # A (ablation on the attention resolution)
basis_stride = 4  # bottom resolution: 4 (1/4 of the input) or 8
pooler_resolution = 56  # R, the blended mask's side
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
        type='BlendMaskBboxHead',
        num_classes=80,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        strides=[8, 16, 32, 64, 128],
        num_bases=num_bases,
        attn_size=attn_size,
        # AdelaiDet FCOS: GN towers, centre sampling (radius 1.5), GIoU,
        # centerness on the box tower, box distances normalised by stride
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        center_sampling=True,
        center_sample_radius=1.5,
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
        type='BlendMaskMaskHead',
        in_channels=256,
        feat_channels=128,
        num_bases=num_bases,
        num_convs=3,
        in_levels=(0, 1, 2),  # P3-P5
        in_stride=8,
        basis_stride=basis_stride,
        attn_size=attn_size,
        pooler_resolution=pooler_resolution,
        sampling_ratio=1,
        # auxiliary semantic loss from the instance masks (Base-BlendMask
        # LOSS_ON: True); set to the box head's num_classes
        num_classes=80,
        sem_loss_weight=0.3,
        loss_mask_weight=1.0,
        max_masks_to_train=-1,  # AdelaiDet trains every positive
        # AdelaiDet uses SyncBN; BN here so that one process (CPU) runs
        norm_cfg=dict(type='BN', requires_grad=True)),
    test_cfg=dict(
        nms_pre=1000,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100,
        mask_thr_binary=0.5))

# BlendMask-RT (AdelaiDet configs/BlendMask/Base-RT.yaml +
# RT_R_50_4x_syncbn_shtw.yaml): FCOS on P3-P5 only (sizes of interest 64,
# 128), one shared 3-conv tower instead of two 4-conv towers, 2 convs in
# the bottom module. A delta held in `blendmask_rt` because two bases may
# not both define `model`; apply it as `model = dict(_base_.blendmask_rt)`.
blendmask_rt = dict(
    neck=dict(num_outs=3, add_extra_convs=False),
    bbox_head=dict(
        strides=[8, 16, 32],
        regress_ranges=((-1, 64), (64, 128), (128, 1e8)),
        stacked_convs=0,
        num_share_convs=3),
    mask_head=dict(num_convs=2))
