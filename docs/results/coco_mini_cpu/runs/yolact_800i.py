# the committed 800-iteration coco-mini config with the prototype statistics
# logged (proto_alive, proto_active: docs/results/prototype_collapse)
_base_ = '../../../../configs/yolact/yolact_r50_fpn_1xb2-800i_coco-mini-384.py'
custom_hooks = [dict(type='PrototypeStatsHook')]
