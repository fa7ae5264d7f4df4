# SSS R50 model: the YOLACT R50-FPN base plus the SSS deltas (SSD levels
# and anchors, per-level SSSHead, cross-class Fast NMS; 7,558 anchors at
# 550x550, see sss_deltas.py).
_base_ = ['./yolact_r50_fpn.py', './sss_deltas.py']
model = {{_base_.sss}}
