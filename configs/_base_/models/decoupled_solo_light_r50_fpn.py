# Decoupled SOLO light R50-FPN (SOLO paper §4.4, the real-time variant): 4
# stacked convs with shared mask convs and smaller scale ranges, as mmdet's
# decoupled-solo-light_r50_fpn_3x_coco.
_base_ = './decoupled_solo_r50_fpn.py'
model = dict(
    mask_head=dict(
        type='ZooDecoupledSOLOLightHead',
        stacked_convs=4,
        scale_ranges=((1, 64), (32, 128), (64, 256), (128, 512),
                      (256, 2048))))
