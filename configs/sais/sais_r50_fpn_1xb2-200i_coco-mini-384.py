# SAIS R50-FPN on coco-mini (80 train / 79 val COCO images, 80 classes):
# the fruits_nuts run's schedule and input on COCO's classes.
_base_ = [
    '../_base_/models/sais_r50_fpn.py',
    '../_base_/datasets/coco_mini_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
# The small-data recipe of the prototype methods (docs/protocol.md):
# prototypes normalised before their last ReLU, so that
# they cannot all die (docs/results/prototype_collapse), and the lr that the
# protocol's probe picked on feral_cats (docs/results/feral_cats_cpu/probe).
model = dict(_base_.selfsup_init, mask_head=dict(proto_norm=True))
optim_wrapper = dict(optimizer=dict(lr=0.001))
