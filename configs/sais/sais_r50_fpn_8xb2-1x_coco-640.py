# SAIS R50-FPN at a fixed 640x640 input (Table IV "SAIS-640", the paper's
# faster setting).
_base_ = './sais_r50_fpn_8xb2-1x_coco-768.py'
img_scale = (640, 640)
train_pipeline = [dict(t, scale=img_scale) if t.type == 'Resize' else t
                  for t in _base_.train_pipeline]
test_pipeline = [dict(t, scale=img_scale) if t.type == 'Resize' else t
                 for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
