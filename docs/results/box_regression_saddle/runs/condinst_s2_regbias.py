# CondInst seed 2 of the feral_cats protocol with conv_reg's bias initialised
# to 1 (every initial box 1 stride on each side of its location instead of
# about 0): the box-regression A/B of docs/results/box_regression_saddle.
#   python tools/train.py docs/results/box_regression_saddle/runs/condinst_s2_regbias.py \
#       --work-dir work_dirs/exp/condinst_s2_regbias
_base_ = '../../feral_cats_cpu/runs/condinst_s2/config.py'
model = dict(bbox_head=dict(init_cfg=dict(
    type='Normal', layer='Conv2d', std=0.01,
    override=[dict(type='Normal', name='conv_cls', std=0.01, bias_prob=0.01),
              dict(type='Normal', name='conv_reg', std=0.01, bias=1.0)])))
