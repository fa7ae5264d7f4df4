# CondInst-RT R50-FPN on feral_cats: the CondInst small-data run with the RT
# model delta (P3-P5, shared 3-conv tower; see
# condinst-rt_r50_fpn_8xb2-4x_coco-736x512.py). The backbone keeps the
# small-data init and BN setting: SyncBN needs several processes and batch
# 2 is too small to train BN statistics.
_base_ = './condinst_r50_fpn_1xb2-200i_feral-cats-384.py'
model = _base_.condinst_rt
