"""The stock-mmdet counterpart of a zoo YOLACT config, for peer checks."""
import copy

from mmengine.config import ConfigDict

MMDET_TYPES = dict(ZooYOLACTHead='YOLACTHead',
                   ZooYOLACTProtonet='YOLACTProtonet')


def mmdet_yolact_model(model: ConfigDict) -> ConfigDict:
    """The same YOLACT with MMDetection 3.3's own heads and test_cfg.

    Used by the peer test and ``tools/analysis/benchmark_yolact.py`` to run
    mmdet's YOLACT on the zoo model's weights (the state dicts match: the zoo
    heads add no parameters).

    Args:
        model (ConfigDict): a zoo YOLACT model config (``ZooYOLACTHead`` +
            ``ZooYOLACTProtonet``) with per-class ``fast_nms``.

    Returns:
        ConfigDict: a copy with ``YOLACTHead`` / ``YOLACTProtonet`` and
        mmdet's ``iou_thr`` instead of ``nms``.

    Raises:
        ValueError: if the config uses heads, an NMS or ``proto_norm``
            that mmdet does not have.
    """
    model = copy.deepcopy(model)
    if model.mask_head.pop('proto_norm', False):
        raise ValueError("model.mask_head.proto_norm=True has no mmdet "
                         "counterpart (mmdet's YOLACTProtonet has no "
                         'normalised prototypes); set it to False on both '
                         'models to compare them')
    for key in ('bbox_head', 'mask_head'):
        if model[key].type not in MMDET_TYPES:
            raise ValueError(f'model.{key}.type={model[key].type!r} has no '
                             f'mmdet counterpart; expected one of '
                             f'{sorted(MMDET_TYPES)}')
        model[key].type = MMDET_TYPES[model[key].type]
    nms = model.test_cfg.pop('nms', dict(type='fast_nms', iou_threshold=0.5))
    if nms['type'] != 'fast_nms':
        raise ValueError(f"mmdet's YOLACT has per-class Fast NMS only, not "
                         f"test_cfg.nms.type={nms['type']!r}")
    model.test_cfg.pop('mask_paste', None)
    model.test_cfg.iou_thr = nms['iou_threshold']
    return model
