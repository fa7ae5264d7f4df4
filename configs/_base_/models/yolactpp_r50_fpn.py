# YOLACT++ R50-FPN: the YOLACT model base plus the YOLACT++ deltas
# (DCN every 3rd block of C3-C5, 3 anchor scales per level, mask re-scoring).
_base_ = ['./yolact_r50_fpn.py', './yolactpp_deltas.py']
model = {{_base_.yolactpp}}
