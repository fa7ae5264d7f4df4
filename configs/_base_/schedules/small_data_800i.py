# An 800-iteration version of schedule_small_data.py (same warm-up, lr drop
# at 3/4 of the run), validated and checkpointed every 200 iterations so that
# the run has a learning curve and can be resumed. For coco-mini, where 200
# iterations over 80 classes teach the detector almost nothing (box AP 0.2,
# docs/results/prototype_collapse). A delta, held in `small_data_800i`
# because it replaces keys that the method's own small-data config already
# defines from schedule_small_data.py: inherit that config and this file,
# then apply it as
#   train_cfg = _base_.small_data_800i.train_cfg
#   param_scheduler = _base_.small_data_800i.param_scheduler
#   default_hooks = dict(checkpoint=_base_.small_data_800i.checkpoint)
small_data_800i = dict(
    train_cfg=dict(max_iters=800, val_interval=200),
    param_scheduler=[
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
             end=20),
        dict(type='MultiStepLR', begin=0, end=800, by_epoch=False,
             milestones=[600], gamma=0.1)
    ],
    checkpoint=dict(interval=200, max_keep_ckpts=1))
