# feral_cats: the zoo's benchmark set. 291 real photos (stretched to
# 640x640 by the export), 1,097 cats with polygon masks, one class;
# train.json 191 images / 757 instances, val.json 100 images / 340
# instances (data/feral_cats/SOURCE.md; data/feral_cats is linked by
# tools/setup.sh), at the fixed input of fixed_size.py (384x384); one
# loader process, no aspect-ratio batching.
_base_ = './fixed_size.py'

data_root = 'data/feral_cats/'
metainfo = dict(classes=('cat', ), palette=[(220, 20, 60)])
train_dataloader = dict(
    num_workers=1,
    persistent_workers=False,
    # one endless pass for the iteration-based small-data schedules:
    # mmengine's loop sleeps 2 s at the end of every pass of a finite
    # sampler ("prevent possible deadlock") and warns; the first pass is
    # DefaultSampler's order, later ones reshuffle from the same generator
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='train.json',
        data_prefix=dict(img='images/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=0)))
val_dataloader = dict(
    num_workers=1,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='val.json',
        data_prefix=dict(img='images/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'val.json')
test_evaluator = val_evaluator
