# YOLO-Mask D53 step 2 on coco-mini: step 1's detector frozen, the mask head
# trained on its detections and the GT boxes (200 iterations).
_base_ = './yolo-mask-step1_d53_1xb2-200i_coco-mini-384.py'
model = dict(train_mode='mask')
load_from = 'work_dirs/yolo-mask-step1_d53_1xb2-200i_coco-mini-384/iter_200.pth'
val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator
