# YOLACT++ as yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py plus the YOLACT++
# model deltas (configs/_base_/models/yolactpp_deltas.py).
_base_ = ['./yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py', '../_base_/models/yolactpp_deltas.py']
model = {{_base_.yolactpp}}
