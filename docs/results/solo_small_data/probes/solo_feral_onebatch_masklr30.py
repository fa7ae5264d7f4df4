_base_ = './solo_feral_onebatch.py'
# the same two photos in every batch, with the mask branch (its 7 convs and
# the S^2-channel output convs) at 30x the lr: does a larger step on the
# branch whose gradient is ~1/100 of the category branch's let it fit?
optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={
            'mask_head.mask_convs': dict(lr_mult=30.0),
            'mask_head.conv_mask_list': dict(lr_mult=30.0)
        }))
