_base_ = '../feral_cats_24e_cpu/runs/sais_s0/config.py'
train_cfg = dict(max_iters=8, val_interval=1000)
# no validation after the 8 iterations (the profile ends at iteration 8)
val_dataloader = None
val_cfg = None
val_evaluator = None
default_hooks = dict(checkpoint=dict(interval=1000, save_last=False), logger=dict(interval=1))
custom_hooks = [dict(type='PrototypeStatsHook'), dict(type='ProfilerHook', by_epoch=False, profile_times=8,
                     schedule=dict(wait=3, warmup=1, active=4),
                     on_trace_ready=dict(type='log_trace', sort_by='self_cpu_time_total', row_limit=45))]
