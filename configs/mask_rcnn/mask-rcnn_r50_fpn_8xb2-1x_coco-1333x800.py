# Mask R-CNN R50-FPN on COCO, mmdet's mask-rcnn_r50_fpn_1x_coco model and
# keep-ratio 1333x800 input on the zoo's schedule_1x (batch 16 = 8 GPUs x 2
# images, 12 epochs, steps at 8 and 11), the schedule SAIS and SOLO train
# with. One difference from mmdet's config: lr 0.01 with gradient clipping
# (the zoo's 1x), where mmdet trains Mask R-CNN at 0.02 without clipping.
_base_ = [
    '../_base_/models/mask_rcnn_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]
