"""ONNX export of the zoo's single-stage instance segmenters.

:func:`export_end2end` writes one graph from the image to the detections,
post-processing included, in standard ONNX operations (run without torch
by tools/deployment/ort_run.py). :func:`export_onnx` writes the dense
network only (backbone, neck, the heads' forward, the dense parts of the
mask heads); its post-processing (decoding, NMS, mask assembly and
pasting) stays in torch, in one place (:func:`postprocess`, the heads' own
``predict_by_feat``), used both by the PyTorch path and by
:class:`OrtDetector`, which runs the graph with onnxruntime (and by
:class:`OrtTestModel`, ``tools/test.py --onnx``).
See docs/deployment.md.
"""
from .compare import mask_iou_pairs, match_detections
from .dcn import GridSampleDCNv2, dcn_layers, with_standard_dcn
from .end2end import (End2EndModule, end2end_instances, end2end_metadata,
                      export_end2end)
from .export import CustomOpError, NetworkModule, export_onnx
from .inputs import fixed_input_shape, load_batch, pad_batch, test_pipeline
from .layout import HeadOutputs, head_outputs
from .ort_detector import OrtDetector
from .ort_test_model import OrtTestModel
from .split import (DETECTOR_SPLITS, detector_split, network_forward,
                    network_output_names, postprocess, postprocess_modules)

__all__ = [
    'CustomOpError', 'DETECTOR_SPLITS', 'End2EndModule',
    'end2end_instances', 'end2end_metadata', 'export_end2end', 'GridSampleDCNv2',
    'HeadOutputs', 'NetworkModule', 'OrtDetector', 'OrtTestModel',
    'dcn_layers', 'detector_split', 'export_onnx', 'fixed_input_shape',
    'head_outputs',
    'load_batch', 'mask_iou_pairs', 'match_detections',
    'network_forward', 'network_output_names', 'pad_batch', 'postprocess',
    'postprocess_modules', 'test_pipeline', 'with_standard_dcn'
]
