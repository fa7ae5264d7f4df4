# YOLACT R50-FPN at the zoo's small-data input, 384x384: the anchors are laid
# on its feature maps, 48/24/12/6/3, as _base_/models/yolact_r50_fpn.py lays
# them on 550's.
_base_ = './yolact_r50_fpn.py'
input_size = 384
featmaps = [48, 24, 12, 6, 3]
model = dict(
    bbox_head=dict(
        anchor_generator=dict(
            strides=[input_size / x for x in featmaps],
            centers=[(input_size * 0.5 / x, input_size * 0.5 / x)
                     for x in featmaps])))
