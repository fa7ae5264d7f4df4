"""Print the FLOP table that chose SAIS-RT's network: SAIS against lighter
candidates, FLOPs of one test image split by inference stage.

    python tools/analysis/sais_rt_flops.py           # 384, 3 classes
    python tools/analysis/sais_rt_flops.py --size 512 --num-classes 80

Reads the SAIS and SAIS-RT configs (configs/sais/) and one photo of
data/fruits_nuts; prints the Markdown table of configs/sais/README.md
("SAIS-RT") and writes nothing (there is no results folder: every
number comes from the configs).

The image is the first of fruits_nuts' val split, resized to size x size as
the small-data configs do. Stages follow the benchmark's stage map
(``projects.layers.stage_map``): backbone+neck is ``extract_feat``, head
forward every other top-level child (``bbox_head``, ``mask_head``) called on
the FPN levels, each counted by the zoo's FLOP counter
(``projects.benchmark.complexity.flop_analyzer``, one multiply-add = one
FLOP). "rest of predict" is the whole ``predict`` (``complexity``) minus
both: box decoding, NMS, mask assembly and pasting, of which the counter
sees only the mask assembly's matrix product (NMS and interpolation count
0); ``score_thr`` is set to 0 so that the untrained model (seeded random
init: FLOPs do not depend on weights) keeps ``max_per_img`` = 100
detections, the most a prediction assembles.
"""
import argparse
import contextlib
import copy
import io
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SAIS = 'configs/sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py'
SAIS_RT = 'configs/sais/sais-rt_r50_fpn_1xb2-200i_fruits-nuts-384.py'
P3_P5 = dict(
    neck=dict(num_outs=3, add_extra_convs=False),
    bbox_head=dict(strides=[8, 16, 32],
                   regress_ranges=((-1, 64), (64, 128), (128, 1e8))))


def _light(convs: int, channels: int, proto_convs: Optional[int] = None,
           proto_channels: Optional[int] = None) -> dict:
    """SAIS on P3-P5 with ``convs`` x ``channels`` towers and, if given,
    a protonet of ``proto_convs`` x ``proto_channels``."""
    delta = copy.deepcopy(P3_P5)
    delta['bbox_head'].update(stacked_convs=convs, feat_channels=channels)
    if proto_convs is not None:
        delta['mask_head'] = dict(num_convs=proto_convs,
                                  feat_channels=proto_channels)
    return delta


# (row name, config, model delta): SAIS, then lighter SAIS on P3-P5
CANDIDATES: List[Tuple[str, str, dict]] = [
    ('SAIS (P3-P7, towers 4x256, protonet 3x256)', SAIS, {}),
    ('P3-P5, towers 4x256, protonet 3x256', SAIS, P3_P5),
    ('P3-P5, towers 2x128, protonet 3x256', SAIS, _light(2, 128)),
    ('P3-P5, towers 4x128, protonet 1x128', SAIS, _light(4, 128, 1, 128)),
    ('P3-P5, towers 2x128, protonet 1x128', SAIS, _light(2, 128, 1, 128)),
    ('P3-P5, towers 3x128, protonet 1x64', SAIS, _light(3, 128, 1, 64)),
    ('**SAIS-RT** (P3-P5, towers 2x128, protonet 2x64)', SAIS_RT, {}),
    ('P3-P5, towers 2x96, protonet 1x64', SAIS, _light(2, 96, 1, 64)),
    ('P3-P5, towers 4x64, protonet 1x64', SAIS, _light(4, 64, 1, 64)),
]


class _BackboneNeck(nn.Module):
    """``model.extract_feat`` as a module, for the tracer."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return tuple(self.model.extract_feat(inputs))


class _HeadForward(nn.Module):
    """Every head-forward module of the stage map on the FPN levels."""

    def __init__(self, heads: Sequence[nn.Module]) -> None:
        super().__init__()
        self.heads = nn.ModuleList(heads)

    def forward(self, *feats: torch.Tensor) -> tuple:
        return tuple(head(feats) for head in self.heads)


def stage_flops(model: nn.Module, batch: dict) -> Dict[str, int]:
    """FLOPs of one test image per inference stage.

    Args:
        model (nn.Module): a single-stage detector in eval mode.
        batch (dict): ``pseudo_collate`` of one test sample.

    Returns:
        dict[str, int]: ``backbone_neck``, ``head_forward`` and
        ``predict`` (the whole ``model.predict``,
        :func:`projects.benchmark.complexity`).

    Raises:
        ValueError: the model's stage map is not the single-stage one
            (backbone+neck = ``extract_feat``).
    """
    from projects.benchmark import SINGLE_STAGE, complexity, stage_map_of
    from projects.benchmark.complexity import flop_analyzer
    stage_map = stage_map_of(model)
    if stage_map.backbone_neck != SINGLE_STAGE.backbone_neck:
        raise ValueError(f'{type(model).__name__}: stage map '
                         f'{stage_map} is no single-stage one')
    heads = stage_map.modules(model)['head_forward']
    with torch.no_grad():
        inputs = model.data_preprocessor(batch, False)['inputs']
        feats = model.extract_feat(inputs)
        backbone_neck = flop_analyzer(_BackboneNeck(model),
                                      (inputs, )).total()
        head = flop_analyzer(_HeadForward(heads), tuple(feats)).total()
    return dict(backbone_neck=int(backbone_neck), head_forward=int(head),
                predict=complexity(model, batch)['flops'])


def load(config: str, delta: Optional[dict] = None, size: int = 384,
         num_classes: Optional[int] = None):
    """A config (path relative to the repository) with a model delta,
    ``bbox_head.num_classes`` set if given, and its test input resized to
    ``size`` x ``size``.

    Returns:
        Config: the merged config.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, config))
    model = copy.deepcopy(delta or {})
    if num_classes is not None:
        model.setdefault('bbox_head', {})['num_classes'] = num_classes
    cfg.merge_from_dict(dict(model=model))
    pipeline = cfg.test_dataloader.dataset.pipeline
    for t in pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (size, size)
    return cfg


def test_batch(cfg) -> dict:
    """``pseudo_collate`` of the first test sample of ``cfg``'s dataset,
    read from the repository's data/ (pycocotools' messages silenced)."""
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    from mmengine.dataset import pseudo_collate
    register_all_modules()
    dataset = copy.deepcopy(cfg.test_dataloader.dataset)
    dataset.data_root = osp.join(ROOT, dataset.data_root)
    with contextlib.redirect_stdout(io.StringIO()):
        return pseudo_collate([DATASETS.build(dataset)[0]])


def model_flops(config: str, delta: Optional[dict] = None, size: int = 384,
                num_classes: Optional[int] = None,
                batch: Optional[dict] = None) -> Dict[str, int]:
    """:func:`stage_flops` of a config's model (plus ``delta``) at
    ``size`` x ``size`` on ``batch``, by default the config's first
    fruits_nuts test image (:func:`test_batch`)."""
    from projects.apis import build_model
    cfg = load(config, delta, size, num_classes)
    model = build_model(cfg, None, 'cpu').eval()
    return stage_flops(model, batch or test_batch(cfg))


def table(size: int = 384, num_classes: Optional[int] = None) -> str:
    """The Markdown table of :data:`CANDIDATES`."""
    lines = [
        '| model | backbone+neck GFLOPs | head forward GFLOPs | '
        'head / backbone+neck | rest of predict GFLOPs (100 detections) |',
        '| --- | --- | --- | --- | --- |'
    ]
    batch = test_batch(load(SAIS, size=size))  # one image for all rows
    for name, config, delta in CANDIDATES:
        # score_thr 0: an untrained model keeps max_per_img (100)
        # detections, the most post-processing a prediction can do
        delta = dict(delta, test_cfg=dict(score_thr=0.0))
        f = model_flops(config, delta, size, num_classes, batch)
        rest = f['predict'] - f['backbone_neck'] - f['head_forward']
        lines.append(
            f"| {name} | {f['backbone_neck'] / 1e9:.2f} | "
            f"{f['head_forward'] / 1e9:.2f} | "
            f"{f['head_forward'] / f['backbone_neck']:.2f} | "
            f'{rest / 1e9:.2f} |')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=384,
                        help='square input size in pixels (default 384)')
    parser.add_argument('--num-classes', type=int, default=None,
                        help='classes of the box head (default: the '
                        "configs' 3 of fruits_nuts)")
    args = parser.parse_args(argv)
    import logging

    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel(logging.ERROR)  # init logs
    classes = args.num_classes or 3
    print(f'FLOPs of one {args.size}x{args.size} image, {classes} classes '
          '(tools/analysis/sais_rt_flops.py)\n')
    print(table(args.size, args.num_classes))


if __name__ == '__main__':
    main()
