"""Method names and paper figures from metafiles: by Config path, else by
the Collection's Architecture types, else the head or model type; clear
errors naming the malformed file; every config of the repository maps to
a metafile's method."""
import glob
import os.path as osp

import pytest
from benchmark_helpers import write_metafiles
from conftest import ROOT

from projects.apis import MetafileError, MethodIndex, method_of
from projects.apis.metafiles import default_root, registered_types
from projects.benchmark.models import backbone_name
from projects.benchmark.protocol import TABLE_ORDER, metafile_methods

SAIS_CFG = 'configs/sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py'


def _yolact(protonet: str, head: str = 'ZooYOLACTHead') -> dict:
    return dict(type='YOLACT', backbone=dict(type='ResNet'),
                bbox_head=dict(type=head,
                               anchor_generator=dict(type='AnchorGenerator')),
                mask_head=dict(type=protonet))


@pytest.fixture
def index(tmp_path):
    return MethodIndex(write_metafiles(tmp_path))


def test_method_by_config_path(index, tmp_path):
    """The Model's Config wins over the model's types; the path may be
    un-normalised or absolute."""
    other = _yolact('ZooYOLACTProtonet')
    for path in (SAIS_CFG, './configs/sais/../sais/' + osp.basename(SAIS_CFG),
                 str(tmp_path / SAIS_CFG)):
        assert index.method_of(path, other) == 'SAIS', path
    assert index.method_of('configs/yolact/yolactpp_r50_fruits-nuts.py',
                           {}) == 'YOLACT++'


def test_method_by_architecture(index):
    """All of a Collection's types must occur in the model; the one with
    the most types wins (YOLACT++ over YOLACT); types nest anywhere and
    may carry a registry scope."""
    assert index.method_of('elsewhere.py',
                           _yolact('YOLACTPlusPlusProtonet')) == 'YOLACT++'
    assert index.method_of(None, _yolact('ZooYOLACTProtonet')) == 'YOLACT'
    assert index.method_of(None, _yolact('ZooYOLACTProtonet',
                                         'SSSHead')) == 'SSS'
    sais = dict(type='SingleStageInstanceSegmentor',
                bbox_head=dict(type='mmdet.SAISHead'),
                mask_head=[dict(type='Wrapper', inner=dict(
                    type='SAISMaskHead'))])
    assert index.method_of(None, sais) == 'SAIS'
    assert registered_types(sais) == {
        'SingleStageInstanceSegmentor', 'SAISHead', 'Wrapper',
        'SAISMaskHead'}
    # one of SAIS's two types is not enough
    assert index.lookup(None, dict(bbox_head=dict(type='SAISHead'))) is None


def test_fallback_without_a_match_or_metafiles(index, tmp_path):
    assert index.method_of(None, _yolact('P', head='MyHead')) == 'MyHead'
    assert index.method_of(None, dict(type='YOLOMask')) == 'YOLOMask'
    empty = MethodIndex(str(tmp_path / 'nowhere'))
    assert empty.files == [] and empty.collections == {}
    assert empty.method_of(SAIS_CFG, _yolact('YOLACTPlusPlusProtonet')) == \
        'ZooYOLACTHead'
    assert method_of(SAIS_CFG, dict(type='X'),
                     root=str(tmp_path / 'nowhere')) == 'X'


def test_paper_figures(tmp_path):
    """The first Model with ``Reported In`` and the key; a Model's figure
    without ``Reported In`` (YOLACT's 9.9) is no paper figure."""
    index = MethodIndex(write_metafiles(tmp_path, sais_gb=2.0))
    key = 'Training Memory (GB)'
    assert index.paper_figure('SAIS', key) == (2.0, 'SAIS paper, Table IV')
    assert index.paper_figure('YOLACT', key) == (3.8, 'SAIS paper, Table IV')
    assert index.paper_figure('YOLACT++', key) is None
    assert index.paper_figure('SAIS', 'mask AP') is None
    assert index.paper_figure('nothing', key) is None
    assert index.collections['SAIS'].paper['URL'].startswith('https://')


def test_malformed_metafiles_are_named(tmp_path):
    configs = write_metafiles(tmp_path)
    bad = tmp_path / 'configs' / 'solo' / 'metafile.yml'
    bad.parent.mkdir()
    bad.write_text('Collections:\n  - Name: SOLO\n    Metadata: [unclosed\n')
    with pytest.raises(MetafileError, match=r'solo/metafile.yml: malformed'):
        MethodIndex(configs)
    bad.write_text('Collections:\n  - Name: SOLO\nModels:\n'
                   '  - Name: solo_r50\n    In Collection: SOLOv3\n')
    with pytest.raises(MetafileError,
                       match=r"solo/metafile.yml: Model 'solo_r50': In "
                       r"Collection 'SOLOv3'"):
        MethodIndex(configs)
    bad.write_text('Collections:\n  - Name: SAIS\n')
    with pytest.raises(MetafileError, match=r"Collection 'SAIS' is also in"):
        MethodIndex(configs)
    bad.write_text('- just a list\n')
    with pytest.raises(MetafileError, match='solo/metafile.yml: needs a'):
        MethodIndex(configs)


def test_default_root_is_the_repository_configs():
    assert default_root() == osp.join(ROOT, 'configs')
    assert MethodIndex().repo_root == ROOT


def _repo_configs() -> list:
    configs = osp.join(ROOT, 'configs')
    return sorted(
        p for p in glob.glob(osp.join(configs, '**', '*.py'), recursive=True)
        if '_base_' not in osp.relpath(p, configs).split(osp.sep))


@pytest.fixture(scope='module')
def repo_index():
    """The repository's own metafiles."""
    return MethodIndex()


@pytest.mark.parametrize(
    'config', _repo_configs(),
    ids=lambda p: osp.relpath(p, osp.join(ROOT, 'configs')))
def test_every_config_names_a_known_method(config, repo_index):
    """Each config maps to a Collection of a metafile (by its Config entry
    or, loading it, by Architecture), one of its own folder's metafile when
    it has one."""
    from mmengine.config import Config
    index = repo_index
    if not index.files:
        pytest.skip('no configs/*/metafile.yml in the repository yet: '
                    'method names fall back to head types')
    method = index.lookup(config)  # by path: no need to load the config
    if method is None:
        model = Config.fromfile(config).model
        method = index.lookup(config, model)
        assert method in index.collections, (
            f'{config}: no metafile Model has it as Config, and no '
            'Collection Architecture is among its types '
            f'{sorted(registered_types(model))}')
    own = osp.join(osp.dirname(config), 'metafile.yml')
    if osp.isfile(own):
        assert index.collections[method].file == own


def test_backbone_names():
    assert backbone_name(dict(type='ResNet', depth=50)) == 'R-50'
    assert backbone_name(dict(type='ResNet', depth=101,
                              dcn=dict(type='DCNv2'))) == 'R-101-DCN'
    assert backbone_name(dict(type='ResNetDCNInterval', depth=50)) == \
        'R-50-DCN'
    assert backbone_name(dict(type='ResNeXt', depth=101, groups=64,
                              base_width=4)) == 'X-101-64x4d'
    assert backbone_name(dict(type='Darknet', depth=53)) == 'D-53'
    assert backbone_name(dict(type='SwinTransformer')) == 'SwinTransformer'


def _protocol_metafile(configs, body: str) -> None:
    (configs / 'new').mkdir(parents=True, exist_ok=True)
    (configs / 'new' / 'metafile.yml').write_text(
        'Collections:\n  - Name: New\nModels:\n'
        '  - Name: new_feral\n    In Collection: New\n'
        '    Config: configs/new/new_feral.py\n' + body)


def test_protocol_rows_come_from_the_metafiles(tmp_path):
    """A method joins the protocol through its own metafile: the rows are
    the Models with a Protocol field, in the given order, then the rest;
    the repository's rows are Table IV's, SAIS's with prototypes and
    FCOS's without masks."""
    configs = tmp_path / 'configs'
    write_metafiles(tmp_path)
    _protocol_metafile(configs, '    Protocol: {Key: new, Prototypes: true}\n')
    methods = metafile_methods((), {'new': (0, 1)}, MethodIndex(str(configs)))
    assert [(m.key, m.config, m.seeds, m.prototypes, m.masks)
            for m in methods] == [
        ('new', 'configs/new/new_feral.py', (0, 1), True, True)]
    with pytest.raises(KeyError, match=r"\['sais'\] are declared by no"):
        metafile_methods(('sais', 'new'), None, MethodIndex(str(configs)))
    repo = metafile_methods(TABLE_ORDER)
    assert [m.key for m in repo] == list(TABLE_ORDER)
    by_key = {m.key: m for m in repo}
    assert by_key['sais'].prototypes and not by_key['solov2'].prototypes
    assert not by_key['fcos'].masks and by_key['mask_rcnn'].masks
    assert all(osp.isfile(osp.join(ROOT, m.config)) for m in repo)


@pytest.mark.parametrize('body, match', [
    ('    Protocol: sais\n', ' must be a mapping with a Key'),
    ('    Protocol: {Key: new, Seeds: [0]}\n', r'Seeds: \[0\]; fields: Key'),
    ('    Protocol: {Key: new, Masks: 0}\n', 'Masks: 0; fields'),
])
def test_malformed_protocol_field_names_the_file(tmp_path, body, match):
    _protocol_metafile(tmp_path / 'configs', body)
    with pytest.raises(MetafileError,
                       match=r"new/metafile.yml: Model 'new_feral': "
                       r'Protocol.*' + match):
        MethodIndex(str(tmp_path / 'configs'))


@pytest.mark.parametrize('claim, match', [
    ('{Metric: speed, Above: x, Source: s}', 'each needs Metric'),
    ('{Metric: mask AP, Above: x, Below: y, Source: s}', 'one of Above'),
    ('{Metric: mask AP, Above: x}', 'and Source'),
])
def test_malformed_claim_names_the_file(tmp_path, claim, match):
    _protocol_metafile(tmp_path / 'configs',
                       f'    Protocol: {{Key: new, Claims: [{claim}]}}\n')
    with pytest.raises(MetafileError, match=r"new/metafile.yml: Model "
                       r"'new_feral': Protocol: Claims: .*" + match):
        MethodIndex(str(tmp_path / 'configs'))


def test_claim_about_an_undeclared_row_names_the_file(tmp_path):
    configs = tmp_path / 'configs'
    _protocol_metafile(configs, '    Protocol: {Key: new, Claims: [{Metric: '
                       'mask AP, Above: yolact, Source: s}]}\n')
    with pytest.raises(MetafileError, match="new/metafile.yml: Model "
                       "'new_feral': a Claim compares with 'yolact', which "
                       "is no other Protocol Key"):
        MethodIndex(str(configs)).protocol_rows()


def test_repository_claims_cite_a_source_and_name_protocol_rows():
    """The source documents' claims the converged report checks: SAIS
    above YOLACT in mask AP and below it in training memory (SAIS paper,
    Table IV), CondInst, BlendMask and YOLACT++ above YOLACT, SOLOv2 above
    SOLO, each RT variant faster than its base."""
    methods = {m.key: m for m in metafile_methods(TABLE_ORDER)}
    got = {(k, c.metric, c.relation, c.other)
           for k, m in methods.items() for c in m.claims}
    assert {('sais', 'mask AP', 'Above', 'yolact'),
            ('sais', 'train memory', 'Below', 'yolact'),
            ('condinst', 'mask AP', 'Above', 'yolact'),
            ('blendmask', 'mask AP', 'Above', 'yolact'),
            ('solov2', 'mask AP', 'Above', 'solo'),
            ('sais_rt', 'ms/img', 'Below', 'sais'),
            ('blendmask_rt', 'ms/img', 'Below', 'blendmask'),
            ('condinst_rt', 'ms/img', 'Below', 'condinst')} <= got
    assert 'Table IV' in next(c.source for c in methods['sais'].claims)


def test_protocol_key_declared_twice(tmp_path):
    configs = tmp_path / 'configs'
    _protocol_metafile(configs, '    Protocol: {Key: new}\n'
                       '  - Name: new_again\n    In Collection: New\n'
                       '    Config: configs/new/b.py\n'
                       '    Protocol: {Key: new}\n')
    with pytest.raises(MetafileError, match="Key 'new' is also declared by "
                       "'new_feral'"):
        MethodIndex(str(configs)).protocol_rows()
