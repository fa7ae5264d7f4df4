# Decoupled SOLO light R50-FPN on COCO: mmdet's 1x schedule and 1333x800
# pipeline (the zoo's shared COCO bases).
_base_ = [
    '../_base_/models/decoupled_solo_light_r50_fpn.py',
    '../_base_/datasets/coco_instance.py', '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py'
]
