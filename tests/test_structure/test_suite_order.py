"""Under ``make test`` (pytest-xdist, ``--dist loadfile``) the files with
slow tests are handed out first, as tests/conftest.py asks, so that no long
file starts last while the other worker sits idle. pytest-xdist 3.5+
re-sorts whole files by their number of tests unless the project's pytest
options say ``--no-loadscope-reorder``; this runs a small suite through a
real xdist session with the repository's setup.cfg and conftest hook."""
import os.path as osp
import subprocess
import sys

import pytest

from conftest import ROOT

#: three fast tests in one file, one slow test in another: pytest-xdist's
#: own order (most tests first) would run the fast file first
FAST_FILE = '''
import pytest

@pytest.mark.parametrize('i', range(3))
def test_fast(i, record):
    record('fast')
'''
SLOW_FILE = '''
import pytest

@pytest.mark.slow
def test_slow(record):
    record('slow')
'''
CONFTEST = f'''
import importlib.util
import pytest

_spec = importlib.util.spec_from_file_location(
    'zoo_conftest', {osp.join(ROOT, 'tests', 'conftest.py')!r})
_zoo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_zoo)
pytest_collection_modifyitems = _zoo.pytest_collection_modifyitems


@pytest.fixture
def record(request):
    def write(name):
        with open(request.config.rootpath / 'order.txt', 'a') as f:
            f.write(name + '\\n')
    return write
'''


@pytest.mark.slow  # starts a pytest session with an xdist worker
def test_xdist_runs_the_files_with_slow_tests_first(tmp_path):
    pytest.importorskip('xdist')
    (tmp_path / 'setup.cfg').write_text(
        open(osp.join(ROOT, 'setup.cfg'), encoding='utf-8').read())
    (tmp_path / 'conftest.py').write_text(CONFTEST)
    (tmp_path / 'test_a_fast.py').write_text(FAST_FILE)
    (tmp_path / 'test_b_slow.py').write_text(SLOW_FILE)
    r = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-n', '1', '--dist',
         'loadfile', '-p', 'no:cacheprovider', '--rootdir', str(tmp_path),
         str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    order = (tmp_path / 'order.txt').read_text().split()
    assert order == ['slow', 'fast', 'fast', 'fast'], order
