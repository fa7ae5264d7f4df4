# SOLOv2 R50 on fruits_nuts (14 training photos, 3 classes): the short CPU run
# of every method (384x384, batch 2, 200 iterations) from the offline
# self-supervised ResNet-50 init that tools/setup.sh prepares. lr 0.001:
# what the protocol's lr probe picked on feral_cats
# (docs/results/feral_cats_cpu/probe), with the dynamic kernels starting
# small (configs/_base_/models/solov2_small_data.py).
_base_ = [
    '../_base_/models/solov2_r50_fpn.py',
    '../_base_/datasets/fruits_nuts_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py',
    '../_base_/models/solov2_small_data.py'
]
model = dict(
    _base_.selfsup_init,
    mask_head=dict(num_classes=3, init_cfg=_base_.solov2_kernel_init))
optim_wrapper = dict(optimizer=dict(lr=0.001))
