# SSS R50 (SSD levels) on feral_cats (191 training photos, 1 class): the zoo's
# small-data run (384x384, batch 2, 200 iterations, offline self-supervised
# init).
_base_ = [
    '../_base_/models/sss_r50_ssd_384.py',
    '../_base_/datasets/feral_cats_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
model = dict(
    _base_.selfsup_init,
    bbox_head=dict(num_classes=1),
    mask_head=dict(num_classes=1))
# lr 0.001, not the SAIS runs' 0.01: see
# yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py
optim_wrapper = dict(optimizer=dict(lr=0.001))
