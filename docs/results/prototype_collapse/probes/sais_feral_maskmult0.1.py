_base_ = '../../../../configs/sais/sais_r50_fpn_1xb2-200i_feral-cats-384.py'
train_cfg = dict(max_iters=40, val_interval=100000)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=100000))
custom_hooks = [dict(type='PrototypeStatsHook')]
val_cfg = None
val_dataloader = None
val_evaluator = None
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'mask_head': dict(lr_mult=0.1), 'bbox_head.conv_coeff': dict(lr_mult=0.1)}))
