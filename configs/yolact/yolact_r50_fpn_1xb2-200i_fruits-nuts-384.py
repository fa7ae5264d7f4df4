# YOLACT R50-FPN on fruits_nuts, trained like SAIS's small-data run (384x384,
# batch 2, 200 iterations, offline self-supervised init), except the lr: at
# SAIS's 0.01 (and at 0.0025) YOLACT's ReLU prototypes die within 30
# iterations (loss_mask flat at 5.45); at 0.001 (4x mmdet's per-image rate)
# 27 of 32 are alive at iteration 40 and loss_mask falls.
_base_ = [
    '../_base_/models/yolact_r50_fpn_384.py',
    '../_base_/datasets/fruits_nuts_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
model = dict(
    _base_.selfsup_init,
    bbox_head=dict(num_classes=3),
    mask_head=dict(num_classes=3))
optim_wrapper = dict(optimizer=dict(lr=0.001))
