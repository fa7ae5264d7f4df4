_base_ = '../../../../configs/sais/sais_r50_fpn_1xb2-200i_feral-cats-384.py'
train_cfg = dict(max_iters=40, val_interval=100000)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=100000))
custom_hooks = [dict(type='PrototypeStatsHook')]
model = dict(bbox_head=dict(init_cfg=dict(type='Normal', layer='Conv2d', std=0.01, override=[dict(type='Normal', name='conv_cls', std=0.01, bias_prob=0.01), dict(type='Constant', name='conv_coeff', val=0)])))
