"""tools/analysis/solo_grid_fit.py: per-level assignment of real
instances to SOLO's grids, as mmdet's SOLOHead assigns them."""
import os.path as osp

import pytest

from mmengine.config import Config

from conftest import ROOT, load_script

tool = load_script('tools/analysis/solo_grid_fit.py')


def test_positive_cells_by_hand():
    # a 96 x 96 box centred in a 384 input with S = 40 (9.6 px cells):
    # centre region 0.2 * 96 = 19.2 px -> cells 18..21 clipped to 19..21
    assert tool.positives([144, 144, 96, 96], 384, 40, 0.2) == 9
    # a tiny box: its centre cell only
    assert tool.positives([100, 100, 4, 4], 384, 40, 0.2) == 1
    # at the image corner the 3 x 3 is cut by the grid
    assert tool.positives([0, 0, 200, 200], 384, 12, 0.2) <= 4


def test_fruits_nuts_levels_and_channels(fruits_nuts):
    rows = {}
    for name in ('solo', 'decoupled-solo', 'solov2'):
        cfg = Config.fromfile(osp.join(
            ROOT, 'configs', 'solo',
            f'{name}_r50_fpn_1xb2-200i_fruits-nuts-384.py'))
        cfg.train_dataloader.dataset.data_root = osp.join(ROOT, 'data',
                                                          'fruits_nuts/')
        rows[name] = tool.fit(cfg, iters=200)
    solo, decoupled, v2 = rows['solo'], rows['decoupled-solo'], rows['solov2']
    assert solo[-1]['images'] == 14 and solo[-1]['unassigned'] == 0
    # the same instances land on the same levels whatever the head
    assert [r['instances'] for r in solo[:-1]] == \
        [r['instances'] for r in decoupled[:-1]]
    # 800x600 photos at 384x384: nothing reaches the two coarsest levels
    assert solo[3]['instances'] == solo[4]['instances'] == 0
    assert [r['channels'] for r in solo[:-1]] == [1600, 1296, 576, 256, 144]
    assert [r['channels'] for r in decoupled[:-1]] == [80, 72, 48, 32, 24]
    assert all(r['channels'] == 1 for r in v2[:-1])
    assert solo[0]['samples_per_channel'] * 1600 == pytest.approx(
        decoupled[0]['samples_per_channel'] * 80)
