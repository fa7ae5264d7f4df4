# BlendMask-RT R50 on COCO, 4x (AdelaiDet configs/BlendMask/
# RT_R_50_4x_syncbn_shtw.yaml on Base-RT.yaml): P3-P5, one shared 3-conv
# tower, 2 bottom-module convs (`blendmask_rt` of the model base);
# multi-scale training with the short side in 256-608 (long side at most
# 900), test at short side 512 (long side at most 736); SyncBN backbone
# with every stage trained (FREEZE_AT -1). AdelaiDet trains 360k
# iterations at batch 16 with steps at 300k and 340k, about 48 COCO epochs
# with steps at 40 and 45.
_base_ = [
    '../_base_/models/blendmask_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]
model = dict(
    _base_.blendmask_rt,
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False))
train_pipeline = [
    dict(
        type='RandomChoiceResize',
        scales=[(900, s) for s in range(256, 609, 32)],
        keep_ratio=True) if t.type == 'Resize' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, scale=(736, 512)) if t.type == 'Resize' else t
    for t in _base_.test_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
max_epochs = 48
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1.0 / 3, by_epoch=False, begin=0,
        end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[40, 45],
        gamma=0.1)
]
