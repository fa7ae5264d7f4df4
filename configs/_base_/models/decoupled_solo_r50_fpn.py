# Decoupled SOLO R50-FPN (SOLO paper §3.4): X and Y mask branches of S masks
# each (the mask of cell (i, j) is X_j * Y_i) instead of S^2 masks per level.
_base_ = './solo_r50_fpn.py'
model = dict(
    mask_head=dict(
        type='ZooDecoupledSOLOHead',
        loss_mask=dict(activate=False)))  # the head applies the sigmoids
