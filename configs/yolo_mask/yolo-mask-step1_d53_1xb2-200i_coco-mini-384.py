# YOLO-Mask D53 step 1 on coco-mini (80 train / 79 val COCO images): the
# fruits_nuts run's schedule and 384x384 input on COCO's 80 classes, from
# random init (see yolo_mask/yolo-mask-step1_d53_1xb2-200i_fruits-nuts-384.py).
_base_ = [
    '../_base_/models/yolo_mask_d53.py',
    '../_base_/datasets/coco_mini_instance.py',
    '../_base_/schedules/schedule_small_data.py'
]
model = dict(train_mode='detector', backbone=dict(init_cfg=None))
# the fruits_nuts run's lr (chosen there), not tried on coco-mini
optim_wrapper = dict(optimizer=dict(lr=0.003, weight_decay=0.0005))
val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
