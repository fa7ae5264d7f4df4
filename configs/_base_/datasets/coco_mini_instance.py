# coco-mini: a real COCO 2017 subset (80 train / 79 val images, 80 classes)
# in COCO's own layout, linked at data/coco-mini by tools/setup.sh, at the
# fixed input of fixed_size.py (384x384); one loader process, no
# aspect-ratio batching.
_base_ = './fixed_size.py'

data_root = 'data/coco-mini/'
# the train worker outlives the epoch (40 iterations at batch 2): a new
# one made the first batch of every epoch wait for it
train_dataloader = dict(
    num_workers=1, persistent_workers=True, batch_sampler=None,
    dataset=dict(data_root=data_root))
val_dataloader = dict(
    num_workers=1, persistent_workers=False,
    dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
