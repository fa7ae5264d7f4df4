# A 400-iteration version of schedule_small_data.py (same warm-up, lr drop
# at 3/4 of the run), validated and checkpointed every 100 iterations so that
# the run has a learning curve and can be resumed: twice the protocol's
# budget, to measure what budget a method still rising at iteration 200
# needs (docs/results/solo_budget). A delta like small_data_800i.py: inherit
# the 200-iteration config and this file, then apply it as
#   train_cfg = _base_.small_data_400i.train_cfg
#   param_scheduler = _base_.small_data_400i.param_scheduler
#   default_hooks = dict(checkpoint=_base_.small_data_400i.checkpoint)
small_data_400i = dict(
    train_cfg=dict(max_iters=400, val_interval=100, dynamic_intervals=None),
    param_scheduler=[
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=20),
        dict(type='MultiStepLR', begin=0, end=400, by_epoch=False,
             milestones=[300], gamma=0.1)
    ],
    checkpoint=dict(interval=100, max_keep_ckpts=1))
