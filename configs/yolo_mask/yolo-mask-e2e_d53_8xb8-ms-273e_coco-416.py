# YOLO-Mask D53 at 416 trained end to end (§4): YOLOv3 losses plus the mask
# loss on the (detached) post-NMS detections and GT boxes, in one run of
# step 1's schedule.
_base_ = './yolo-mask-step1_d53_8xb8-ms-273e_coco-416.py'
model = dict(train_mode='e2e')
val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator
