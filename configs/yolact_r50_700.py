# YOLACT R50-FPN at 700x700 (YOLACT's yolact_im700): feature maps
# 88/44/22/11/6 and anchor sizes scaled by 700/550, as the original repo.
_base_ = './yolact_r50.py'
input_size = 700
featmaps = [88, 44, 22, 11, 6]
model = dict(
    bbox_head=dict(
        anchor_generator=dict(
            octave_base_scale=3 * input_size / 550,
            strides=[input_size / x for x in featmaps],
            centers=[(input_size * 0.5 / x, input_size * 0.5 / x)
                     for x in featmaps])))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(4.0, 4.0)),
    dict(type='Expand', mean=[123.68, 116.78, 103.94], to_rgb=True,
         ratio_range=(1, 4)),
    dict(type='MinIoURandomCrop', min_ious=(0.1, 0.3, 0.5, 0.7, 0.9),
         min_crop_size=0.3),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion', brightness_delta=32,
         contrast_range=(0.5, 1.5), saturation_range=(0.5, 1.5),
         hue_delta=18),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
