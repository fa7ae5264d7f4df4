# fruits_nuts: 18 real 800x600 photos, 3 classes, COCO-format polygons,
# linked at data/fruits_nuts by tools/setup.sh. train.json (14 images) for
# training, val.json (4 images) for validation and testing, at the fixed
# input of fixed_size.py (384x384); one loader process, no aspect-ratio
# batching.
_base_ = './fixed_size.py'

data_root = 'data/fruits_nuts/'
metainfo = dict(
    classes=('date', 'fig', 'hazelnut'),
    palette=[(220, 20, 60), (119, 11, 32), (0, 0, 142)])
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
