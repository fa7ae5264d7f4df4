# YOLACT on feral_cats as the protocol ran it before the box-head fix (seed
# 0, lr 0.003, the then probe's pick, validation at 50, 100, 200), with the
# small-data config as it is now: GroupNorm in the box head's shared conv.
# The run without it (the protocol's yolact_s0 then) ended with 0.1% of that
# conv's ReLU outputs above 0, box and mask AP 0.0.
_base_ = '../../../../configs/yolact/yolact_r50_fpn_1xb2-200i_feral-cats-384.py'
optim_wrapper = dict(optimizer=dict(lr=0.003))
randomness = dict(seed=0)
train_cfg = dict(max_iters=200, val_interval=50,
                 dynamic_intervals=[(100, 100)])
default_hooks = dict(
    logger=dict(interval=10, log_metric_by_epoch=False),
    checkpoint=dict(interval=50, max_keep_ckpts=1, save_last=True))
custom_hooks = [dict(type='PrototypeStatsHook')]
