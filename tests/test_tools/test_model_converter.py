"""tools/model_converters/torchvision_resnet.py on torchvision-layout keys."""
import pytest
import torch

from conftest import run_tool
from mmdet.models.backbones import ResNet
from tools_import import converter


def _torchvision_layout(prefix):
    state = {f'{prefix}{k}': v for k, v in ResNet(18).state_dict().items()}
    state[f'{prefix}fc.weight'] = torch.zeros(768, 512)
    state[f'{prefix}fc.bias'] = torch.zeros(768)
    return state


@pytest.mark.parametrize('prefix', ['module.pre.', 'module.', ''])
def test_convert_strips_prefix_and_head(prefix):
    src = _torchvision_layout(prefix)
    out = converter.convert(src)
    assert not any(k.startswith('fc.') for k in out)
    ResNet(18).load_state_dict(out, strict=True)
    assert torch.equal(out['conv1.weight'], src[f'{prefix}conv1.weight'])


@pytest.mark.slow
def test_cli_checks_strict_load(tmp_path):
    src = tmp_path / 'tv.pth'
    torch.save(_torchvision_layout('module.pre.'), src)
    dst = tmp_path / 'mm.pth'
    proc = run_tool('tools/model_converters/torchvision_resnet.py', str(src),
                    str(dst), '--depth', '18')
    assert proc.returncode == 0, proc.stderr
    state = torch.load(dst, weights_only=True)['state_dict']
    ResNet(18).load_state_dict(state, strict=True)
    # a wrong depth is caught, not written
    proc = run_tool('tools/model_converters/torchvision_resnet.py', str(src),
                    str(tmp_path / 'bad.pth'), '--depth', '50')
    assert proc.returncode != 0 and not (tmp_path / 'bad.pth').exists()


def test_no_resnet_stem_is_an_error():
    with pytest.raises(ValueError, match='conv1.weight'):
        converter.convert({'head.weight': torch.zeros(1)})
