"""tools/analysis/time_dynamic_mask_head.py, run tiny."""
import json

import pytest

from conftest import load_script, run_tool

TOOL = 'tools/analysis/time_dynamic_mask_head.py'
tool = load_script(TOOL)
TINY = ['--instances', '3', '--size', '64', '96', '--repeat', '2',
        '--warmup', '0']


def test_tiny_run_reports_median_and_iqr(tmp_path, capsys):
    out = tmp_path / 'r.json'
    r = tool.main(TINY + ['--out', str(out)])
    assert json.loads(out.read_text()) == r
    assert r['feat_size'] == [8, 12]  # 64x96 at stride 8
    assert r['mask_size'] == [16, 24]  # upsampled to stride 4
    assert r['num_params'] == 169 and r['instances'] == 3
    assert len(r['times_ms']) == 2 and all(t > 0 for t in r['times_ms'])
    assert r['q1_ms'] <= r['median_ms'] <= r['q3_ms']
    assert r['iqr_ms'] == pytest.approx(r['q3_ms'] - r['q1_ms'])
    printed = capsys.readouterr().out
    assert 'median' in printed and 'IQR' in printed and '3 instances' in \
        printed


def test_architecture_switches_reach_the_head():
    r = tool.main(TINY + ['--depth', '2', '--width', '16',
                          '--no-rel-coords'])
    assert (r['depth'], r['width'], r['rel_coords']) == (2, 16, False)
    assert r['num_params'] == 8 * 16 + 16 + 16 + 1


def test_padding_follows_the_data_preprocessor():
    r = tool.main(['--instances', '1', '--size', '800', '1333',
                   '--repeat', '1', '--warmup', '0', '--depth', '1'])
    assert r['feat_size'] == [100, 168]  # 800x1344 padded, stride 8
    assert r['num_params'] == 11


def test_quantile_is_numpys_linear():
    assert tool.quantile([4., 1., 3., 2.], 0.5) == 2.5
    assert tool.quantile([1., 2., 3., 4., 5.], 0.25) == 2.


@pytest.mark.parametrize('args, msg', [
    (['--instances', '0'], '--instances=0'),
    (['--width', '0'], '--width=0'),
    (['--size', '16', '64'], '--size 16 64'),
])
def test_bad_arguments_are_named(args, msg, capsys):
    with pytest.raises(SystemExit):
        tool.main(args)
    assert msg in capsys.readouterr().err


@pytest.mark.slow
def test_command_line(tmp_path):
    out = tmp_path / 'r.json'
    proc = run_tool(TOOL, *TINY, '--out', str(out))
    assert proc.returncode == 0, proc.stderr
    assert 'median' in proc.stdout
    assert json.loads(out.read_text())['repeat'] == 2
