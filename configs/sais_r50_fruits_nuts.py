# SAIS R50 on fruits_nuts (14 training photos, 3 classes): a short CPU run,
# batch 2 from the offline self-supervised ResNet-50 init that
# tools/setup.sh prepares (online users may set the torchvision init back).
_base_ = [
    './_base_/models/sais_r50_fpn.py',
    './_base_/datasets/fruits_nuts_384.py',
    './_base_/schedules/schedule_small_data.py'
]
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/resnet50_augnet_selfsup.pth')),
    bbox_head=dict(num_classes=3))
