# SAIS R50 on coco-mini (80 train / 79 val real COCO images, 80 classes):
# the fruits_nuts schedule and input on COCO's classes. Known problem: in
# this short schedule the mask branch collapses (prototypes die by iteration
# 20, segm AP 0); see README, "Known problem, coco-mini".
_base_ = [
    './_base_/models/sais_r50_fpn.py',
    './_base_/datasets/coco_mini_instance.py',
    './_base_/schedules/schedule_small_data.py'
]
img_scale = (384, 384)
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/resnet50_augnet_selfsup.pth')))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), by_mask=False),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_sampler=None, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
