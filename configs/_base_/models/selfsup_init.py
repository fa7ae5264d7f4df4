# The offline init of every small-data ResNet-50 run: the self-supervised
# AugNet ResNet-50 that tools/setup.sh converts (imgsim==0.1.2 wheel; the
# torchvision ImageNet weights need the internet). A delta, held in
# `selfsup_init` because two bases may not both define `model`; apply it in
# a config as `model = dict(_base_.selfsup_init, ...)`.
selfsup_init = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/resnet50_augnet_selfsup.pth')))
