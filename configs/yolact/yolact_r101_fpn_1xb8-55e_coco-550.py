# YOLACT R101-FPN, 550x550 (mmdet's yolact_r101_1xb8-55e_coco).
_base_ = './yolact_r50_fpn_1xb8-55e_coco-550.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(type='Pretrained',
                      checkpoint='torchvision://resnet101')))
