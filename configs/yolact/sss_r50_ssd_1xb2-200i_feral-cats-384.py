# SSS R50 (SSD levels) on feral_cats (191 training photos, 1 class): the zoo's
# small-data run (384x384, batch 2, 200 iterations, offline self-supervised
# init).
_base_ = [
    '../_base_/models/sss_r50_ssd_384.py',
    '../_base_/datasets/feral_cats_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
# The small-data recipe of the prototype methods (docs/protocol.md):
# prototypes normalised before their last ReLU, so that
# they cannot all die (docs/results/prototype_collapse), and the lr that the
# protocol's probe picked on feral_cats (docs/results/feral_cats_cpu/probe).
model = dict(
    _base_.selfsup_init,
    bbox_head=dict(num_classes=1),
    mask_head=dict(num_classes=1, proto_norm=True))
optim_wrapper = dict(optimizer=dict(lr=0.001))
