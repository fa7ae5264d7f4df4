# SAIS R50 on coco-mini (80 train / 79 val real COCO images, 80 classes):
# the fruits_nuts schedule and input on COCO's classes. Known problem: in
# this short schedule the mask branch collapses (prototypes die by iteration
# 20, segm AP 0); see README, "Known problem, coco-mini".
_base_ = [
    './_base_/models/sais_r50_fpn.py',
    './_base_/datasets/coco_mini_384.py',
    './_base_/schedules/schedule_small_data.py'
]
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/resnet50_augnet_selfsup.pth')))
