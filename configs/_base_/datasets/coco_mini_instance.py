# coco-mini: a real COCO 2017 subset (80 train / 79 val images, 80 classes)
# in COCO's own layout, linked at data/coco-mini by tools/setup.sh.
_base_ = './coco_instance.py'

data_root = 'data/coco-mini/'
train_dataloader = dict(
    num_workers=1, persistent_workers=False,
    dataset=dict(data_root=data_root))
val_dataloader = dict(
    num_workers=1, persistent_workers=False,
    dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator
