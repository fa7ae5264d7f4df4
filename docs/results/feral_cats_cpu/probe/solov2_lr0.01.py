# lr probe of solov2 at lr 0.01 (tools/protocol.py)
_base_ = '../../../../configs/solo/solov2_r50_fpn_1xb2-200i_feral-cats-384.py'
optim_wrapper = dict(optimizer=dict(lr=0.01))
train_cfg = dict(max_iters=40, val_interval=10**9)
val_cfg = None
val_dataloader = None
val_evaluator = None
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=10**9, save_last=False))
