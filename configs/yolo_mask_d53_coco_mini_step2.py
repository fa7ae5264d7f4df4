# YOLO-Mask D53 step 2 on coco-mini: step 1's detector frozen, the mask head
# trained on its detections and the GT boxes (200 iterations).
_base_ = './yolo_mask_d53_coco_mini_step1.py'
model = dict(train_mode='mask')
load_from = 'work_dirs/yolo_mask_d53_coco_mini_step1/iter_200.pth'
val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator
