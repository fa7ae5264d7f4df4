# SAIS with a ResNeXt-101 (64x4d) backbone.
_base_ = './sais_r50_fpn_8xb2-1x_coco-768.py'
model = dict(
    backbone=dict(
        type='ResNeXt',
        depth=101,
        groups=64,
        base_width=4,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://resnext101_64x4d')))
