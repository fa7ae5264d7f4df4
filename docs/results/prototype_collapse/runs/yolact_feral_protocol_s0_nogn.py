# The protocol's YOLACT seed-0 run on feral_cats before the box-head fix
# (its scalars: yolact_feral_protocol_s0_nogn.json): the run of
# yolact_feral_headgn.py without GroupNorm in the box head's shared conv.
_base_ = './yolact_feral_headgn.py'
model = dict(bbox_head=dict(norm_cfg=None))
