_base_ = './solo_feral_base.py'
# mask outputs start at p = 0.5 (bias 0) instead of mmdet's p = 0.01
model = dict(mask_head=dict(init_cfg=[
    dict(type='Normal', layer='Conv2d', std=0.01),
    dict(type='Normal', std=0.01, bias_prob=0.5,
         override=dict(name='conv_mask_list')),
    dict(type='Normal', std=0.01, bias_prob=0.01,
         override=dict(name='conv_cls'))
]))
