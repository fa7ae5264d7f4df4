"""Static int8 quantisation of an exported network with onnxruntime.

``onnxruntime.quantization.quantize_static`` in QDQ format, weights int8
per output channel, activations int8 with ranges calibrated (min-max) on
real images preprocessed exactly as at inference. Only the network is
quantised; post-processing stays in float (torch).

Weights use 7 bits by default (onnxruntime's ``reduce_range``). On an x86
CPU without VNNI (AVX2 or AVX-512 only), onnxruntime's int8 convolution
adds pairs of uint8 x int8 products in int16 (``vpmaddubsw``), which
8-bit weights can overflow: on such a CPU a 2-conv net on real images came
out 20% off its fp32 output, against 2% with 7-bit weights (onnxruntime's
quantization docs, "reduce_range ... for better accuracy on non-VNNI
CPUs"). A file quantised for CPUs with VNNI or AMX only may keep 8 bits.

Min-max ranges are only as good as the calibration images: one image on
which the network's activations run hundreds of times their usual size
stretches every range it touches, until the other images quantise to
almost nothing (docs/deployment.md). :func:`calibration_outliers` finds
such images from the fp32 graph's outputs, so that they can be left out.
"""
import glob
import os
import os.path as osp
import tempfile
from typing import Callable, Iterator, List, NamedTuple, Optional, Sequence

import numpy as np
from torch import Tensor

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')
#: Ops quantised by default: the convolutions (and the DCN stand-in's
#: matrix product). onnxruntime's default list also puts Q/DQ pairs around
#: InstanceNormalization (how GroupNorm exports), Relu, Resize, Reshape...:
#: on the trained SAIS fruits_nuts model the masks were as close to fp32
#: (mean mask IoU 0.980 against 0.977 over 32 detections) but the network
#: ran in 607 ms instead of 461 ms (fp32: 715 ms; 384 px, 1 thread,
#: docs/deployment.md).
QUANTIZED_OPS = ('Conv', 'MatMul')


def calibration_images(folder: str, limit: int = 8) -> List[str]:
    """The first ``limit`` images of ``folder`` (sorted names).

    Args:
        folder (str): a folder of images (``.jpg``, ``.jpeg``, ``.png``,
            ``.bmp``), e.g. data/fruits_nuts/images.
        limit (int): at most this many.

    Returns:
        list[str]: image paths.

    Raises:
        FileNotFoundError: ``folder`` does not exist or has no image.
    """
    if not osp.isdir(folder):
        raise FileNotFoundError(f'calibration folder {folder!r}: no such '
                                'directory')
    paths = sorted(p for p in glob.glob(osp.join(folder, '*'))
                   if p.lower().endswith(IMAGE_EXTS))
    if not paths:
        raise FileNotFoundError(f'calibration folder {folder!r}: no image '
                                f'({", ".join(IMAGE_EXTS)})')
    return paths[:limit]


class BatchReader:
    """``CalibrationDataReader`` over preprocessed batches: what
    ``quantize_static`` calls ``get_next`` on until it returns None.

    Args:
        input_name (str): the graph's input name.
        batches (Sequence): callables or tensors; each gives one input of
            the graph's fixed shape (N, 3, H, W). Callables are called
            lazily, so images are read only while calibrating.
    """

    def __init__(self, input_name: str,
                 batches: Sequence[Callable[[], Tensor]]) -> None:
        self.input_name = input_name
        self._batches: Iterator = iter(batches)

    def get_next(self) -> Optional[dict]:
        """The next feed dict, or None when done."""
        batch = next(self._batches, None)
        if batch is None:
            return None
        return {self.input_name: _array(batch)}


class CalibrationOutlier(NamedTuple):
    """A calibration input whose fp32 outputs run away (see
    :func:`calibration_outliers`).

    Args:
        index (int): its position in the calibration batches.
        output (str): the graph output with the largest ``ratio``.
        ratio (float): that output's largest absolute value on this input,
            over the median of the same figure across all inputs.
    """
    index: int
    output: str
    ratio: float


def _array(batch) -> np.ndarray:
    tensor = batch() if callable(batch) else batch
    return tensor.detach().cpu().float().numpy()


def calibration_outliers(fp32_path: str,
                         batches: Sequence[Callable[[], Tensor]],
                         input_name: str = 'inputs',
                         factor: float = 10.) -> List[CalibrationOutlier]:
    """Calibration inputs on which some output of the fp32 graph reaches
    ``factor`` times its usual size (the median over the inputs of its
    largest absolute value).

    Min-max calibration keeps the largest range any input produces, so one
    such input sets the int8 step of every tensor it inflates. They are
    found on the graph's outputs, where a runaway activation inside the
    network shows. Percentile or entropy calibration is no remedy when
    such an input's whole feature maps are large rather than a few
    values.

    Args:
        fp32_path (str): the exported fp32 graph.
        batches (Sequence): calibration inputs, as for
            :func:`quantize_int8`; each is run once here.
        input_name (str): the graph's input name.
        factor (float): how many times the median makes an outlier.

    Returns:
        list[CalibrationOutlier]: in input order; empty when none.

    Raises:
        ValueError: fewer than 3 batches (no median to compare with).
    """
    import onnxruntime as ort
    if len(batches) < 3:
        raise ValueError('calibration_outliers needs at least 3 calibration '
                         f'batches to compare, got {len(batches)}')
    session = ort.InferenceSession(fp32_path,
                                   providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    peaks = np.asarray([[float(np.abs(out).max()) if out.size else 0.
                         for out in session.run(
                             None, {input_name: _array(batch)})]
                        for batch in batches])
    ratios = peaks / np.maximum(np.median(peaks, axis=0), 1e-12)
    found = []
    for i, row in enumerate(ratios):
        j = int(row.argmax())
        if row[j] >= factor:
            found.append(CalibrationOutlier(i, names[j], float(row[j])))
    return found


def quantize_int8(fp32_path: str, int8_path: str,
                  batches: Sequence[Callable[[], Tensor]],
                  input_name: str = 'inputs',
                  op_types: Sequence[str] = QUANTIZED_OPS,
                  reduce_range: bool = True) -> str:
    """Write an int8 (QDQ, per-channel) copy of an fp32 ONNX network.

    The fp32 graph is first pre-processed as onnxruntime recommends
    (``quant_pre_process``: symbolic shape inference and graph
    optimisation), then quantised with min-max calibration on ``batches``.

    Args:
        fp32_path (str): the exported fp32 graph.
        int8_path (str): where to write the quantised graph.
        batches (Sequence): calibration inputs, see :class:`BatchReader`.
        input_name (str): the graph's input name.
        op_types (Sequence[str]): ONNX ops quantised (their weights and
            input activations); default :data:`QUANTIZED_OPS`.
        reduce_range (bool): 7-bit weights (in [-64, 64]), which no x86
            CPU's int8 convolution overflows (see the module doc); False
            keeps 8 bits, for CPUs with VNNI or AMX only. Defaults to
            True.

    Returns:
        str: ``int8_path``.

    Raises:
        ValueError: ``batches`` is empty.
    """
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    if len(batches) == 0:
        raise ValueError('quantize_int8 needs at least one calibration batch')
    with tempfile.TemporaryDirectory() as tmp:
        prepared = osp.join(tmp, 'prepared.onnx')
        quant_pre_process(fp32_path, prepared)
        os.makedirs(osp.dirname(osp.abspath(int8_path)), exist_ok=True)
        quantize_static(
            prepared, int8_path, BatchReader(input_name, batches),
            op_types_to_quantize=list(op_types),
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            reduce_range=reduce_range)
    return int8_path
