"""Export a detector's dense network (:func:`~projects.deploy.split.
network_forward`) to ONNX with torch's TorchScript exporter.

The graph has one input, ``inputs`` of a fixed shape (N, 3, H, W): the
normalised, padded batch of ``model.data_preprocessor``; its outputs are
the heads' dense tensors, named by :func:`~projects.deploy.split.
network_output_names`. Post-processing stays in torch
(:func:`~projects.deploy.split.postprocess`).

TorchScript exporter (``dynamo=False``) rather than torch 2.13's default
``torch.export`` path: it traces mmcv's and mmdet's modules as they are
and gives a plain ONNX graph at the opset asked for.
"""
import os
import os.path as osp
from typing import Tuple

import torch
from torch import Tensor, nn

from .dcn import dcn_layers
from .split import network_forward, network_output_names

#: GridSample (for the DCN stand-in, :mod:`projects.deploy.dcn`) needs 16
DEFAULT_OPSET = 17


class CustomOpError(RuntimeError):
    """The model has a layer whose ONNX form is a custom operator that
    onnxruntime cannot run without MMDeploy's custom-op library."""


class NetworkModule(nn.Module):
    """A detector's :func:`network_forward` as a module to trace.

    Args:
        model (nn.Module): the detector, in eval mode.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: Tensor) -> tuple:
        """Args: inputs (Tensor): shape (N, 3, H, W).

        Returns:
            tuple[Tensor, ...]: :func:`network_forward`'s outputs.
        """
        return network_forward(self.model, inputs)


def export_onnx(model: nn.Module,
                path: str,
                inputs: Tensor,
                opset: int = DEFAULT_OPSET) -> Tuple[Tensor, ...]:
    """Write the dense network of ``model`` to ``path`` as ONNX, traced on
    ``inputs``, whose shape the graph fixes.

    Args:
        model (nn.Module): the detector; put in eval mode.
        path (str): the ``.onnx`` file to write (its folder is created).
        inputs (Tensor): an example batch, shape (N, 3, H, W), as
            ``model.data_preprocessor`` gives it (a real image traces the
            same graph as zeros, and its outputs are a useful reference).
        opset (int): ONNX opset, at least 16. Defaults to 17.

    Returns:
        tuple[Tensor, ...]: ``network_forward(model, inputs)``, the PyTorch
        outputs the graph should reproduce, named as the graph's outputs
        (:func:`~projects.deploy.split.network_output_names`).

    Raises:
        ValueError: ``inputs`` is not (N, 3, H, W), or ``opset`` < 16.
        NotImplementedError: an unsupported detector or head.
        CustomOpError: the model has mmcv deformable convs (YOLACT++),
            which export as ``mmcv::MMCVModulatedDeformConv2d``; export
            :func:`~projects.deploy.dcn.with_standard_dcn` of it instead.
    """
    if inputs.dim() != 4 or inputs.shape[1] != 3:
        raise ValueError(f'inputs of shape {tuple(inputs.shape)}: expected '
                         '(N, 3, H, W)')
    if opset < 16:
        raise ValueError(f'opset {opset}: at least 16 is needed')
    dcn = dcn_layers(model)
    if dcn:
        raise CustomOpError(
            f'{len(dcn)} mmcv deformable conv layers ({", ".join(dcn[:3])}'
            f'{", ..." if len(dcn) > 3 else ""}): torch exports them as the '
            'custom op mmcv::MMCVModulatedDeformConv2d, which onnxruntime '
            'runs only with MMDeploy\'s custom-op library (not in its pip '
            'wheel); export projects.deploy.dcn.with_standard_dcn(model), '
            'the same layers in standard ONNX ops, instead')
    model.eval()
    inputs = inputs.detach().float()
    with torch.no_grad():
        outs = network_forward(model, inputs)
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        # the wrapper in eval mode: the exporter restores the wrapper's mode
        # afterwards, and with it the model's
        torch.onnx.export(
            NetworkModule(model).eval(), (inputs, ),
            path,
            input_names=['inputs'],
            output_names=network_output_names(model, len(outs)),
            opset_version=opset,
            # onnxruntime folds constants when it loads the graph; the
            # exporter's own pass took a third of the export time (SOLOv2)
            do_constant_folding=False,
            dynamo=False)
    return outs
