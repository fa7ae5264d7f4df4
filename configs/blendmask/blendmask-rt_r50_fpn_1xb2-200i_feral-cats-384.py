# BlendMask-RT R50 (P3-P5, shared 3-conv tower; `blendmask_rt` of the
# model base) on feral_cats (191 training photos, 1 class):
# the zoo's short CPU run (384x384, batch 2, 200 iterations) from the
# offline self-supervised ResNet-50 init, with the model base's frozen-BN
# backbone (the COCO RT config's SyncBN backbone needs several processes).
_base_ = [
    '../_base_/models/blendmask_r50_fpn.py',
    '../_base_/datasets/feral_cats_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
model = dict(
    _base_.blendmask_rt,
    backbone=_base_.selfsup_init.backbone,
    bbox_head=dict(_base_.blendmask_rt.bbox_head, num_classes=1),
    mask_head=dict(_base_.blendmask_rt.mask_head, num_classes=1))
# the lr the protocol's probe picked on feral_cats (docs/protocol.md,
# docs/results/feral_cats_cpu/probe/choice.json)
optim_wrapper = dict(optimizer=dict(lr=0.001))
