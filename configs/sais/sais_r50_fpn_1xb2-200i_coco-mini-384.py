# SAIS R50-FPN on coco-mini (80 train / 79 val COCO images, 80 classes):
# the fruits_nuts run's schedule and input on COCO's classes. Known
# problem: in this short schedule the mask branch collapses (prototypes
# die by iteration 20, segm AP 0).
_base_ = [
    '../_base_/models/sais_r50_fpn.py',
    '../_base_/datasets/coco_mini_instance.py',
    '../_base_/schedules/schedule_small_data.py',
    '../_base_/models/selfsup_init.py'
]
model = _base_.selfsup_init
