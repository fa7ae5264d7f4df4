# YOLO-Mask D53 step 1 (§4) on COCO at 608: the YOLOv3 detector alone, as
# mmdet's yolov3_d53_8xb8-ms-608-273e_coco (multi-scale 320-608, Expand,
# MinIoURandomCrop, photometric distortion, batch 64, 273 epochs, ImageNet
# Darknet-53 init), with the masks loaded so that the pipeline is step 2's.
# The mask branch is frozen here; masks are evaluated after step 2.
_base_ = [
    '../_base_/models/yolo_mask_d53.py', '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_yolov3_273e.py'
]
input_size = (608, 608)
model = dict(train_mode='detector')
# `mean` and `to_rgb` of Expand are the data preprocessor's
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Expand', mean=[0, 0, 0], to_rgb=True, ratio_range=(1, 2)),
    dict(
        type='MinIoURandomCrop',
        min_ious=(0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
        min_crop_size=0.3),
    dict(type='RandomResize', scale=[(320, 320), input_size], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    # the zoo's rule (not in mmdet's yolov3): no box under 1 px after crop
    # and resize
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), by_mask=False),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=input_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=8, num_workers=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
