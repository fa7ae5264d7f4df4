# The project's usage line, `python tools/train.py configs/sais_r50.py`:
# SAIS R50-FPN on COCO at 768x768 (configs/sais/README.md lists the rest).
_base_ = './sais/sais_r50_fpn_8xb2-1x_coco-768.py'
