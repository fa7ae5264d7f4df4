# BlendMask R50-FPN on COCO, 1x (slides "BlendMask" quantitative table, R-50
# 12 epochs; AdelaiDet configs/BlendMask/R_50_1x.yaml): multi-scale
# training with the short side in 640-800 (long side at most 1333), test
# at 800 x 1333, SGD lr 0.01, batch 16 (8 GPUs x 2), 12 epochs (90k
# iterations), steps at 8 and 11 (60k and 80k).
_base_ = [
    '../_base_/models/blendmask_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]
train_pipeline = [
    dict(
        type='RandomChoiceResize',
        scales=[(1333, s) for s in (640, 672, 704, 736, 768, 800)],
        keep_ratio=True) if t.type == 'Resize' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
