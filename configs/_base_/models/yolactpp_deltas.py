# YOLACT++ (TPAMI 2020; dbolya/yolact yolact_plus_base_config) as deltas over
# YOLACT. Held in `yolactpp` rather than `model` so that a config can apply
# them on top of any YOLACT config (`model = {{_base_.yolactpp}}`): mmengine
# refuses two bases that both define `model`.
yolactpp = dict(
    # §4.2: DCNv2 in every 3rd block (0, 3, ...) of C3-C5; dbolya's R101
    # ResNet101_DCN_Interval3. (dbolya's released R50 uses every block.)
    # ParallelDCNv2 is mmcv's DCNv2 layer ('DCNv2'), computed on CPU as one
    # gather of the sampled pixels (embedding_bag) and one GEMM on every
    # thread instead of mmcv's one-thread kernel (the same outputs and
    # gradients: projects/layers/deform_conv.py); on GPU it is mmcv's.
    backbone=dict(
        type='ResNetDCNInterval',
        dcn=dict(
            type='ParallelDCNv2', deform_groups=1, fallback_on_stride=False),
        stage_with_dcn=(False, True, True, True),
        dcn_interval=3),
    # §4.3 "Optimized Prediction Head": 3 scales per level, 2^(0, 1/3, 2/3)
    # times YOLACT's, and aspect ratios [1, 1/2, 2, 1/3, 3] (the zoo's
    # setting; dbolya's released yolact_plus_base_config keeps [1, 1/2, 2],
    # i.e. 9 anchors): 15 anchors per location. The head's conv channels
    # follow the anchor count.
    bbox_head=dict(
        anchor_generator=dict(
            scales_per_octave=3, ratios=[1.0, 0.5, 2.0, 1 / 3, 3.0])),
    # §4.1: fast mask re-scoring; loss weight 25 (maskiou_alpha), GT masks
    # of <= 5*5 prototype pixels left out (discard_mask_area).
    mask_head=dict(
        type='YOLACTPlusPlusProtonet',
        maskiou_net=dict(
            type='FastMaskIoUNet', channels=(8, 16, 32, 64, 128)),
        loss_maskiou=dict(type='SmoothL1Loss', beta=1.0, loss_weight=25.0),
        discard_mask_area=25))
