# Headline config of the method, kept at the top level like configs/sais_r50.py:
# YOLACT R50-FPN on COCO at 550x550 (configs/yolact/README.md lists the rest).
_base_ = './yolact/yolact_r50_fpn_1xb8-55e_coco-550.py'
