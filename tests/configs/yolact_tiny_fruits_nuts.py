# A tiny YOLACT (ResNet-18, 32-channel FPN and heads, 8 prototypes, 256x256
# input, the tiny SAIS's size) on the real fruits_nuts images, for tests.
_base_ = '../../configs/yolact/yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py'
input_size = 256
featmaps = [32, 16, 8, 4, 2]
model = dict(
    backbone=dict(depth=18, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=32),
    bbox_head=dict(
        in_channels=32,
        feat_channels=32,
        num_protos=8,
        anchor_generator=dict(
            strides=[input_size / x for x in featmaps],
            centers=[(input_size * 0.5 / x, input_size * 0.5 / x)
                     for x in featmaps])),
    mask_head=dict(
        in_channels=32,
        num_protos=8,
        proto_channels=(32, 32, 32, None, 32, 8)),
    test_cfg=dict(max_per_img=20))
# the fixed-size base's pipelines at 256, never flipped
img_scale = (input_size, input_size)
train_pipeline = [dict(t, scale=img_scale) if t.type == 'Resize' else t
                  for t in _base_.train_pipeline if t.type != 'RandomFlip']
test_pipeline = [dict(t, scale=img_scale) if t.type == 'Resize' else t
                 for t in _base_.test_pipeline]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
