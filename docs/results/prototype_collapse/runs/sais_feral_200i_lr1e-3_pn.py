_base_ = '../../../../configs/sais/sais_r50_fpn_1xb2-200i_feral-cats-384.py'
custom_hooks = [dict(type='PrototypeStatsHook')]
optim_wrapper = dict(optimizer=dict(lr=0.001))
model = dict(mask_head=dict(proto_norm=True))
