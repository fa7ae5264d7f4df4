# mmdet's yolact_r50_1xb8-55e_coco schedule: SGD lr 1e-3, momentum 0.9,
# weight decay 5e-4, batch 8 (1 GPU x 8 images), 55 epochs with lr steps at
# 20, 42, 49 and 52, 500-iteration linear warm-up from 0.1.
max_epochs = 55
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[20, 42, 49, 52],
        gamma=0.1)
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4))

custom_hooks = [
    dict(type='CheckInvalidLossHook', interval=50, priority='VERY_LOW')
]

# --auto-scale-lr scales lr by (GPUs x images per GPU) / 8
auto_scale_lr = dict(enable=False, base_batch_size=8)
