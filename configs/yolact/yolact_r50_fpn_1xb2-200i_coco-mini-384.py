# YOLACT R50 on coco-mini (80 train / 79 val COCO images, 80 classes): the
# fruits_nuts run's schedule and 384x384 input on COCO's classes.
_base_ = [
    '../_base_/models/yolact_r50_fpn.py',
    '../_base_/datasets/coco_mini_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
input_size = 384
featmaps = [48, 24, 12, 6, 3]
model = dict(
    _base_.selfsup_init,
    bbox_head=dict(
        anchor_generator=dict(
            strides=[input_size / x for x in featmaps],
            centers=[(input_size * 0.5 / x, input_size * 0.5 / x)
                     for x in featmaps])))
# lr 0.001, not the SAIS runs' 0.01: see
# yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py
optim_wrapper = dict(optimizer=dict(lr=0.001))
