# SOLOv2 R50 on coco-mini (80 COCO 2017 photos, 80 classes): the short CPU run
# of every method (384x384, batch 2, 200 iterations, lr 0.01) from the
# offline self-supervised ResNet-50 init that tools/setup.sh prepares.
_base_ = [
    './_base_/models/solov2_r50_fpn.py',
    './_base_/datasets/coco_mini_384.py',
    './_base_/schedules/schedule_small_data.py'
]
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/resnet50_augnet_selfsup.pth')))
