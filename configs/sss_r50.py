# Headline config of the method, one line like configs/sais_r50.py:
# SSS R50 (SSD levels) on COCO at 550x550.
# configs/yolact/README.md lists the method's other configs.
_base_ = './yolact/sss_r50_ssd_1xb8-55e_coco-550.py'
