# Headline config of the method, one line like configs/sais_r50.py:
# SOLOv2 R50-FPN on COCO, 1x, keep-ratio 1333x800.
# configs/solo/README.md lists the method's other configs.
_base_ = './solo/solov2_r50_fpn_8xb2-1x_coco-1333x800.py'
