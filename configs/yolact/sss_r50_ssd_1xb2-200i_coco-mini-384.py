# SSS R50 (SSD levels) on coco-mini (80 train / 79 val COCO images, 80
# classes): the zoo's small-data run (384x384, batch 2, 200 iterations, offline
# self-supervised init).
_base_ = [
    '../_base_/models/sss_r50_ssd_384.py',
    '../_base_/datasets/coco_mini_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
model = _base_.selfsup_init
# lr 0.001, not the SAIS runs' 0.01: see
# yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py
optim_wrapper = dict(optimizer=dict(lr=0.001))
