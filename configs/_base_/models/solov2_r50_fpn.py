# SOLOv2 R50-FPN (Wang et al., NeurIPS 2020) as mmdet's solov2_r50_fpn_1x_coco:
# dynamic 1x1 kernels per grid cell over a unified mask feature map (§3.2)
# and Matrix NMS (§3.3), with the zoo's ZooSOLOV2Head. Same grid, scale
# ranges and pos_scale as SOLO.
_base_ = './solo_r50_fpn.py'
model = dict(
    type='SOLOv2',
    mask_head=dict(
        _delete_=True,
        type='ZooSOLOV2Head',
        num_classes=80,
        in_channels=256,
        feat_channels=512,
        stacked_convs=4,
        strides=[8, 8, 16, 32, 32],
        scale_ranges=((1, 96), (48, 192), (96, 384), (192, 768), (384, 2048)),
        pos_scale=0.2,
        num_grids=[40, 36, 24, 16, 12],
        cls_down_index=0,
        mask_feature_head=dict(
            feat_channels=128,
            start_level=0,
            end_level=3,
            out_channels=256,
            mask_stride=4,
            norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)),
        loss_mask=dict(type='DiceLoss', use_sigmoid=True, loss_weight=3.0),
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0)))
