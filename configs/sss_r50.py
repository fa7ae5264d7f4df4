# Headline config of the method, kept at the top level like configs/sais_r50.py:
# SSS R50 (SSD levels) on COCO at 550x550 (configs/yolact/README.md lists the rest).
_base_ = './yolact/sss_r50_ssd_1xb8-55e_coco-550.py'
