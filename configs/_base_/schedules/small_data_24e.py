# The converged budget of the feral_cats protocol: 24 epochs of the 191
# training photos at batch 2 (96 iterations an epoch, 2,304 iterations),
# the same 20-iteration warm-up as schedule_small_data.py, lr x 0.1 at 2/3
# and 8/9 of the run (iterations 1,536 and 2,048), validated every 2 epochs
# (learning curves) and checkpointed every epoch (resumable). A delta, held
# in `small_data_24e` because it replaces keys that the method's own
# small-data config already defines from schedule_small_data.py: inherit
# that config and this file, then apply it as
#   train_cfg = _base_.small_data_24e.train_cfg
#   param_scheduler = _base_.small_data_24e.param_scheduler
#   default_hooks = dict(checkpoint=_base_.small_data_24e.checkpoint)
small_data_24e = dict(
    train_cfg=dict(max_iters=2304, val_interval=192),
    param_scheduler=[
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=20),
        dict(type='MultiStepLR', begin=0, end=2304, by_epoch=False,
             milestones=[1536, 2048], gamma=0.1)
    ],
    checkpoint=dict(interval=96, max_keep_ckpts=1, save_last=True))
