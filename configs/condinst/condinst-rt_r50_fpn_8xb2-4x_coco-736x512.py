# CondInst-RT R50-FPN on COCO: AdelaiDet's BlendMask RT_R_50_4x recipe
# (configs/BlendMask/RT_R_50_4x.yaml on Base-RT.yaml) applied to CondInst;
# no public CondInst-RT config exists. P3-P5 with a shared 3-conv tower
# (condinst_rt in the model base), the whole backbone trained with SyncBN
# (FREEZE_AT -1, NORM SyncBN), short side 256-608 (max 900) in training,
# short side 512 (max 736) in testing.
# Schedule: 4x = 360k iterations at batch 16, steps at 300k and 340k;
# 360k x 16 / 117,266 images = 49 epochs, steps at 40.9 and 46.4 epochs ->
# 48 epochs with steps at 41 and 46.
_base_ = './condinst_r50_fpn_8xb2-1x_coco-1333x800.py'
model = dict(
    _base_.condinst_rt,
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(900, s) for s in range(256, 609, 32)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), by_mask=False),
    dict(type='PackDetInputs')
]
test_pipeline = [dict(t, scale=(736, 512)) if t.type == 'Resize' else t
                 for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_epochs=48)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1.0 / 3, by_epoch=False, begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=48,
        by_epoch=True,
        milestones=[41, 46],
        gamma=0.1)
]
