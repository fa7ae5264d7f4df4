# YOLO-Mask (Zheng et al.) with Darknet-53: mmdet's YOLOv3 as in
# yolov3_d53_8xb8-ms-608-273e_coco (Darknet-53 C3-C5, YOLOV3Neck, YOLOV3Head:
# 3 scales, 9 anchors, 3 per scale) plus a Mask R-CNN mask branch on the
# detections that survive NMS: RoIAlign 14x14 on one neck level, mmdet's
# FCNMaskHead (4 3x3 convs, x2 deconv to 28x28, one sigmoid mask per class),
# masks pasted into the image bilinearly. Mask targets are assigned and
# sampled as Mask R-CNN's (train_cfg.mask).
#
# train_mode (§4): 'detector' = step 1 (YOLOv3 losses, mask branch frozen),
# 'mask' = step 2 (detector frozen and in eval mode, load step 1 with
# load_from; the mask head learns on its detections), 'e2e' = both losses.
#
# mask_feat_level: the neck output RoIs are pooled from, 0 = stride 32
# (13x13 at 416, 512 channels), 1 = stride 16 (256), 2 = stride 8 (52x52 at
# 416, 128 channels). The 28x28 masks use the finest level; the paper's 7x7
# masks on the 13x13 level are
# configs/yolo_mask/yolo-mask-step2-mask7_d53_8xb8-12e_coco-416.py.
model = dict(
    type='YOLOMask',
    train_mode='detector',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[0, 0, 0],
        std=[255., 255., 255.],
        bgr_to_rgb=True,
        pad_size_divisor=32,
        pad_mask=True),
    backbone=dict(
        type='Darknet',
        depth=53,
        out_indices=(3, 4, 5),
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://darknet53')),
    neck=dict(
        type='YOLOV3Neck',
        num_scales=3,
        in_channels=[1024, 512, 256],
        out_channels=[512, 256, 128]),
    bbox_head=dict(
        type='YOLOV3Head',
        num_classes=80,
        in_channels=[512, 256, 128],
        out_channels=[1024, 512, 256],
        anchor_generator=dict(
            type='YOLOAnchorGenerator',
            base_sizes=[[(116, 90), (156, 198), (373, 326)],
                        [(30, 61), (62, 45), (59, 119)],
                        [(10, 13), (16, 30), (33, 23)]],
            strides=[32, 16, 8]),
        bbox_coder=dict(type='YOLOBBoxCoder'),
        featmap_strides=[32, 16, 8],
        loss_cls=dict(
            type='CrossEntropyLoss',
            use_sigmoid=True,
            loss_weight=1.0,
            reduction='sum'),
        loss_conf=dict(
            type='CrossEntropyLoss',
            use_sigmoid=True,
            loss_weight=1.0,
            reduction='sum'),
        loss_xy=dict(
            type='CrossEntropyLoss',
            use_sigmoid=True,
            loss_weight=2.0,
            reduction='sum'),
        loss_wh=dict(type='MSELoss', loss_weight=2.0, reduction='sum')),
    mask_feat_level=2,
    # mmcv's RoIAlign kernel: the zoo's ParallelRoIAlign is 4x faster per
    # call here, yet a bf16 training step with it is not faster
    # (docs/results/cpu_ops), so YOLO-Mask keeps mmcv's
    mask_roi_extractor=dict(
        type='SingleRoIExtractor',
        roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
        out_channels=128,
        featmap_strides=[8]),
    mask_head=dict(
        type='FCNMaskHead',
        num_convs=4,
        in_channels=128,
        conv_out_channels=256,
        num_classes=80,
        loss_mask=dict(
            type='CrossEntropyLoss', use_mask=True, loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(
            type='GridAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.5,
            min_pos_iou=0),
        # Mask R-CNN's rcnn settings (mask_rcnn_r50_fpn): detections with
        # IoU >= 0.5 to a GT are positives, GT boxes join the proposals
        mask=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.5,
                match_low_quality=True,
                ignore_iof_thr=-1),
            sampler=dict(
                type='RandomSampler',
                num=512,
                pos_fraction=0.25,
                neg_pos_ub=-1,
                add_gt_as_proposals=True),
            mask_size=28,
            pos_weight=-1)),
    # YOLOv3's post-processing; the same detections are the mask branch's
    # proposals in training ('mask', 'e2e')
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        conf_thr=0.005,
        nms=dict(type='nms', iou_threshold=0.45),
        max_per_img=100,
        mask_thr_binary=0.5))
