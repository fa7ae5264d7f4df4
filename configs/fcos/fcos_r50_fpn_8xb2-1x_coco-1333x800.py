# FCOS R50-FPN on COCO: mmdet's 1x setting (keep-ratio 1333x800 input, SGD
# lr 0.01, batch 16 = 8 GPUs x 2 images, 12 epochs, steps at 8 and 11) on
# the zoo's backbone and schedule. Boxes only: the evaluator scores `bbox`.
_base_ = [
    '../_base_/models/fcos_r50_fpn.py', '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]
val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
