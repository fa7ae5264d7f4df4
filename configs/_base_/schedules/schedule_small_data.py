# Short iteration-based schedule for the small real-image sets
# (fruits_nuts, coco-mini): batch 2 on one CPU process, about 10-15 minutes
# on 2 CPU cores for R50. Checkpoints are iter_N.pth. It carries the
# runtime too, since its logging and checkpoint cadence follow the schedule.
_base_ = '../default_runtime.py'
max_iters = 200
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[int(max_iters * 0.75)],
        gamma=0.1)
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))

auto_scale_lr = dict(enable=False, base_batch_size=2)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False,
                    max_keep_ckpts=2))
log_processor = dict(window_size=10, by_epoch=False)

# a fixed seed so that the README's short-run numbers can be reproduced
randomness = dict(seed=0)
