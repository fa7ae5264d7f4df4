"""Every committed benchmark run re-renders from its JSON, with the method
names the metafiles give its configs, to the committed report."""
import glob
import json
import os.path as osp

import pytest

from conftest import ROOT
from projects.apis.metafiles import MethodIndex
from projects.benchmark.render import MARKDOWN, render, rename_methods

RUNS = sorted(glob.glob(osp.join(ROOT, 'docs', 'results', '*',
                                 'benchmark.json')))


@pytest.mark.parametrize('run', RUNS, ids=lambda p: osp.basename(
    osp.dirname(p)))
def test_report_re_renders_with_metafile_names(run, tmp_path):
    with open(run) as f:
        data = json.load(f)
    index = MethodIndex(osp.join(ROOT, 'configs'))
    for row in data['rows']:  # every config is a listed model of a method
        assert index.lookup(row['config']) is not None, row['config']
        row['method'] = 'stale name'
    rename_methods(data['rows'], index)
    md, ratios, _ = render(data, str(tmp_path), index)
    with open(osp.join(osp.dirname(run), MARKDOWN)) as f:
        assert md == f.read()
    assert 'stale name' not in md
    if data['settings'].get('skip_train'):  # an inference-only run
        assert ratios == []  # no memory headline without training
        return
    assert ratios  # the SAIS / YOLACT memory headline, papers' figures
    assert {tuple(r['methods']) for r in ratios} == {('SAIS', 'YOLACT')}
