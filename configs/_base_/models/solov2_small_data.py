# The small-data recipe of SOLOv2 (docs/results/solov2_kernel_init):
# the conv that predicts the dynamic kernels (`conv_kernel`) starts at std
# 0.001 instead of mmdet's 0.01, every other layer as mmdet inits it. At
# 0.01 the first mask logits of the positive cells are large (background
# mean +3.9, up to +18 on a feral_cats batch): the masks cover the whole
# image, the dice loss pushes every logit down at once, and within a
# handful of steps (iteration 8 of the protocol's seed 2 at lr 0.001) every
# logit is below 0, then below -20, where the sigmoid has no gradient left:
# the dice loss stays at 1 and the run ends with no detection. A delta, held
# in a variable as `selfsup_init` is; apply it as
# `model = dict(mask_head=dict(init_cfg=_base_.solov2_kernel_init, ...))`.
solov2_kernel_init = [
    dict(type='Normal', layer='Conv2d', std=0.01),
    dict(type='Normal', std=0.01, bias_prob=0.01,
         override=dict(name='conv_cls')),
    dict(type='Normal', std=0.001, override=dict(name='conv_kernel'))
]
