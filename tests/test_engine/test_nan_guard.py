"""A NaN loss stops training at its iteration, naming the loss term, and
the last good checkpoint stays intact and loadable."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from conftest import ROOT
from projects.engine.checkpoint import load_safe_checkpoint
from projects.engine.nan_guard import NonFiniteLossError, non_finite_terms

CFG = osp.join(ROOT, 'tests', 'configs', 'sais_tiny_resume_fruits_nuts.py')


def test_non_finite_terms():
    out = dict(loss=torch.tensor(float('nan')), loss_cls=torch.tensor(1.),
               loss_mask=torch.tensor(float('inf')), acc=float('nan'))
    bad = non_finite_terms(out)
    assert list(bad) == ['loss', 'loss_mask']
    assert math.isnan(bad['loss']) and bad['loss_mask'] == math.inf
    assert non_finite_terms(dict(loss=torch.tensor(2.))) == {}


class _PoisonMaskHead(Hook):
    """Test-only: before iteration ``at`` (1-based), makes the mask head's
    prototype output NaN, so that loss_mask (and the total) become NaN."""

    def __init__(self, at: int):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at:
            model = runner.model
            params = dict(model.mask_head.named_parameters())
            name = [n for n in params if n.endswith('weight')][-1]
            with torch.no_grad():
                params[name].fill_(float('nan'))


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_the_last_checkpoint(tmp_path, fruits_nuts):
    from mmengine.runner import Runner
    cfg = Config.fromfile(CFG)
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.dataset.data_root = osp.join(
        ROOT, cfg.train_dataloader.dataset.data_root)
    runner = Runner.from_cfg(cfg)
    runner.register_hook(_PoisonMaskHead(at=5))
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    msg = str(err.value)
    assert msg.startswith('iteration 5: non-finite loss: ')
    assert 'loss_mask = nan' in msg
    assert 'iter_4.pth' in msg
    assert runner.iter == 4  # the loop stopped inside iteration 5
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == [
        'iter_2.pth', 'iter_4.pth']
    state = load_safe_checkpoint(str(tmp_path / 'iter_4.pth'))
    assert state['meta']['iter'] == 4
    assert all(torch.isfinite(v).all() for v in state['state_dict'].values()
               if v.is_floating_point())
