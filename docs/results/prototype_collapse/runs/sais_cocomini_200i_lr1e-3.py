_base_ = '../../../../configs/sais/sais_r50_fpn_1xb2-200i_coco-mini-384.py'
custom_hooks = [dict(type='PrototypeStatsHook')]
optim_wrapper = dict(optimizer=dict(lr=0.001))
