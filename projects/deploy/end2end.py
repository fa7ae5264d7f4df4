"""End-to-end ONNX export: one graph from the normalised image to the
detections, post-processing included, in standard ONNX operations only, so
that onnxruntime runs it without PyTorch, mmcv or mmdet
(tools/deployment/ort_run.py, or onnxruntime from C++, C#, Java or JS).

The graph:

* input ``inputs``, (1, 3, H, W) float32: the image resized to the
  config's fixed test size (H, W) by the caller (no aspect ratio kept, as
  the config's test ``Resize``), channels in the order and normalised with
  the mean and std recorded in the file's metadata;
* outputs ``boxes`` (N, 4) (x1, y1, x2, y2) in input pixels, ``scores``
  (N,), ``labels`` (N,) int64 and ``masks`` (N, H, W): mask probabilities
  at the input size, zero outside each box (binarise at the metadata's
  ``mask_thr`` after resizing them to the image); N <= ``max_per_img``,
  by descending score.

The post-processing is the one the method declares next to its mask head
(:func:`projects.layers.graph_ops.register_graph_postprocess`); the
dense network is :func:`~projects.deploy.split.network_forward`.
"""
import json
import os
import os.path as osp
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData
from torch import Tensor, nn

from projects.layers.graph_ops import GRAPH_POSTPROCESS
from .dcn import dcn_layers
from .layout import unflatten
from .split import detector_split

OUTPUT_NAMES = ('boxes', 'scores', 'labels', 'masks')


class End2EndModule(nn.Module):
    """A detector's network and its declared in-graph post-processing, for
    one image of a fixed size.

    Args:
        model (nn.Module): a single-stage instance segmenter in eval mode
            (YOLACT++'s DCNv2 layers already replaced by
            :func:`~projects.deploy.dcn.with_standard_dcn` for export).
        input_shape (Sequence[int]): (H, W) in pixels.

    Raises:
        NotImplementedError: the detector or its mask head declares no
            end-to-end post-processing (the message names the ones that do).
    """

    def __init__(self, model: nn.Module, input_shape: Sequence[int]) -> None:
        super().__init__()
        self.model = model
        self.input_shape = (int(input_shape[0]), int(input_shape[1]))
        self.split = detector_split(model)
        self.postprocess = GRAPH_POSTPROCESS.lookup(model.mask_head).fn

    def forward(self, inputs: Tensor) -> Tuple[Tensor, Tensor, Tensor,
                                               Tensor]:
        """Args: inputs (Tensor): shape (1, 3, H, W).

        Returns:
            tuple[Tensor, Tensor, Tensor, Tensor]: boxes (N, 4), scores
            (N,), labels (N,), masks (N, H, W); see the module docstring.
        """
        flat = self.split.network(self.model, inputs)
        heads = unflatten(flat, self.split.layouts(self.model))
        return self.postprocess(self.model, heads, self.input_shape)


def end2end_metadata(cfg: Config, model: nn.Module,
                     input_shape: Sequence[int],
                     score_thr: float = 0.3) -> Dict[str, str]:
    """What a runner without the config needs, stored in the ONNX file's
    ``metadata_props`` (values JSON-encoded).

    Args:
        cfg (Config): the detector's config (classes of its test set).
        model (nn.Module): the detector (its data preprocessor and
            ``test_cfg``).
        input_shape (Sequence[int]): (H, W) of the graph's input, pixels.
        score_thr (float): detections a runner reports by default.

    Returns:
        dict[str, str]: ``input_shape`` [H, W], ``mean`` and ``std`` (per
        channel, after the channel swap), ``bgr_to_rgb``, ``classes``,
        ``score_thr``, ``mask_thr``, ``config`` and ``boxes_from_masks``
        (the boxes are the masks' tight boxes: a runner takes them from
        the masks it resized to the image, as PyTorch does).
    """
    pre = model.data_preprocessor
    dataset = cfg.test_dataloader.dataset
    classes = (dataset.get('metainfo') or {}).get('classes') or \
        getattr(model, 'dataset_meta', {}).get('classes') or \
        [str(i) for i in range(model.mask_head.num_classes)]
    test_cfg = model.mask_head.test_cfg or {}
    meta = dict(
        input_shape=[int(s) for s in input_shape],
        mean=[float(v) for v in pre.mean.flatten()],
        std=[float(v) for v in pre.std.flatten()],
        bgr_to_rgb=bool(getattr(pre, '_channel_conversion', False)),
        classes=list(classes), score_thr=float(score_thr),
        mask_thr=float(test_cfg.get('mask_thr',
                                    test_cfg.get('mask_thr_binary', 0.5))),
        config=osp.basename(getattr(cfg, 'filename', '') or ''),
        boxes_from_masks=GRAPH_POSTPROCESS.lookup(
            model.mask_head).boxes_from_masks)
    return {k: json.dumps(v) for k, v in meta.items()}


def export_end2end(model: nn.Module, path: str, inputs: Tensor,
                   metadata: Dict[str, str], opset: int = 17
                   ) -> Tuple[Tensor, ...]:
    """Write ``model``'s :class:`End2EndModule` to ``path`` as ONNX, traced
    on ``inputs``, with ``metadata`` in the file's ``metadata_props``.

    Args:
        model (nn.Module): the detector, in eval mode, without mmcv DCN
            layers (:func:`~projects.deploy.dcn.with_standard_dcn`).
        path (str): the ``.onnx`` file (its folder is created).
        inputs (Tensor): shape (1, 3, H, W), an example input (any image
            traces the same graph: every shape is fixed up to NMS).
        metadata (dict[str, str]): :func:`end2end_metadata`.
        opset (int): ONNX opset, at least 16 (``RoiAlign``'s
            ``half_pixel`` mode, GridSample). Defaults to 17.

    Returns:
        tuple[Tensor, ...]: the module's outputs on ``inputs`` in PyTorch.

    Raises:
        ValueError: ``inputs`` is not (1, 3, H, W), ``opset`` < 16, or the
            model has mmcv deformable convs.
        NotImplementedError: see :class:`End2EndModule`.
    """
    import onnx
    if inputs.dim() != 4 or tuple(inputs.shape[:2]) != (1, 3):
        raise ValueError(f'inputs of shape {tuple(inputs.shape)}: the '
                         'end-to-end graph takes one image, (1, 3, H, W)')
    if opset < 16:
        raise ValueError(f'opset {opset}: at least 16 is needed')
    if dcn_layers(model):
        raise ValueError('the model has mmcv deformable convs: export '
                         'projects.deploy.dcn.with_standard_dcn(model)')
    module = End2EndModule(model.eval(), inputs.shape[-2:]).eval()
    inputs = inputs.detach().float()
    with torch.no_grad():
        outs = module(inputs)
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        torch.onnx.export(
            module, (inputs, ), path, input_names=['inputs'],
            output_names=list(OUTPUT_NAMES), opset_version=opset,
            dynamic_axes={name: {0: 'num_dets'} for name in OUTPUT_NAMES},
            do_constant_folding=False, dynamo=False)
    graph = onnx.load(path)
    for key, value in metadata.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, path)
    return outs


def end2end_instances(outputs: Sequence, mask_thr: float) -> InstanceData:
    """The end-to-end graph's four outputs as mmdet's ``pred_instances``
    at the input size (what ``model.predict(..., rescale=False)`` gives),
    to compare the two.

    Args:
        outputs (Sequence): ``boxes`` (N, 4), ``scores`` (N,), ``labels``
            (N,), ``masks`` (N, H, W) probabilities; tensors or arrays.
        mask_thr (float): the binarisation threshold.

    Returns:
        InstanceData: ``bboxes``, ``scores``, ``labels``, ``masks`` (bool).
    """
    boxes, scores, labels, probs = (
        torch.from_numpy(np.asarray(o)) if not isinstance(o, Tensor) else o
        for o in outputs)
    return InstanceData(bboxes=boxes.float(), scores=scores.float(),
                        labels=labels.long(), masks=probs > mask_thr)
