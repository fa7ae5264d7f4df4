# SSS ("SSS: Single Shot Segmenter" draft, Bolya et al.; the SSD-based first
# version of YOLACT) with ResNet-50, as deltas over YOLACT R50-FPN, held in
# `sss` so that a config applies them to any YOLACT config
# (`model = {{_base_.sss}}`; mmengine refuses two bases that both define
# `model`):
# SSD's feature pyramid and anchors instead of FPN's, the same prototype /
# coefficient idea (ZooYOLACTProtonet on the first level), cross-class Fast
# NMS (SSS §3.3).
#
# Feature maps at 550x550: ResNet C4 35x35 (1024 ch) and C5 18x18 (2048 ch),
# then mmdet's SSDNeck extra layers, each a 1x1 conv and a 3x3 stride-2
# padding-1 conv: 18 -> 9 -> 5 -> 3 -> 2. SSD anchors per location
# (SSDAnchorGenerator: 2 + 2 x len(ratios)): 4 on C4 (ratio 2), 6 elsewhere
# (ratios 2 and 3):
#   35*35*4 + 18*18*6 + 9*9*6 + 5*5*6 + 3*3*6 + 2*2*6
#   = 4900 + 1944 + 486 + 150 + 54 + 24 = 7,558 anchors, the draft's count.
# It is the only split into these feature maps with 4 or 6 anchors per
# location that gives 7,558. SSD300's literal extras (strides 2,2,1,1,
# paddings 1,1,0,0: 18 -> 9 -> 5 -> 3 -> 1) with its [4,6,6,6,4,4] give
# 7,520 instead.
# Anchor sizes follow SSD300's COCO rule scaled to the input: min sizes at
# 7/15/33/51/69/87 % of the input, max sizes at 15/33/51/69/87/105 %.
# Each level has its own head (SSSHead): the levels differ in channels and
# anchor count, which mmdet's YOLACTHead (one head shared by all levels)
# cannot take. Prototypes come from C4 upsampled x2: 70x70 at 550 (1/8 of
# the input; YOLACT's FPN P3 gives 1/4).
sss_input_size = 550
sss_featmaps = [35, 18, 9, 5, 3, 2]
sss = dict(
    backbone=dict(out_indices=(2, 3)),
    neck=dict(
        _delete_=True,
        type='SSDNeck',
        in_channels=(1024, 2048),
        out_channels=(1024, 2048, 512, 256, 256, 256),
        level_strides=(2, 2, 2, 2),
        level_paddings=(1, 1, 1, 1),
        # SSD's L2Norm rescales VGG's conv4_3; ResNet's C4 is batch-normed
        l2_norm_scale=None),
    bbox_head=dict(
        type='SSSHead',
        in_channels=(1024, 2048, 512, 256, 256, 256),
        anchor_generator=dict(
            _delete_=True,
            type='SSDAnchorGenerator',
            scale_major=False,
            strides=[sss_input_size / x for x in sss_featmaps],
            ratios=[[2], [2, 3], [2, 3], [2, 3], [2, 3], [2, 3]],
            min_sizes=[int(sss_input_size * p / 100)
                       for p in (7, 15, 33, 51, 69, 87)],
            max_sizes=[int(sss_input_size * p / 100)
                       for p in (15, 33, 51, 69, 87, 105)])),
    mask_head=dict(in_channels=1024),
    test_cfg=dict(nms=dict(type='cross_class_fast_nms', iou_threshold=0.5)))
