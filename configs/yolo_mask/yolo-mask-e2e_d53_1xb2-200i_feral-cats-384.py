# YOLO-Mask D53 on feral_cats trained end to end (§4): the YOLOv3 losses
# plus the mask loss on the (detached) post-NMS detections and the GT boxes,
# in one run of the small-data budget (200 iterations), so that it stands
# in the benchmark protocol beside the one-run methods (docs/protocol.md).
_base_ = './yolo-mask-step1_d53_1xb2-200i_feral-cats-384.py'
model = dict(train_mode='e2e')
val_evaluator = dict(metric=['bbox', 'segm'])
test_evaluator = val_evaluator
