# Ablation (Table III): mask coefficients from the regression tower only,
# without summing the classification tower.
_base_ = './sais_r50_fpn_8xb2-1x_coco-768.py'
model = dict(bbox_head=dict(fuse_towers=False))
