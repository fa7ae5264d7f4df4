# YOLO-Mask D53 step 2 at 416 with the paper's 7x7 masks: RoIAlign 7x7 on
# the 13x13 level (stride 32, 512 channels), no upsampling, 7x7 targets.
_base_ = './yolo-mask-step2_d53_8xb8-12e_coco-416.py'
model = dict(
    mask_feat_level=0,
    mask_roi_extractor=dict(
        roi_layer=dict(output_size=7), out_channels=512,
        featmap_strides=[32]),
    mask_head=dict(
        in_channels=512, roi_feat_size=7, upsample_cfg=dict(type=None)),
    train_cfg=dict(mask=dict(mask_size=7)))
