# SSS R50 (SSD feature maps and anchors, 7,558 anchors; see
# _base_/models/sss_deltas.py) on COCO, trained as
# yolact_r50_fpn_1xb8-55e_coco-550.py: 550x550 input, SSD-style
# photometric/expand/crop augmentation, batch 8, 55 epochs.
_base_ = ['./yolact_r50_fpn_1xb8-55e_coco-550.py', '../_base_/models/sss_deltas.py']
model = {{_base_.sss}}
