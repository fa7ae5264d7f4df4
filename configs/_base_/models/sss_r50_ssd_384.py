# SSS R50 at the zoo's small-data input, 384x384. Feature maps at 384: C4 24,
# C5 12, extras 6, 3, 2, 1 (the same stride-2 extras as at 550); anchors
# 24*24*4 + 12*12*6 + (6*6 + 3*3 + 2*2 + 1)*6
# = 2304 + 864 + 300 = 3,468. Anchor sizes keep their fraction of the input.
_base_ = './sss_r50_ssd.py'
input_size = 384
featmaps = [24, 12, 6, 3, 2, 1]
model = dict(
    bbox_head=dict(
        anchor_generator=dict(
            strides=[input_size / x for x in featmaps],
            min_sizes=[int(input_size * p / 100)
                       for p in (7, 15, 33, 51, 69, 87)],
            max_sizes=[int(input_size * p / 100)
                       for p in (15, 33, 51, 69, 87, 105)])))
