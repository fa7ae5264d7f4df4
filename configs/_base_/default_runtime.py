# Runtime shared by every method of the zoo (MMDetection 3.x defaults).
# The zoo's heads are registered by importing `projects`.
custom_imports = dict(imports=['projects'], allow_failed_imports=False)

default_scope = 'mmdet'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # written to a temporary name and renamed: a kill never leaves a
    # truncated checkpoint (projects/engine/atomic_backend.py)
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'),
    # a resumed run draws what the uninterrupted one drew
    # (projects/engine/iter_seed_hook.py)
    iter_seed=dict(type='IterSeedHook'),
    # stop at the first NaN/inf loss, before it is checkpointed
    # (projects/engine/nan_guard.py)
    nan_guard=dict(type='NonFiniteLossHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False
