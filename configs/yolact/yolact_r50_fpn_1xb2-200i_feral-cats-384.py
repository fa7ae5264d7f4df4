# YOLACT R50 on feral_cats, trained like SAIS's small-data run (384x384,
# batch 2, 200 iterations, offline self-supervised init) so that the two
# are compared on one schedule, except the lr: at SAIS's 0.01 (and at
# 0.0025) YOLACT's ReLU prototypes die within 30 iterations (loss_mask flat
# at 5.45); at 0.001 (4x mmdet's per-image rate) 27 of 32 are alive at
# iteration 40 and loss_mask falls. Feature maps at 384 are 48/24/12/6/3.
_base_ = [
    '../_base_/models/yolact_r50_fpn.py',
    '../_base_/datasets/feral_cats_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
input_size = 384
featmaps = [48, 24, 12, 6, 3]
model = dict(
    _base_.selfsup_init,
    bbox_head=dict(
        num_classes=1,
        anchor_generator=dict(
            strides=[input_size / x for x in featmaps],
            centers=[(input_size * 0.5 / x, input_size * 0.5 / x)
                     for x in featmaps])),
    mask_head=dict(num_classes=1))
optim_wrapper = dict(optimizer=dict(lr=0.001))
