# SAIS with a ResNet-101 backbone.
_base_ = './sais_r50_fpn_8xb2-1x_coco-768.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')))
