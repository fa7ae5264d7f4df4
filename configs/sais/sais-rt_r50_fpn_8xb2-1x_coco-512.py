# SAIS-RT R50-FPN on COCO: the lighter SAIS of _base_/models/sais-rt_r50_fpn.py
# at the real-time recipes' test size, a fixed 512x512 input (AdelaiDet's
# FCOS-RT and BlendMask-RT test at 512), otherwise SAIS's COCO recipe
# (SGD lr 0.01, momentum 0.9, batch 16 = 8 GPUs x 2 images, 12 epochs).
_base_ = [
    '../_base_/models/sais-rt_r50_fpn.py',
    '../_base_/datasets/fixed_size.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]
img_scale = (512, 512)
train_pipeline = [dict(t, scale=img_scale) if t.type == 'Resize' else t
                  for t in _base_.train_pipeline]
test_pipeline = [dict(t, scale=img_scale) if t.type == 'Resize' else t
                 for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
