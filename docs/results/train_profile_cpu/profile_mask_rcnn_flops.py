# profile_mask_rcnn.py with torch.profiler's FLOPs, its table sorted by them
_base_ = './profile_mask_rcnn.py'
custom_hooks = [dict(type='ProfilerHook', by_epoch=False, profile_times=8, with_flops=True,
                     schedule=dict(wait=3, warmup=1, active=4),
                     on_trace_ready=dict(type='log_trace', sort_by='flops', row_limit=12))]
