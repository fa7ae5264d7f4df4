# A fixed square input, the same for every method (resize without keeping
# the ratio, flips, boxes under 1 px dropped), on the COCO base: the input
# of every small-data run and of SAIS's fixed-size COCO settings.
#
# The input size is `img_scale`, 384x384 here. A config at another size
# sets it and rebuilds the two pipelines from this file's ones (mmengine
# evaluates each base once, so setting `img_scale` alone changes nothing):
#
#   img_scale = (768, 768)
#   train_pipeline = [dict(t, scale=img_scale) if t.type == 'Resize' else t
#                     for t in _base_.train_pipeline]
#   test_pipeline = [dict(t, scale=img_scale) if t.type == 'Resize' else t
#                    for t in _base_.test_pipeline]
#   train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
#   val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
#   test_dataloader = val_dataloader
_base_ = './coco_instance.py'
img_scale = (384, 384)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), by_mask=False),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
