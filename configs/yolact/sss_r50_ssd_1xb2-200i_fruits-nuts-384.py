# SSS R50 (SSD levels) on fruits_nuts (14 training photos, 3 classes): the
# zoo's small-data run (384x384, batch 2, 200 iterations, offline
# self-supervised init).
_base_ = [
    '../_base_/models/sss_r50_ssd_384.py',
    '../_base_/datasets/fruits_nuts_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
model = dict(
    _base_.selfsup_init,
    bbox_head=dict(num_classes=3),
    mask_head=dict(num_classes=3))
# lr 0.001, not the SAIS runs' 0.01: see
# yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py
optim_wrapper = dict(optimizer=dict(lr=0.001))
