# YOLACT R50-FPN on coco-mini (80 train / 79 val COCO images, 80 classes): the
# zoo's small-data run (384x384, batch 2, 200 iterations, offline
# self-supervised init).
_base_ = [
    '../_base_/models/yolact_r50_fpn_384.py',
    '../_base_/datasets/coco_mini_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
# The small-data recipe of the prototype methods (docs/protocol.md):
# prototypes normalised before their last ReLU, so that
# they cannot all die (docs/results/prototype_collapse), and the lr that the
# protocol's probe picked on feral_cats (docs/results/feral_cats_cpu/probe).
# GroupNorm in the box head's shared conv: without it that conv's ReLU dies
# (all outputs 0 by iteration 200 on feral_cats), and every location gets the
# same class score and box (docs/results/prototype_collapse, "The box head
# dies too").
model = dict(
    _base_.selfsup_init,
    bbox_head=dict(norm_cfg=dict(type='GN', num_groups=32,
                                 requires_grad=True)),
    mask_head=dict(proto_norm=True))
optim_wrapper = dict(optimizer=dict(lr=0.001))
