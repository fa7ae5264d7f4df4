# YOLACT++ as yolact_r101_fpn_1xb8-55e_coco-550.py plus the YOLACT++ model
# deltas (configs/_base_/models/yolactpp_deltas.py).
_base_ = ['./yolact_r101_fpn_1xb8-55e_coco-550.py', '../_base_/models/yolactpp_deltas.py']
model = {{_base_.yolactpp}}
