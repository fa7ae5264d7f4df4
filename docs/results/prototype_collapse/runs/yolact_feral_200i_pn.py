_base_ = '../../../../configs/yolact/yolact_r50_fpn_1xb2-200i_feral-cats-384.py'
custom_hooks = [dict(type='PrototypeStatsHook')]
model = dict(mask_head=dict(proto_norm=True))
