"""CondInst detector that checks its two heads agree on the number of
dynamic parameters before anything runs."""
from mmdet.models.detectors import CondInst
from mmdet.registry import MODELS


@MODELS.register_module()
class ZooCondInst(CondInst):
    """mmdet's :class:`CondInst` (slides, CondInst Fig. 3) plus one check.

    What differs from mmdet 3.3 and why: the box head's controller emits
    ``bbox_head.num_params`` channels per location while the mask head
    consumes ``mask_head.num_params`` (which follows its depth, width,
    mask-feature channels and relative coordinates). mmdet lets them
    differ and fails at the first forward inside ``split_with_sizes``;
    here the mismatch is reported when the model is built.

    Args: :class:`CondInst`'s.

    Raises:
        ValueError: naming ``model.bbox_head.num_params`` and the count the
            mask head needs.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        have = getattr(self.bbox_head, 'num_params', None)
        need = getattr(self.mask_head, 'num_params', None)
        if have != need:
            raise ValueError(
                f'model.bbox_head.num_params={have}, but the mask head '
                f'(num_layers={self.mask_head.num_layers}, feat_channels='
                f'{self.mask_head.feat_channels}, mask-feature channels '
                f'{self.mask_head.in_channels}, rel_coords='
                f"{getattr(self.mask_head, 'rel_coords', True)}) needs "
                f'{need}: set model.bbox_head.num_params={need}')
