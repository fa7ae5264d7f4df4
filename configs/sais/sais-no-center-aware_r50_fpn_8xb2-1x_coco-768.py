# Ablation (Table II): FCOS's minimal-area rule instead of center-aware
# ground truth.
_base_ = './sais_r50_fpn_8xb2-1x_coco-768.py'
model = dict(bbox_head=dict(center_aware=False))
