"""Run an exported network with onnxruntime and post-process it with the
detector's own heads."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from mmdet.structures import DetDataSample
from .split import network_output_names, postprocess


class OrtDetector:
    """A detector whose dense network runs in onnxruntime.

    ``predict`` runs the ONNX graph written by :func:`~projects.deploy.
    export.export_onnx` on the preprocessed batch, then
    :func:`~projects.deploy.split.postprocess` (torch, the heads'
    ``predict_by_feat``) on its outputs, so it returns what
    ``model.predict`` returns up to the numerical differences of the
    network.

    Args:
        model (nn.Module): the detector built from the config the graph was
            exported from; its heads post-process (the network's weights are
            not used; YOLACT++'s mask re-scoring net, part of
            post-processing, is). Put in eval mode.
        onnx_path (str): the ``.onnx`` file.
        providers (Sequence[str]): onnxruntime execution providers.
            Defaults to ``('CPUExecutionProvider',)``.
        num_threads (int, optional): onnxruntime's intra-op threads; None
            leaves its default (all cores).

    Raises:
        FileNotFoundError: ``onnx_path`` does not exist.
        ValueError: the graph's outputs are not the ones ``model``'s heads
            give (exported from another config).
    """

    def __init__(self,
                 model: nn.Module,
                 onnx_path: str,
                 providers: Sequence[str] = ('CPUExecutionProvider', ),
                 num_threads: Optional[int] = None) -> None:
        import onnxruntime as ort
        if not osp.isfile(onnx_path):
            raise FileNotFoundError(f'ONNX model {onnx_path!r}: no such file')
        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            onnx_path, sess_options=options, providers=list(providers))
        self.model = model.eval()
        self.onnx_path = onnx_path
        [inp] = self.session.get_inputs()
        self.input_name = inp.name
        self.output_names = [o.name for o in self.session.get_outputs()]
        try:
            expected = network_output_names(model, len(self.output_names))
        except ValueError:  # not even the number of outputs fits
            expected = None
        if expected != self.output_names:
            raise ValueError(
                f'{onnx_path}: its {len(self.output_names)} outputs '
                f'({", ".join(self.output_names[:3])}, ...) are not those of '
                f'the heads of {type(model).__name__} '
                f'({type(model.mask_head).__name__}); export it from this '
                'config')

    @property
    def input_shape(self) -> Tuple[int, ...]:
        """tuple[int]: the graph's fixed input shape (N, 3, H, W)."""
        return tuple(self.session.get_inputs()[0].shape)

    def run(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """The network's outputs for a batch.

        Args:
            inputs (Tensor): shape (N, 3, H, W), float32, as
                ``model.data_preprocessor`` returns it, of exactly
                :attr:`input_shape`.

        Returns:
            tuple[Tensor, ...]: named by :attr:`output_names`.

        Raises:
            ValueError: ``inputs`` is not of the graph's fixed shape.
        """
        if tuple(inputs.shape) != self.input_shape:
            raise ValueError(
                f'input of shape {tuple(inputs.shape)}, but {self.onnx_path} '
                f'was exported for {self.input_shape}: resize/pad to it '
                '(projects.deploy.inputs.pad_batch) or export at this shape')
        feed = {self.input_name: inputs.detach().cpu().float().numpy()}
        return tuple(
            torch.from_numpy(np.asarray(o)) for o in self.session.run(
                None, feed))

    def predict(self,
                inputs: Tensor,
                data_samples: List[DetDataSample],
                rescale: bool = True) -> List[DetDataSample]:
        """Detections of a batch, as ``model.predict`` gives them.

        Args:
            inputs (Tensor): shape (N, 3, H, W), see :meth:`run`.
            data_samples (list[DetDataSample]): their meta information
                (``batch_input_shape`` must be (H, W)); ``pred_instances``
                is added.
            rescale (bool): boxes and masks at the original image size.

        Returns:
            list[DetDataSample]: with ``pred_instances`` (``bboxes``
            (n, 4), ``scores`` (n,), ``labels`` (n,), ``masks`` (n, H, W)).
        """
        outs = self.run(inputs)
        with torch.no_grad():
            return postprocess(self.model, outs, data_samples, rescale)
