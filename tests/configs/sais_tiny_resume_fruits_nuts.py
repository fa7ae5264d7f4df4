# The tiny SAIS of sais_tiny_fruits_nuts.py for the kill-and-resume tests:
# 6 iterations, a checkpoint every 2, no validation (the tests compare
# weights), deterministic settings. max_masks_to_train=4 makes the mask head
# sample its training masks with torch.randperm at every iteration, the
# random draw in the forward that a resumed run must repeat.
_base_ = './sais_tiny_fruits_nuts.py'
model = dict(mask_head=dict(max_masks_to_train=4))
max_iters = 6
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
val_dataloader = None
val_cfg = None
val_evaluator = None
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=2, max_keep_ckpts=-1))
randomness = dict(seed=0, deterministic=True)
