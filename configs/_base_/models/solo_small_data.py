# The small-data recipe of SOLO and Decoupled SOLO
# (docs/results/solo_small_data): their mask branch (the mask convs and the
# S^2 / 2S output convs) at 30x the optimizer's lr. At initialisation the
# dice loss sends that branch about 1/100 of the gradient the category
# loss sends its own (tools/analysis/solo_grad_at_init.py), so at the
# common lr the masks do not move in a 200-iteration run; at 30x SOLO fits
# one repeated batch (probes/solo_feral_onebatch_masklr30). A delta, held
# in a variable as `selfsup_init` is; apply it as
# `optim_wrapper = dict(paramwise_cfg=_base_.solo_mask_lr_mult, ...)`.
solo_mask_lr_mult = dict(
    custom_keys={
        'mask_head.mask_convs': dict(lr_mult=30.0),
        'mask_head.conv_mask_list': dict(lr_mult=30.0)
    })
