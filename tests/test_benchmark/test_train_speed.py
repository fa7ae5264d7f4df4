"""projects.benchmark.train_speed: the delta config and the summary of
MMEngine's per-iteration records."""
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import ROOT
from projects.benchmark.protocol import precision_of
from projects.benchmark.train_speed import speed_config, speed_table, summarize


def test_speed_config_trains_n_iterations_logging_each(tmp_path):
    config = osp.join(ROOT, 'configs/sais/'
                      'sais_r50_fpn_1xb2-200i_feral-cats-384.py')
    path = tmp_path / 'speed.py'
    path.write_text(speed_config(config, 30, str(tmp_path)))
    cfg = Config.fromfile(str(path))
    assert cfg.train_cfg.max_iters == 30
    assert cfg.val_cfg is None and cfg.val_dataloader is None
    assert cfg.default_hooks.logger.interval == 1
    assert cfg.log_processor.window_size == 1
    assert cfg.default_hooks.checkpoint.interval > 30
    # the rest is the measured config's own
    assert cfg.optim_wrapper.optimizer.lr == 0.001
    assert cfg.train_dataloader.batch_size == 2


def test_summary_medians_and_a_per_epoch_wait_in_the_mean():
    # a 1 s wait at every 7th iteration (a worker restarting per epoch)
    records = [dict(iter=i, time=2.0 + (i % 7 == 1), data_time=float(
        i % 7 == 1)) for i in range(1, 71)]
    s = summarize(records, (0, 70))
    assert s['n'] == 70 and s['step_s'] == 2.0 and s['data_s'] == 0.0
    assert s['compute_s'] == 2.0
    assert s['data_mean_s'] == pytest.approx(10 / 70, abs=1e-3)
    with pytest.raises(ValueError, match='no per-iteration record'):
        summarize(records, (70, 100))


def test_table_pairs_fp32_and_bf16_rows_of_a_config():
    row = dict(config='configs/sais/x.py', cpu='CPU X', threads=2,
               window=[20, 100], peak_rss_mib=1000.0, data_s=0.01,
               data_mean_s=0.02)
    md = speed_table([dict(row, precision='fp32', step_s=2.0),
                      dict(row, precision='bf16', step_s=0.8)])
    assert '| `x` | 2.000 | 0.800 | 2.50x | 0.010 / 0.020 |' in md
    assert 'iterations 21-100; measured on CPU X, 2 torch threads' in md


def test_precision_of_a_run():
    assert precision_of('cpu', False) == 'fp32'
    assert precision_of('cpu', True) == 'bf16'
    assert precision_of('cuda', True) == 'fp16'
