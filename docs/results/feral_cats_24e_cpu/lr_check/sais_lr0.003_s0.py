# The lr check at the converged budget: SAIS seed 0 as the protocol's run
# (runs/sais_s0/config.py, lr 0.001, the 40-iteration probe's choice) with
# the probe's runner-up lr, 0.003 (probe/choice.json of feral_cats_cpu).
_base_ = '../runs/sais_s0/config.py'
optim_wrapper = dict(optimizer=dict(lr=0.003))
