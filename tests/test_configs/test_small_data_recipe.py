"""The small-data configs carry the protocol's recipe (issue 12): the
prototype methods normalise their prototypes, and every method trains at
the lr its committed probe picked (docs/results/feral_cats_cpu/probe)."""
import json
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import ROOT
from projects.benchmark.protocol import FERAL_CATS

CHOICE = osp.join(ROOT, 'docs', 'results', 'feral_cats_cpu', 'probe',
                  'choice.json')
DATASETS = ('feral-cats', 'fruits-nuts', 'coco-mini')


def small_data_configs(method):
    """The method's small-data configs on each dataset that has one."""
    paths = [osp.join(ROOT, method.config.replace('feral-cats', d))
             for d in DATASETS]
    return [p for p in paths if osp.isfile(p)]


@pytest.mark.parametrize('method', FERAL_CATS.methods, ids=lambda m: m.key)
def test_small_data_configs_follow_the_protocol(method):
    with open(CHOICE) as f:
        choice = json.load(f)
    for path in small_data_configs(method):
        cfg = Config.fromfile(path)
        head = cfg.model.mask_head
        assert head.get('proto_norm', False) is method.prototypes, path
        if method.key in choice:
            assert cfg.optim_wrapper.optimizer.lr == \
                choice[method.key]['lr'], path
