"""Import the scripts under tools/ as modules for the tests."""
import importlib.util
import os.path as osp

from conftest import ROOT


def _load(rel):
    spec = importlib.util.spec_from_file_location(
        rel.replace('/', '_')[:-3], osp.join(ROOT, rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


converter = _load('tools/model_converters/torchvision_resnet.py')
