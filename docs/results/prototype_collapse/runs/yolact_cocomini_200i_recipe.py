# the committed small-data recipe (proto_norm and the protocol's lr) with
# the prototype statistics logged
_base_ = '../../../../configs/yolact/yolact_r50_fpn_1xb2-200i_coco-mini-384.py'
custom_hooks = [dict(type='PrototypeStatsHook')]
