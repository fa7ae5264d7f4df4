# coco-mini: a real COCO 2017 subset (80 train / 79 val images, 80 classes)
# in COCO's own layout, linked at data/coco-mini by tools/setup.sh, at the
# fixed input of fixed_size.py (384x384); one loader process, no
# aspect-ratio batching.
_base_ = './fixed_size.py'

data_root = 'data/coco-mini/'
# one endless pass for the iteration-based small-data schedules (see
# feral_cats_instance.py: no 2 s wait at every epoch's end)
train_dataloader = dict(
    num_workers=1, persistent_workers=False, batch_sampler=None,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(data_root=data_root))
val_dataloader = dict(
    num_workers=1, persistent_workers=False,
    dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
