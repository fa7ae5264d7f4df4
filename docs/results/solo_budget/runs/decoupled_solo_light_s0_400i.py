# protocol run decoupled_solo_light seed 0 at 400 iterations (docs/results/solo_budget)
_base_ = ['../../feral_cats_cpu/runs/decoupled_solo_light_s0/config.py',
          '../../../../configs/_base_/schedules/small_data_400i.py']
train_cfg = _base_.small_data_400i.train_cfg
param_scheduler = _base_.small_data_400i.param_scheduler
default_hooks = dict(checkpoint=_base_.small_data_400i.checkpoint)
