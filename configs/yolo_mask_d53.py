# Headline config of the method, one line like configs/sais_r50.py:
# YOLO-Mask D53 step 1 (the detector) on COCO at 608; step 2 is
# yolo_mask/yolo-mask-step2_d53_8xb8-12e_coco-608.py.
# configs/yolo_mask/README.md lists the method's other configs.
_base_ = './yolo_mask/yolo-mask-step1_d53_8xb8-ms-273e_coco-608.py'
