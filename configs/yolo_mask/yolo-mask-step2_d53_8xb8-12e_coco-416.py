# YOLO-Mask D53 step 2 at 416: the 608 step 2 deltas (see
# yolo_mask/yolo-mask-step2_d53_8xb8-12e_coco-608.py) over the 416 step 1
# config.
_base_ = './yolo-mask-step1_d53_8xb8-ms-273e_coco-416.py'
model = dict(train_mode='mask')
load_from = 'work_dirs/yolo-mask-step1_d53_8xb8-ms-273e_coco-416/epoch_273.pth'
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', by_epoch=True, milestones=[8, 11], gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
default_hooks = dict(checkpoint=dict(interval=1))
val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator
