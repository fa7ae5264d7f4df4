# SSS R50 on coco-mini (80 train / 79 val COCO images, 80 classes): the
# fruits_nuts run's schedule and 384x384 input (see
# yolact/sss_r50_ssd_1xb2-200i_fruits-nuts-384.py for the feature maps and the
# 3,468 anchors at 384) on COCO's classes.
_base_ = [
    '../_base_/models/sss_r50_ssd.py',
    '../_base_/datasets/coco_mini_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
input_size = 384
featmaps = [24, 12, 6, 3, 2, 1]
model = dict(
    _base_.selfsup_init,
    bbox_head=dict(
        anchor_generator=dict(
            strides=[input_size / x for x in featmaps],
            min_sizes=[int(input_size * p / 100)
                       for p in (7, 15, 33, 51, 69, 87)],
            max_sizes=[int(input_size * p / 100)
                       for p in (15, 33, 51, 69, 87, 105)])))
# lr 0.001, not the SAIS runs' 0.01: see
# yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py
optim_wrapper = dict(optimizer=dict(lr=0.001))
