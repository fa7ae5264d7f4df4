# A tiny SAIS (ResNet-18, 32-channel FPN and heads, 256x256 input) on the
# real fruits_nuts images, for tests: 2 iterations, random init.
_base_ = '../../configs/sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py'
img_scale = (256, 256)
model = dict(
    backbone=dict(depth=18, frozen_stages=-1, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=32),
    bbox_head=dict(
        in_channels=32,
        feat_channels=32,
        stacked_convs=1,
        num_protos=8,
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True)),
    mask_head=dict(
        in_channels=32,
        feat_channels=32,
        num_protos=8,
        num_convs=1,
        norm_cfg=dict(type='GN', num_groups=8, requires_grad=True)),
    test_cfg=dict(score_thr=0.0, nms_pre=200, max_per_img=20))
# the fixed-size base's pipelines at 256, never flipped
train_pipeline = [dict(t, scale=img_scale) if t.type == 'Resize' else t
                  for t in _base_.train_pipeline if t.type != 'RandomFlip']
test_pipeline = [dict(t, scale=img_scale) if t.type == 'Resize' else t
                 for t in _base_.test_pipeline]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
max_iters = 2
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=-1))
