"""What a prototype or basis model learned, as tensors and as one figure.

Prototype methods (SAIS, SSS, YOLACT, YOLACT++): the mask assembly of
YOLACT §3.2 (lecture slides 002, "Mask Assembly", ``M = sigma(P C^T)``, and
Fig. 5 "Prototype Behavior"; SAIS §III-A b, Fig. 1 blue box): the ``k``
prototypes ``P`` of one image and, per top detection, its crop, its mask
coefficients ``c``, ``sigmoid(P c)`` before and after the crop to its box,
as dbolya/yolact's ``--display_lincomb``. BlendMask (slides 001, Figure 1
"Blending process"): the ``K`` bases and, per detection, its ``K``
attention maps and the blended mask inside its box.

Why our own: mmdet's ``DetLocalVisualizer`` and ``DetInferencer`` expose
no head's intermediate tensors. They come from the heads' own methods,
called in the detector's ``predict`` order, plus one removable forward hook
on YOLACT's protonet (mmdet's ``YOLACTProtonet.forward`` hides them).
"""
import copy
import io
import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from mmengine.config import Config
from torch import Tensor, nn

from projects.apis.metafiles import method_of
from projects.apis.model import load_detector
from projects.layers.mask_bases import mask_bases_of
from projects.layers.prototypes import assemble_masks, crop_masks

SUPPORTED = 'SAIS, SSS, YOLACT, YOLACT++ (prototypes) and BlendMask (bases)'


class NoPrototypesError(ValueError):
    """The config's method predicts masks without prototypes or bases."""


@dataclass
class PrototypeData:
    """Tensors of one image behind the figure; ``N`` detections, best first.

    Attributes:
        kind (str): ``'prototypes'`` or ``'bases'``.
        maps (Tensor): shape (k, h, w), the prototypes (or the K bases) at
            ``stride`` input pixels per map pixel.
        stride (float): input pixels per map pixel (4 on P3 with x2).
        boxes (Tensor): shape (N, 4), (x1, y1, x2, y2) in input pixels.
        scores (Tensor): shape (N,), the box head's scores.
        labels (Tensor): shape (N,).
        coeffs (Tensor | None): shape (N, k), mask coefficients.
        lincomb (Tensor | None): shape (N, h, w), ``sigmoid(P c)`` before
            the crop.
        cropped (Tensor | None): shape (N, h, w), ``lincomb`` cropped to
            each box by the mask head: zero outside (SAIS keeps the pixels
            whose centre is inside; mmdet's YOLACT crop adds one prototype
            pixel on each side).
        attns (Tensor | None): shape (N, K, R, R), BlendMask's attention
            weights inside the box (upsampled, softmax over K).
        blended (Tensor | None): shape (N, R, R), the blended mask
            probabilities inside each box.
    """
    kind: str
    maps: Tensor
    stride: float
    boxes: Tensor
    scores: Tensor
    labels: Tensor
    coeffs: Optional[Tensor] = None
    lincomb: Optional[Tensor] = None
    cropped: Optional[Tensor] = None
    attns: Optional[Tensor] = None
    blended: Optional[Tensor] = None


def prototype_kind(cfg: Config, config_path: Optional[str] = None) -> str:
    """Whether the config's model has prototypes or bases.

    Args:
        cfg (Config): a zoo config (``projects`` imported).
        config_path (str, optional): its file, for messages and the method
            name; default ``cfg.filename``.

    Returns:
        str: what the mask head class declares
        (:mod:`projects.layers.mask_bases`): ``'prototypes'`` (SAIS's mask
        head, mmdet's ``YOLACTProtonet`` and subclasses) or ``'bases'``
        (BlendMask's mask head).

    Raises:
        NoPrototypesError: for any other mask head; names the method, the
            config and the head type.
    """
    from mmdet.registry import MODELS
    head = cfg.model.get('mask_head') or {}
    cls = MODELS.get(head['type']) if head.get('type') else None
    kind = mask_bases_of(cls) if isinstance(cls, type) else None
    if kind is not None:
        return kind
    path = config_path or cfg.filename
    model = cfg.model
    head = next(h for h in (model.get('mask_head'), (model.get('roi_head')
                                                     or {}).get('mask_head'),
                            model.get('bbox_head'), model) if h)['type']
    raise NoPrototypesError(
        f'{method_of(path, model)} has no prototypes or bases: config '
        f'{path}, head type {head}; supported: {SUPPORTED}')


def load_model(cfg: Config, checkpoint: str) -> nn.Module:
    """Build the config's model on the CPU and load a checkpoint into it.

    The file is read by :func:`projects.engine.checkpoint.load_safe_checkpoint`
    (``weights_only``, as tools/test.py does before the Runner loads it);
    ``Pretrained`` inits are dropped, every weight comes from the file.

    Args:
        cfg (Config): the model's config.
        checkpoint (str): an MMEngine checkpoint (``state_dict`` inside) or a
            bare state dict.

    Returns:
        nn.Module: the detector in eval mode.

    Raises:
        NoPrototypesError: see :func:`prototype_kind` (checked first).
        FileNotFoundError, UnsafeCheckpointError, UnreadableCheckpointError:
            see :func:`load_safe_checkpoint`.
        ValueError: the checkpoint's keys or shapes do not fit the model
            (wrong config); names the first misfit.
    """
    prototype_kind(cfg)
    return load_detector(cfg, checkpoint)


def load_image(cfg: Config, model: nn.Module,
               path: str) -> Tuple[dict, np.ndarray]:
    """One image through the config's test pipeline and data preprocessor.

    ``LoadAnnotations`` is dropped: a file given by path has none.

    Args:
        cfg (Config): its ``test_dataloader`` pipeline is used.
        model (nn.Module): its ``data_preprocessor`` normalises and pads.
        path (str): the image file.

    Returns:
        tuple: the batch (``inputs`` Tensor of shape (1, 3, H_pad, W_pad),
        ``data_samples``) and the resized image, uint8 RGB of shape
        (H, W, 3) in input pixels.
    """
    from mmcv.transforms import Compose
    from mmengine.dataset import pseudo_collate
    from mmdet.utils import get_test_pipeline_cfg
    pipeline = [
        t for t in copy.deepcopy(get_test_pipeline_cfg(cfg))
        if 'LoadAnnotations' not in str(t['type'])
    ]
    data = Compose(pipeline)(dict(img_path=path, img_id=0))
    image = data['inputs'].permute(1, 2, 0).numpy()[..., ::-1].copy()
    return model.data_preprocessor(pseudo_collate([data]), False), image


@torch.no_grad()
def extract(model: nn.Module, batch: dict, top_k: int = 4,
            score_thr: Optional[float] = None) -> PrototypeData:
    """The prototypes or bases of the batch's first image and the masks of
    its ``top_k`` best detections.

    Args:
        model (nn.Module): a SAIS, YOLACT-family or BlendMask detector.
        batch (dict): ``inputs`` and ``data_samples``, as from
            :func:`load_image`.
        top_k (int): detections kept, highest score first.
        score_thr (float, optional): replaces the box head's
            ``test_cfg.score_thr`` (detections scoring above it are kept);
            None keeps the config's.

    The scores are the box head's: YOLACT++'s mask re-scoring, which its
    mask head's ``predict_by_feat`` applies afterwards, is not applied.

    Returns:
        PrototypeData: tensors on the CPU.

    Raises:
        NoPrototypesError: the model's mask head is of neither kind.
    """
    inputs, samples = batch['inputs'], batch['data_samples']
    metas = [s.metainfo for s in samples[:1]]
    feats = tuple(f[:1] for f in model.extract_feat(inputs[:1]))
    head, mask_head = model.bbox_head, model.mask_head
    cfg = copy.deepcopy(head.test_cfg)
    if score_thr is not None:
        cfg.score_thr = score_thr
    results = head.predict_by_feat(
        *head(feats), batch_img_metas=metas, cfg=cfg, rescale=False)[0]
    results = results[results.scores.argsort(descending=True)[:top_k]]
    common = dict(boxes=results.bboxes, scores=results.scores,
                  labels=results.labels)
    pad_h = metas[0]['batch_input_shape'][0]
    if hasattr(mask_head, 'blender'):  # BlendMask
        bases = mask_head(feats)[0]
        blender, n = mask_head.blender, len(results)
        size, res = blender.attn_size, blender.pooler_resolution
        attns = bases.new_zeros(0, blender.num_bases, res, res)
        blended = bases.new_zeros(0, res, res)
        if n:  # the blender's own crop and merge; attns as merge makes them
            crops = blender.crop(bases, [results.bboxes])
            blended = blender.merge(crops, results.param_preds).sigmoid()
            attns = F.interpolate(
                results.param_preds.view(n, blender.num_bases, size, size),
                (res, res), mode='bilinear',
                align_corners=False).softmax(dim=1)
        return PrototypeData('bases', bases[0], pad_h / bases.shape[-2],
                             attns=attns, blended=blended, **common)
    if hasattr(mask_head, 'crop_mask_preds'):  # mmdet's YOLACTProtonet
        seen: List[Tensor] = []
        handle = mask_head.protonet.register_forward_hook(
            lambda module, args, out: seen.append(out))
        try:
            mask_preds, _ = mask_head(feats, [results])
        finally:
            handle.remove()
        protos = seen[0][0]
        lincomb = mask_preds[0].permute(2, 0, 1)
        cropped = mask_head.crop_mask_preds(mask_preds, metas, [results])[0]
    elif hasattr(mask_head, 'protonet'):  # SAIS
        protos = mask_head(feats)[0][0]
        lincomb = assemble_masks(protos, results.coeffs).sigmoid()
        cropped = crop_masks(lincomb, results.bboxes,
                             protos.shape[-2] / pad_h)
    else:
        raise NoPrototypesError(
            f'{type(mask_head).__name__} has no prototypes or bases; '
            f'supported: {SUPPORTED}')
    return PrototypeData('prototypes', protos, pad_h / protos.shape[-2],
                         coeffs=results.coeffs, lincomb=lincomb,
                         cropped=cropped, **common)


def _normalised(x: Tensor) -> np.ndarray:
    """Min-max to [0, 1] for display; a constant map becomes 0."""
    return ((x - x.min()) / (x.max() - x.min()).clamp(min=1e-12)).numpy()


def _show(ax, img, title: str, **kwargs) -> None:
    ax.imshow(img, interpolation='nearest', **kwargs)
    ax.set_title(title, fontsize=7, pad=2)
    ax.set(xticks=[], yticks=[])


def _box(ax, box: Sequence[float], scale: float, color='w') -> None:
    """Draw ``box`` (input pixels) on a map of ``scale`` map px per px."""
    x1, y1, x2, y2 = (float(v) * scale - 0.5 for v in box)
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                           edgecolor=color, linewidth=0.8))


def _crop(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The part of ``image`` (H, W, 3) inside ``box`` (input pixels), at
    least one pixel, clipped to the image."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    x1, y1 = min(max(x1, 0), w - 1), min(max(y1, 0), h - 1)
    return image[y1:min(max(y2, y1 + 1), h), x1:min(max(x2, x1 + 1), w)]


def _coeff_bars(ax, coeffs: Tensor, i: int) -> None:
    """Bar chart of one detection's ``k`` mask coefficients, (k,)."""
    c = coeffs.float().numpy()
    k = len(c)
    ax.bar(np.arange(k), c, color=np.where(c >= 0, 'tab:red', 'tab:blue'))
    lim = max(1.0, float(np.abs(c).max()))
    ax.set(ylim=(-lim, lim), xlim=(-0.5, k - 0.5))
    ax.axhline(0, color='k', linewidth=0.5)
    ax.tick_params(labelsize=6)
    ax.set_title(f'#{i} mask coefficients (prototype index)', fontsize=7,
                 pad=2)


def figure_panels(data: PrototypeData) -> int:
    """Number of axes :func:`build_figure` draws: the image, the ``k``
    maps, and per detection 4 panels (crop, coefficients, ``sigmoid(P c)``,
    cropped) for prototypes or ``K + 2`` (crop, ``K`` attentions, blended
    mask) for bases."""
    per_det = 4 if data.kind == 'prototypes' else data.maps.shape[0] + 2
    return 1 + data.maps.shape[0] + per_det * len(data.boxes)


def save_png(fig: Figure, path: str, dpi: int = 80,
             colors: Optional[int] = 256) -> None:
    """Write ``fig`` as a PNG, with a palette of ``colors`` colours (no
    dithering) when set: about half the size of RGB for these colour-mapped
    panels, so a figure for the docs stays under ~300 KB.

    Args:
        fig (Figure): the figure.
        path (str): the PNG file (overwritten).
        dpi (int): dots per inch.
        colors (int, optional): palette size (2-256); None keeps RGB.
    """
    from PIL import Image
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=dpi)
    img = Image.open(buf).convert('RGB')
    if colors:
        img = img.quantize(colors, method=Image.Quantize.MEDIANCUT,
                           dither=Image.Dither.NONE)
    img.save(path, format='PNG', optimize=True)


def build_figure(data: PrototypeData, image: np.ndarray,
                 class_names: Sequence[str] = (), title: str = '',
                 columns: int = 8) -> Figure:
    """The figure of :class:`PrototypeData` (see the module docstring).

    Args:
        data (PrototypeData): from :func:`extract`.
        image (np.ndarray): uint8 RGB, (H, W, 3), in input pixels.
        class_names (Sequence[str]): names of the labels, if known.
        title (str): the figure's title.
        columns (int): maps per row of the prototype/basis grid.

    Returns:
        Figure: a matplotlib figure (no pyplot state) with
        :func:`figure_panels` axes.
    """
    k, n = data.maps.shape[0], len(data.boxes)
    protos = data.kind == 'prototypes'
    grid_rows = math.ceil(k / columns)
    top_h, row_h = max(2.4, 1.3 * grid_rows), 1.8
    height = top_h + row_h * n + 0.6
    fig = Figure(figsize=(12.0, height))
    outer = fig.add_gridspec(
        1 + (n > 0), 1, height_ratios=[top_h] + [row_h * n] * (n > 0),
        hspace=0.6 / height, left=0.02, right=0.98, top=1 - 0.6 / height,
        bottom=0.02)
    top = outer[0].subgridspec(1, 2, width_ratios=[1, 3], wspace=0.05)
    ax = fig.add_subplot(top[0])
    _show(ax, image, f'input {image.shape[1]}x{image.shape[0]}, '
          f'top {n} detections')
    for i, box in enumerate(data.boxes):
        _box(ax, box, 1.0, 'yellow')
        ax.text(float(box[0]), float(box[1]), str(i), color='yellow',
                fontsize=7, va='bottom')
    maps = top[1].subgridspec(grid_rows, columns, wspace=0.05, hspace=0.3)
    word = 'prototype' if protos else 'basis'
    for j in range(k):
        _show(fig.add_subplot(maps[j // columns, j % columns]),
              _normalised(data.maps[j]), f'{word} {j}', cmap='viridis')
    fig.suptitle(f'{title} ({k} {"prototypes" if protos else "bases"}, '
                 f'each min-max normalised; map stride {data.stride:g} px)',
                 fontsize=9, y=1 - 0.1 / height, va='top')
    if n == 0:
        return fig
    rows = outer[1].subgridspec(
        n, 4 if protos else k + 2, wspace=0.15, hspace=0.35,
        width_ratios=[1, 2.2, 1, 1] if protos else None)
    names = [class_names[int(i)] if int(i) < len(class_names) else str(
        int(i)) for i in data.labels]
    for i, box in enumerate(data.boxes):
        w, h = (float(box[2] - box[0]), float(box[3] - box[1]))
        _show(fig.add_subplot(rows[i, 0]), _crop(image, box),
              f'#{i} {names[i]} {float(data.scores[i]):.3f}, '
              f'{w:.0f}x{h:.0f} px')
        if protos:
            _coeff_bars(fig.add_subplot(rows[i, 1]), data.coeffs[i], i)
            panels = ((data.lincomb[i], 'sigmoid(P c)'),
                      (data.cropped[i], 'cropped to box'))
        else:
            panels = [(data.attns[i, j], f'attention {j}')
                      for j in range(k)] + [(data.blended[i], 'blended')]
        for col, (img, what) in enumerate(panels, 2 if protos else 1):
            ax = fig.add_subplot(rows[i, col])
            _show(ax, img.float().numpy(), f'#{i} {what}', vmin=0, vmax=1,
                  cmap='viridis' if what.startswith('att') else 'magma')
            if protos:
                _box(ax, box, 1 / data.stride, 'cyan')
    return fig
