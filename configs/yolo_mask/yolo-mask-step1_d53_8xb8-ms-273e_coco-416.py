# YOLO-Mask D53 step 1 at 416: as the 608 config with mmdet's
# yolov3_d53_8xb8-ms-416-273e_coco input (multi-scale 320-416, test 416).
_base_ = './yolo-mask-step1_d53_8xb8-ms-273e_coco-608.py'
input_size = (416, 416)
train_pipeline = [
    dict(t, scale=[(320, 320), input_size]) if t.type == 'RandomResize' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, scale=input_size) if t.type == 'Resize' else t
    for t in _base_.test_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
