"""YOLO-Mask (Zheng et al.): YOLOv3 with a Mask R-CNN mask branch on its
post-NMS detections, as a registered detector over mmdet's parts."""
from .mask_sampling import sample_mask_rois
from .yolo_mask import YOLOMask, clip_to_image

__all__ = ['YOLOMask', 'clip_to_image', 'sample_mask_rois']
