# SSS R50 on fruits_nuts on the small-data schedule of
# yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py and SAIS (384x384, batch 2, 200
# iterations, offline self-supervised init), so that the three are compared on
# one input size and schedule (and 384 keeps CPU runs short). Feature maps at
# 384: C4 24, C5 12, extras 6, 3, 2, 1 (same stride-2 extras as at 550);
# anchors 24*24*4 + 12*12*6 + (6*6 + 3*3 + 2*2 + 1)*6
# = 2304 + 864 + 300 = 3,468. Anchor sizes keep their fraction of the input.
_base_ = [
    '../_base_/models/sss_r50_ssd.py',
    '../_base_/datasets/fruits_nuts_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
input_size = 384
featmaps = [24, 12, 6, 3, 2, 1]
model = dict(
    _base_.selfsup_init,
    bbox_head=dict(
        num_classes=3,
        anchor_generator=dict(
            strides=[input_size / x for x in featmaps],
            min_sizes=[int(input_size * p / 100)
                       for p in (7, 15, 33, 51, 69, 87)],
            max_sizes=[int(input_size * p / 100)
                       for p in (15, 33, 51, 69, 87, 105)])),
    mask_head=dict(num_classes=3))
# lr 0.001, not the SAIS runs' 0.01: see
# yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py
optim_wrapper = dict(optimizer=dict(lr=0.001))
