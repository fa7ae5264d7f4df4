"""tools/analysis/benchmark_yolact.py runs on the installed package."""
import os.path as osp
import re

import pytest

from conftest import ROOT, run_tool

# every test here runs a tool in a subprocess: the slow tier
pytestmark = pytest.mark.slow

TOOL = osp.join(ROOT, 'tools', 'analysis', 'benchmark_yolact.py')
# conftest's run_tool puts the repository on PYTHONPATH; the tool must not
# need it (``projects`` is an installed package), so these runs clear it.
INSTALLED = dict(PYTHONPATH='')


def test_nms_part_from_another_directory(tmp_path):
    """Part 1 (NMS) from outside the repository: every NMS type of the zoo
    gets a row for both cases. Times are not checked (benchmarks belong
    to the tool, not to the tests)."""
    proc = run_tool(TOOL, '--skip-model', '--runs', '1', cwd=str(tmp_path),
                    env=INSTALLED, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from projects.layers.nms import NMS_TYPES
    methods = {}
    for m in re.finditer(r'^\s*80 x (\d+)\s+(\S.*?)\s+[\d.]+\s+[\d.]+x ',
                         proc.stdout, re.M):
        methods.setdefault(int(m.group(1)), set()).add(m.group(2))
    want = set(NMS_TYPES) | {'nms (per-class loop)'}
    assert methods == {200: want, 1000: want}, proc.stdout


def test_missing_config_is_named(tmp_path):
    proc = run_tool(TOOL, '--config', 'nowhere/yolact.py', cwd=str(tmp_path),
                    env=INSTALLED, timeout=300)
    assert proc.returncode != 0
    assert "--config 'nowhere/yolact.py': no such file" in proc.stderr
