# FCOS R50-FPN on fruits_nuts (14 training photos, 3 classes): the zoo's
# short CPU run (384x384, batch 2, 200 iterations) from the offline
# self-supervised ResNet-50 init. Boxes only: the evaluator scores `bbox`.
_base_ = [
    '../_base_/models/fcos_r50_fpn.py',
    '../_base_/datasets/fruits_nuts_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
model = dict(
    _base_.selfsup_init,
    bbox_head=dict(num_classes=len(_base_.metainfo.classes)))
val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
# The lr the protocol's probe chose on feral_cats (docs/protocol.md,
# docs/results/feral_cats_cpu/probe/choice.json).
optim_wrapper = dict(optimizer=dict(lr=0.001))
