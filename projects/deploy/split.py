"""The split of a detector's ``predict`` into the dense network (what an
ONNX graph runs) and post-processing (torch, the heads' own code).

``postprocess(model, network_forward(model, x), data_samples)`` returns
what ``model.predict(x, data_samples)`` returns: post-processing calls the
heads' own ``predict_by_feat`` (and ``forward_instances`` of the heads whose
``forward`` needs the detections, see :mod:`projects.deploy.layout`), so
the PyTorch path and the ONNX path share one implementation of decoding,
NMS (Fast NMS, Matrix NMS), mask assembly and pasting.

Why not MMDeploy: its rewriters replace mmdet's own post-processing by
traceable copies and cover neither the zoo's heads nor YOLACT; with torch
2.13 its export does not run at all (docs/deployment.md).

The split is chosen per detector class in :data:`DETECTOR_SPLITS`.
"""
from typing import List, Sequence, Tuple

from torch import Tensor, nn

from mmdet.models.detectors.single_stage_instance_seg import \
    SingleStageInstanceSegmentor
from mmdet.structures import DetDataSample
from projects.layers.class_table import ClassTable
from .layout import (HeadOutputs, flatten, head_outputs, num_levels,
                     output_names, unflatten)


class SingleStageSplit:
    """Split of mmdet's :class:`SingleStageInstanceSegmentor` (SAIS,
    YOLACT, YOLACT++, BlendMask, CondInst, SOLO, SOLOv2 in this zoo).

    Network: backbone, neck, ``bbox_head.forward`` and the mask head's dense
    part (``forward_dense`` for a split head, else ``forward``). Post-
    processing: ``bbox_head.predict_by_feat`` (boxes at the input size when
    there is a mask head, as ``SingleStageInstanceSegmentor.predict``),
    ``mask_head.forward_instances`` for a split head, then
    ``mask_head.predict_by_feat`` and ``add_pred_to_datasample``.
    """

    def layouts(self, model: nn.Module) -> List[HeadOutputs]:
        """Layouts of the box head (if any) and the mask head.

        Raises:
            NotImplementedError: a head without an output layout.
        """
        heads = [model.bbox_head] if model.with_bbox else []
        return [head_outputs(h) for h in heads + [model.mask_head]]

    def prefixes(self, model: nn.Module) -> List[str]:
        """Output name prefixes, one per layout."""
        return (['bbox_head'] if model.with_bbox else []) + ['mask_head']

    def network(self, model: nn.Module, inputs: Tensor) -> Tuple[Tensor]:
        """See :func:`network_forward`."""
        layouts = self.layouts(model)
        x = model.extract_feat(inputs)
        flat = []
        if model.with_bbox:
            flat += flatten(model.bbox_head(x), layouts[0])
        mask_layout = layouts[-1]
        dense = model.mask_head.forward_dense(x) if mask_layout.split \
            else model.mask_head(x)
        flat += flatten(dense, mask_layout)
        return tuple(flat)

    def postprocess(self, model: nn.Module, outs: Sequence[Tensor],
                    batch_data_samples: List[DetDataSample],
                    rescale: bool) -> List[DetDataSample]:
        """See :func:`postprocess`."""
        layouts = self.layouts(model)
        heads = unflatten(outs, layouts)
        metas = [s.metainfo for s in batch_data_samples]
        results_list = None
        if model.with_bbox:
            results_list = model.bbox_head.predict_by_feat(
                *heads[0], batch_img_metas=metas,
                rescale=rescale if not model.with_mask else False)
        mask_outs = heads[-1]
        if layouts[-1].split:
            mask_outs = model.mask_head.forward_instances(
                *mask_outs, results_list)
        results_list = model.mask_head.predict_by_feat(
            *mask_outs, batch_img_metas=metas, rescale=rescale,
            results_list=results_list)
        return model.add_pred_to_datasample(batch_data_samples, results_list)


#: The split of each detector class (looked up along the MRO, so mmdet's
#: YOLACT, CondInst, SOLOv2 and the zoo's ZooCondInst use the
#: single-stage entry).
DETECTOR_SPLITS: ClassTable[SingleStageSplit] = ClassTable(
    'network/post-processing split for ONNX export',
    lambda: {SingleStageInstanceSegmentor: SingleStageSplit()})


def detector_split(model: nn.Module) -> SingleStageSplit:
    """The :data:`DETECTOR_SPLITS` entry of ``model``'s class.

    Raises:
        NotImplementedError: for a detector class with no split (two-stage
            Mask R-CNN, YOLO-Mask); the message names it.
    """
    return DETECTOR_SPLITS.lookup(model)


def network_forward(model: nn.Module, inputs: Tensor) -> Tuple[Tensor, ...]:
    """The dense network of a detector: everything before per-instance,
    data-dependent post-processing.

    Args:
        model (nn.Module): a detector in eval mode.
        inputs (Tensor): shape (N, 3, H, W), normalised and padded (the
            output of ``model.data_preprocessor``).

    Returns:
        tuple[Tensor, ...]: the heads' dense outputs, flat, named by
        :func:`network_output_names` (per-level groups level by level).

    Raises:
        NotImplementedError: an unsupported detector or head.
        ValueError: the model is in training mode.
    """
    return detector_split(model).network(model, inputs)


def postprocess(model: nn.Module,
                outs: Sequence[Tensor],
                batch_data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
    """Post-processing of :func:`network_forward`'s outputs by the heads'
    own ``predict_by_feat``: ``postprocess(model, network_forward(model,
    x), samples)`` equals ``model.predict(x, samples)``.

    Args:
        model (nn.Module): the detector (its heads' settings and, for
            YOLACT++'s re-scoring net, weights are used).
        outs (Sequence[Tensor]): flat outputs of :func:`network_forward`
            or of the exported ONNX graph, in the same order.
        batch_data_samples (list[DetDataSample]): with the meta information
            the data preprocessor set (``img_shape``, ``ori_shape``,
            ``scale_factor``, ``batch_input_shape``, ``pad_shape``);
            ``pred_instances`` is added to them, as ``model.predict`` does.
        rescale (bool): boxes and masks at the original image size.

    Returns:
        list[DetDataSample]: ``batch_data_samples`` with
        ``pred_instances`` (``bboxes`` (n, 4), ``scores`` (n,),
        ``labels`` (n,), ``masks`` (n, H, W)).

    Raises:
        NotImplementedError: an unsupported detector or head.
        ValueError: ``outs`` does not fit the model's heads.
    """
    return detector_split(model).postprocess(model, outs, batch_data_samples,
                                             rescale)


def postprocess_modules(model: nn.Module) -> List[str]:
    """Sub-modules of ``model`` with weights that run in
    :func:`postprocess`, not in the exported network, e.g.
    ``mask_head.maskiou_net`` (YOLACT++'s mask re-scoring): running an
    ONNX file needs the checkpoint for them.

    Args:
        model (nn.Module): the detector.

    Returns:
        list[str]: qualified module names; empty for most methods.
    """
    split = detector_split(model)
    heads = ([model.bbox_head] if model.with_bbox else []) + \
        [model.mask_head]
    return [
        f'{prefix}.{name}'
        for prefix, head, layout in zip(split.prefixes(model), heads,
                                        split.layouts(model))
        for name in layout.post_modules
    ]


def network_output_names(model: nn.Module, num_outputs: int) -> List[str]:
    """Names of :func:`network_forward`'s outputs, e.g.
    ``bbox_head.cls_scores.0`` or ``mask_head.prototypes``.

    Args:
        model (nn.Module): the detector.
        num_outputs (int): how many tensors :func:`network_forward` returned
            (it fixes the number of FPN levels).

    Returns:
        list[str]: one name per output.
    """
    split = detector_split(model)
    layouts = split.layouts(model)
    return output_names(layouts, num_levels(num_outputs, layouts),
                        split.prefixes(model))
