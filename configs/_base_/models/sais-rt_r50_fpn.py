# SAIS-RT: SAIS (sais_r50_fpn.py) made lighter for real-time use, the way
# AdelaiDet's real-time FCOS and BlendMask are (configs/FCOS-Detection/
# FCOS_RT, configs/BlendMask/RT_R_50_4x.yaml): FPN P3-P5 only, thinner
# towers, a lighter protonet. The FLOP table that chose these numbers is
# printed by tools/analysis/sais_rt_flops.py.
_base_ = './sais_r50_fpn.py'
model = dict(
    # P3-P5 (strides 8/16/32), as FCOS-RT: no P6/P7 and no extra convs
    neck=dict(num_outs=3, add_extra_convs=False),
    bbox_head=dict(
        strides=[8, 16, 32],
        # FCOS-RT's SIZES_OF_INTEREST [64, 128]: objects over 128 px (all
        # that SAIS sends to P5-P7) go to P5; 1e8 is mmdet's INF
        regress_ranges=((-1, 64), (64, 128), (128, 1e8)),
        # 2 convs of 128 channels per tower instead of 4 of 256; the
        # coefficients still come from the sum of both towers (Table III)
        stacked_convs=2,
        feat_channels=128),
    # 2 convs before upsampling as BlendMask-RT's basis module
    # (BASIS_MODULE.NUM_CONVS 2), 64 hidden channels: the conv after the
    # upsampling runs at 1/4 of the input and dominated the protonet
    mask_head=dict(feat_channels=64, num_convs=2))
