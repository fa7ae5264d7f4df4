# Ablation (Table III): mask coefficients from the classification tower
# only ("w/o" summation of the regression tower).
_base_ = './sais_r50_fpn_8xb2-1x_coco-768.py'
model = dict(bbox_head=dict(fuse_towers=False))
