# mmdet's yolov3_d53_8xb8-ms-608-273e_coco schedule: SGD lr 1e-3, momentum
# 0.9, weight decay 5e-4, gradient clipping 35, batch 64 (8 GPUs x 8), 273
# epochs with lr steps at 218 and 246, 2000-iteration linear warm-up from
# 0.1, a checkpoint and a validation every 7 epochs (epoch_273.pth is the
# last). It carries the runtime, since its checkpoint cadence is a hook.
_base_ = '../default_runtime.py'
max_epochs = 273
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=7)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=2000),
    dict(type='MultiStepLR', by_epoch=True, milestones=[218, 246], gamma=0.1)
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.0005),
    clip_grad=dict(max_norm=35, norm_type=2))

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=7))

# --auto-scale-lr scales lr by (GPUs x images per GPU) / 64
auto_scale_lr = dict(enable=False, base_batch_size=64)
