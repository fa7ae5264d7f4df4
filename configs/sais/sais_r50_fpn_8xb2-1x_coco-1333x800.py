# Ablation (SAIS paper, Table I): keep-ratio 1333x800 input instead of a
# fixed 768x768; the COCO dataset base's pipelines are exactly that.
_base_ = [
    '../_base_/models/sais_r50_fpn.py', '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]
