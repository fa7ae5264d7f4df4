# Headline config of the method, one line like configs/sais_r50.py:
# YOLACT R50-FPN on COCO at 550x550.
# configs/yolact/README.md lists the method's other configs.
_base_ = './yolact/yolact_r50_fpn_1xb8-55e_coco-550.py'
