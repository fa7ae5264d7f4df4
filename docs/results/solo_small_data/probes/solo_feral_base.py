_base_ = '../../../../configs/solo/solo_r50_fpn_1xb2-200i_feral-cats-384.py'
train_cfg = dict(max_iters=40, val_interval=100000)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=100000))
val_cfg = None
val_dataloader = None
val_evaluator = None

# these probes predate the small-data recipe's mask-branch lr multiplier
# (configs/_base_/models/solo_small_data.py): run without it
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True))
