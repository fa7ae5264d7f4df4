# YOLO-Mask D53 step 2 (§4) on COCO at 608: step 1's detector, frozen (BN
# statistics too), gives its post-NMS detections; the mask head learns on
# those with IoU >= 0.5 to a GT, and on the GT boxes (Mask R-CNN's
# sampling). The length and lr of this step are not taken from the paper:
# Mask R-CNN's 1x schedule for its mask head (SGD lr 0.02, 12 epochs, steps
# at 8 and 11, 500-iteration warm-up), on step 1's data and batch 64.
_base_ = './yolo-mask-step1_d53_8xb8-ms-273e_coco-608.py'
model = dict(train_mode='mask')
load_from = 'work_dirs/yolo-mask-step1_d53_8xb8-ms-273e_coco-608/epoch_273.pth'
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
