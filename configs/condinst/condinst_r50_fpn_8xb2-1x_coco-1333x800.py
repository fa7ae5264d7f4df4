# CondInst R50-FPN on COCO, 1x (slides, CondInst Table 6, the row without
# multi-scale training: 35.4 mask AP on test-dev): keep-ratio 1333x800,
# SGD lr 0.01, batch 16 (8 GPUs x 2 images).
# Schedule: the paper's 1x is 90k iterations at batch 16 with lr steps at
# 60k and 80k (AdelaiDet configs/CondInst/Base-CondInst.yaml); mmdet's own
# config counts those iterations. Ours counts epochs like the rest of the
# zoo: 90k x 16 / 117,266 train2017 images = 12.3 epochs, steps at 8.2 and
# 10.9 epochs -> schedule_1x's 12 epochs with steps at 8 and 11.
_base_ = [
    '../_base_/models/condinst_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]
