"""Convert a torchvision-layout ResNet checkpoint for mmdet's ResNet.

torchvision and mmdet share ResNet's parameter names (conv1, bn1,
layer1.0.conv1, ...), so a torchvision-layout checkpoint loads into
``mmdet.models.backbones.ResNet`` once wrapper prefixes (``module.``,
``module.pre.``, ``backbone.``) and the classification head (``fc.*``) are
stripped. The output is ``{'state_dict': ...}`` for ``init_cfg=dict(
type='Pretrained', checkpoint=OUT)``.

    python tools/model_converters/torchvision_resnet.py IN.pth OUT.pth \
        [--prefix module.pre.] [--depth 50]

Used by tools/setup.sh on the self-supervised AugNet ResNet-50 in the
``imgsim`` wheel (keys prefixed ``module.pre.``, fc 2048->768).
"""
import argparse
import os.path as osp
import sys
from collections import OrderedDict
from typing import Dict, Optional

import torch

HEAD_PREFIXES = ('fc.', )


def convert(state: Dict[str, torch.Tensor],
            prefix: Optional[str] = None) -> 'OrderedDict[str, torch.Tensor]':
    """Strip a wrapper prefix and the classification head.

    Args:
        state (dict[str, Tensor]): torchvision-layout ResNet weights.
        prefix (str, optional): prefix to strip; None: the longest of
            ``module.pre.``, ``module.``, ``backbone.`` that every
            ``conv1.weight`` key carries.

    Returns:
        OrderedDict[str, Tensor]: weights keyed as mmdet's ResNet expects.

    Raises:
        ValueError: if no ``conv1.weight`` is found after stripping.
    """
    if prefix is None:
        prefix = ''
        for cand in ('module.pre.', 'module.', 'backbone.'):
            if f'{cand}conv1.weight' in state:
                prefix = cand
                break
    out = OrderedDict()
    for k, v in state.items():
        if not k.startswith(prefix):
            continue
        k = k[len(prefix):]
        if k.startswith(HEAD_PREFIXES):
            continue
        out[k] = v
    if 'conv1.weight' not in out:
        raise ValueError(f'no ResNet stem (conv1.weight) after stripping '
                         f'prefix {prefix!r}; first keys: '
                         f'{list(state)[:5]}')
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='torchvision-layout checkpoint')
    parser.add_argument('dst', help='output checkpoint for mmdet ResNet')
    parser.add_argument('--prefix', default=None, help='prefix to strip')
    parser.add_argument(
        '--depth', type=int, default=50,
        help='check that the weights load strictly into ResNet-DEPTH')
    args = parser.parse_args()
    if not osp.isfile(args.src):
        sys.exit(f'error: {args.src!r} not found')
    ckpt = torch.load(args.src, map_location='cpu', weights_only=True)
    if isinstance(ckpt, dict) and 'state_dict' in ckpt:
        ckpt = ckpt['state_dict']
    state = convert(ckpt, args.prefix)
    from mmdet.models.backbones import ResNet
    ResNet(args.depth).load_state_dict(state, strict=True)
    torch.save({'state_dict': state}, args.dst)
    print(f'wrote {args.dst}: {len(state)} tensors, loads strictly into '
          f'mmdet ResNet-{args.depth}')


if __name__ == '__main__':
    main()
