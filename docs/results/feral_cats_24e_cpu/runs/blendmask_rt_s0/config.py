# protocol 'feral_cats_24e' run of blendmask_rt, seed 0 (tools/protocol.py)
_base_ = '../../../../../configs/blendmask/blendmask-rt_r50_fpn_1xb2-24e_feral-cats-384.py'
optim_wrapper = dict(optimizer=dict(lr=0.001))
randomness = dict(seed=0)
train_cfg = dict(max_iters=2304, val_interval=192, dynamic_intervals=[])
default_hooks = dict(logger=dict(interval=10, log_metric_by_epoch=False), checkpoint=dict(interval=96, max_keep_ckpts=1, save_last=True))
