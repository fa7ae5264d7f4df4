# YOLACT R50-FPN at 700x700 (YOLACT's yolact_im700): feature maps
# 88/44/22/11/6 and anchor sizes scaled by 700/550, as the original repo.
_base_ = './yolact_r50_fpn_1xb8-55e_coco-550.py'
input_size = 700
featmaps = [88, 44, 22, 11, 6]
model = dict(
    bbox_head=dict(
        anchor_generator=dict(
            octave_base_scale=3 * input_size / 550,
            strides=[input_size / x for x in featmaps],
            centers=[(input_size * 0.5 / x, input_size * 0.5 / x)
                     for x in featmaps])))
train_pipeline = [
    dict(t, scale=(input_size, input_size)) if t.type == 'Resize' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, scale=(input_size, input_size)) if t.type == 'Resize' else t
    for t in _base_.test_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
