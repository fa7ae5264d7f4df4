"""The test-time model of ``tools/test.py --onnx``: the dense network run
by onnxruntime, everything else as in a PyTorch test.

mmengine's ``TestLoop`` calls ``runner.model.test_step(data)`` and feeds its
samples to the config's evaluator. :class:`OrtTestModel` wraps the detector
so that ``test_step`` runs the detector's own data preprocessor, pads the
batch to the graph's fixed input shape (:func:`~projects.deploy.inputs.
pad_batch`) and calls :meth:`~projects.deploy.ort_detector.OrtDetector.
predict` (the ONNX graph, then the heads' own ``predict_by_feat``). The
runner, dataloader, post-processing and metric are those of the PyTorch
test, so the two mask APs differ only by the network's numerics.

It is registered in mmdet's ``MODEL_WRAPPERS`` (the registry mmengine keeps
for DDP-like wrappers, whose wrapped model is ``.module``): the runner then
loads the checkpoint into the detector itself (``Runner.load_checkpoint``
and mmengine's ``load_state_dict`` unwrap a model wrapper), which the
post-processing needs (e.g. YOLACT++'s mask re-scoring net).
"""
from typing import List, Optional, Sequence, Union

import torch
from torch import nn

from mmdet.registry import MODEL_WRAPPERS
from mmdet.structures import DetDataSample
from .inputs import pad_batch
from .ort_detector import OrtDetector


@MODEL_WRAPPERS.register_module()
class OrtTestModel(nn.Module):
    """A detector whose ``test_step`` runs its network in onnxruntime.

    Args:
        module (nn.Module): the detector built from the config the graph was
            exported from (its weights are loaded by the runner later, into
            this object, as into any model wrapper). It is moved to the CPU:
            onnxruntime's CPU provider returns CPU tensors, and
            post-processing runs where they are.
        onnx_path (str): the ``.onnx`` file written by
            ``tools/deployment/export_onnx.py`` (fp32 or int8), with a fixed
            input shape (N, 3, H, W).
        num_threads (int, optional): onnxruntime's intra-op threads.
            Defaults to ``torch.get_num_threads()`` (``OMP_NUM_THREADS``),
            so that both paths of a comparison use the same cores.

    Raises:
        FileNotFoundError: ``onnx_path`` does not exist.
        ValueError: the graph was exported from another config (its outputs
            are not ``module``'s heads'), or its input shape is not fixed.
        NotImplementedError: a detector with no network/post-processing
            split (Mask R-CNN, YOLO-Mask).
    """

    def __init__(self,
                 module: nn.Module,
                 onnx_path: str,
                 num_threads: Optional[int] = None) -> None:
        super().__init__()
        self.module = module.cpu()
        if num_threads is None:
            num_threads = torch.get_num_threads()
        self.detector = OrtDetector(self.module, onnx_path,
                                    num_threads=num_threads)
        shape = self.detector.input_shape
        if len(shape) != 4 or not all(isinstance(d, int) for d in shape):
            raise ValueError(f'{onnx_path}: input shape {shape} is not a '
                             'fixed (N, 3, H, W); export it with a fixed '
                             'shape (tools/deployment/export_onnx.py)')
        self.onnx_path = onnx_path

    def forward(self, *args, **kwargs):
        """Not used: testing goes through :meth:`test_step`.

        Raises:
            NotImplementedError: always.
        """
        raise NotImplementedError(
            'OrtTestModel runs test_step/val_step only (an ONNX graph does '
            'not train)')

    def train_step(self, *args, **kwargs):
        """Raises: NotImplementedError: an ONNX graph does not train."""
        return self.forward(*args, **kwargs)

    def test_step(
            self, data: Union[dict, Sequence[dict]]) -> List[DetDataSample]:
        """Detections of one dataloader batch, as the detector's
        ``test_step`` returns them.

        Args:
            data (dict): the collated batch (``inputs``: list of uint8
                images (3, h, w); ``data_samples``).

        Returns:
            list[DetDataSample]: with ``pred_instances`` (``bboxes`` (n, 4)
            and ``masks`` (n, H, W) at the original image size, ``scores``
            (n,), ``labels`` (n,)).

        Raises:
            ValueError: a preprocessed image is larger than the graph's
                (H, W), or the batch size is not a multiple of its N.
        """
        n, _, h, w = self.detector.input_shape
        with torch.no_grad():
            data = self.module.data_preprocessor(data, False)
        inputs, samples = data['inputs'], data['data_samples']
        if len(samples) % n:
            raise ValueError(
                f'batch of {len(samples)} images, but {self.onnx_path} was '
                f'exported for batches of {n}: set test_dataloader.'
                f'batch_size to a multiple of {n}')
        pad_value = self.module.data_preprocessor.pad_value
        results = []
        for i in range(0, len(samples), n):
            chunk, chunk_samples = pad_batch(inputs[i:i + n],
                                             samples[i:i + n], (h, w),
                                             pad_value)
            results += self.detector.predict(chunk, chunk_samples)
        return results

    def val_step(
            self, data: Union[dict, Sequence[dict]]) -> List[DetDataSample]:
        """Same as :meth:`test_step`."""
        return self.test_step(data)
