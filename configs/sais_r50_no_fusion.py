# Ablation (Table III): mask coefficients from the regression tower only,
# without summing the classification tower.
_base_ = './sais_r50.py'
model = dict(bbox_head=dict(fuse_towers=False))
