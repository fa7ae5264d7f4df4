# The FCOS-family heads' initialisation with conv_reg's bias at 1: every
# initial box is 1 stride on each side of its location, instead of about 0
# with half of its sides clamped, so that the box regression does not start
# at the standstill of docs/results/box_regression_saddle (GIoU's gradient
# near 0). Otherwise mmdet's FCOSHead init: normal std 0.01 for every conv,
# conv_cls's bias for a prior of 0.01. For the bbox_head of SAIS (-RT),
# FCOS, CondInst (-RT) and BlendMask (-RT):
#   model = dict(bbox_head=dict(init_cfg=_base_.fcos_reg_bias_init))
fcos_reg_bias_init = dict(
    type='Normal', layer='Conv2d', std=0.01,
    override=[
        dict(type='Normal', name='conv_cls', std=0.01, bias_prob=0.01),
        dict(type='Normal', name='conv_reg', std=0.01, bias=1.0)
    ])
