"""tools/analysis/show_prototypes.py and
projects/visualization/prototype_figure.py:
the prototypes, coefficients, masks and BlendMask blends of freshly built
tiny models (saved and reloaded through the safe loader) on a real
fruits_nuts photo, checked against sums computed here."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import (ROOT, TINY_CFG, fixed_size_pipeline, load_script,
                      run_tool)
from projects.visualization import (NoPrototypesError, build_figure, extract,
                                    figure_panels, load_image, load_model,
                                    prototype_kind, save_png)

YOLACT_CFG = osp.join(ROOT, 'tests', 'configs', 'yolact_tiny_fruits_nuts.py')
BLENDMASK_CFG = osp.join(ROOT, 'configs', 'blendmask',
                         'blendmask_r50_fpn_1xb2-200i_fruits-nuts-384.py')
SOLO_CFG = osp.join(ROOT, 'configs', 'solo',
                    'solo_r50_fpn_1xb2-200i_fruits-nuts-384.py')
CONDINST_CFG = osp.join(ROOT, 'configs', 'condinst',
                        'condinst_r50_fpn_1xb2-200i_fruits-nuts-384.py')
TOP_K = 3


def _tiny_blendmask() -> Config:
    """BlendMask on ResNet-18, 32-channel FPN and heads, 256x256 input:
    the tiny SAIS's size; K = 4 bases, 14x14 attentions, 56x56 blends."""
    cfg = Config.fromfile(BLENDMASK_CFG)
    gn = dict(type='GN', num_groups=8, requires_grad=True)
    cfg.merge_from_dict({
        'model.backbone': dict(depth=18, init_cfg=None),
        'model.neck': dict(in_channels=[64, 128, 256, 512], out_channels=32),
        'model.bbox_head': dict(in_channels=32, feat_channels=32,
                                stacked_convs=1, norm_cfg=gn),
        'model.mask_head': dict(in_channels=32, feat_channels=16,
                                num_convs=1),
    })
    cfg.test_dataloader.dataset.pipeline = fixed_size_pipeline(
        cfg.test_dataloader.dataset.pipeline, 256)
    return cfg


def _config(name: str) -> Config:
    """The tiny config of ``name``, every detection kept (score_thr 0)."""
    if name == 'blendmask':
        cfg = _tiny_blendmask()
    else:
        cfg = Config.fromfile({'sais': TINY_CFG, 'yolact': YOLACT_CFG}[name])
    cfg.model.test_cfg.score_thr = 0.0
    return cfg


def _save(cfg: Config, path: str) -> str:
    """A seeded random model of ``cfg`` saved as the runner saves one.

    An untrained FCOS-style head (SAIS, BlendMask) regresses distances near
    0, boxes under one prototype pixel; its box regression bias is set to
    2 so that every location predicts a box of 4 strides around itself,
    several prototype pixels wide, and the crop can be checked.
    """
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if cfg.model.bbox_head.type in ('SAISHead', 'BlendMaskBboxHead'):
        torch.nn.init.constant_(model.bbox_head.conv_reg.bias, 2.0)
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=2)), path)
    return path


@pytest.fixture(scope='module')
def extracted(tmp_path_factory, fruits_nuts):
    """``get(name)``: (cfg, model, batch, data, image, checkpoint) of a
    seeded tiny model of ``name``, saved and loaded by ``load_model``, on
    val photo 11.jpg (800x600, resized to 256x256), top 3; built once."""
    cache = {}

    def get(name):
        if name not in cache:
            cfg = _config(name)
            ckpt = _save(cfg, str(tmp_path_factory.mktemp(name) / 'm.pth'))
            model = load_model(cfg, ckpt)
            batch, image = load_image(
                cfg, model, osp.join(fruits_nuts, 'images', '11.jpg'))
            data = extract(model, batch, top_k=TOP_K)
            cache[name] = cfg, model, batch, data, image, ckpt
        return cache[name]

    return get


def _outside_and_inside(boxes, stride, h, w, pad):
    """Per detection, the map pixels wholly more than ``pad`` pixels
    outside its box and those wholly inside, (N, h, w) bool each."""
    b = boxes / stride
    xs, ys = torch.arange(w, dtype=b.dtype), torch.arange(h, dtype=b.dtype)

    def axis(pos, lo, hi):
        out = (pos[None] + 1 <= lo[:, None] - pad) | (
            pos[None] >= hi[:, None] + pad)
        inside = (pos[None] >= lo[:, None]) & (pos[None] + 1 <= hi[:, None])
        return out, inside

    out_x, in_x = axis(xs, b[:, 0], b[:, 2])
    out_y, in_y = axis(ys, b[:, 1], b[:, 3])
    outside = out_y[:, :, None] | out_x[:, None, :]
    inside = in_y[:, :, None] & in_x[:, None, :]
    return outside, inside


ALL = ['sais', 'yolact', 'blendmask']


@pytest.mark.parametrize('name', ALL)
def test_detections_are_the_detectors_best(extracted, name):
    """The explicit head calls give the detector's own top detections."""
    _, model, batch, data, image, _ = extracted(name)
    assert image.shape == (256, 256, 3)
    n = len(data.boxes)
    assert 0 < n <= TOP_K
    assert data.boxes.shape == (n, 4) and data.labels.shape == (n,)
    with torch.no_grad():
        pred = model.predict(batch['inputs'], batch['data_samples'],
                             rescale=False)[0].pred_instances
    best = pred[pred.scores.argsort(descending=True)[:TOP_K]]
    torch.testing.assert_close(data.scores, best.scores)
    torch.testing.assert_close(data.boxes, best.bboxes)


@pytest.mark.parametrize('name', ['sais', 'yolact'])
def test_linear_combination_and_crop(extracted, name):
    """sigmoid(P c) equals the sum computed here; the cropped mask is 0
    outside each box (mmdet's YOLACT pads its crop by one prototype pixel,
    SAIS keeps the pixels whose centre is inside) and unchanged inside."""
    cfg, model, _, data, _, _ = extracted(name)
    assert data.kind == 'prototypes'
    k, h, w = data.maps.shape
    n = len(data.boxes)
    assert k == cfg.model.mask_head.num_protos == 8
    assert (h, w) == (64, 64) and data.stride == 4
    assert (data.maps >= 0).all()  # ReLU prototypes
    assert data.coeffs.shape == (n, k)
    expected = torch.sigmoid(
        (data.maps[None] * data.coeffs[:, :, None, None]).sum(1))
    assert data.lincomb.shape == data.cropped.shape == (n, h, w)
    torch.testing.assert_close(data.lincomb, expected, atol=1e-5, rtol=1e-5)
    outside, inside = _outside_and_inside(data.boxes, data.stride, h, w, 1)
    assert outside.any() and inside.any()  # both checks below can fail
    assert (data.cropped[outside] == 0).all()
    torch.testing.assert_close(data.cropped[inside], data.lincomb[inside])
    if name == 'yolact':  # the prototypes came through a removed hook
        assert not model.mask_head.protonet._forward_hooks


def test_blendmask_blend(extracted):
    """Attention weights sum to 1 over the K bases; the blended mask is
    sigmoid(sum_k crop_k * attention_k) of the bases cropped to the box."""
    _, model, _, data, _, _ = extracted('blendmask')
    assert data.kind == 'bases'
    n = len(data.boxes)
    assert data.maps.shape == (4, 64, 64) and data.stride == 4
    assert data.attns.shape == (n, 4, 56, 56)
    torch.testing.assert_close(data.attns.sum(1), torch.ones(n, 56, 56))
    crops = model.mask_head.blender.crop(data.maps[None], [data.boxes])
    expected = torch.sigmoid((crops * data.attns).sum(1))
    assert data.blended.shape == (n, 56, 56)
    torch.testing.assert_close(data.blended, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('name', ALL)
def test_figure_has_one_panel_per_map_and_detection(extracted, name,
                                                    tmp_path):
    _, _, _, data, image, _ = extracted(name)
    fig = build_figure(data, image, ('date', 'fig', 'hazelnut'), name)
    k, n = data.maps.shape[0], len(data.boxes)
    per_det = 4 if data.kind == 'prototypes' else k + 2
    assert len(fig.axes) == figure_panels(data) == 1 + k + per_det * n
    if name == 'sais':
        out = tmp_path / 'p.png'
        save_png(fig, str(out))
        assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_checkpoint_of_another_config_is_refused(extracted):
    ckpt = extracted('sais')[-1]
    with pytest.raises(ValueError, match='does not fit .*yolact'):
        load_model(_config('yolact'), ckpt)


@pytest.mark.parametrize('path, method, head', [
    (SOLO_CFG, 'SOLO', 'ZooSOLOHead'),
    (CONDINST_CFG, 'CondInst', 'ZooCondInstMaskHead'),
])
def test_method_without_prototypes_is_named(path, method, head):
    cfg = Config.fromfile(path)
    msg = f'{method} has no prototypes or bases: config {path}, head type ' \
        f'{head}'
    with pytest.raises(NoPrototypesError, match=msg):
        prototype_kind(cfg, path)
    # checked before the checkpoint is opened
    with pytest.raises(NoPrototypesError, match=msg):
        load_model(cfg, '/nonexistent.pth')


@pytest.mark.parametrize('name', ['sais', 'blendmask'])
def test_no_detection_draws_the_maps_only(extracted, name):
    _, model, batch, _, image, _ = extracted(name)
    data = extract(model, batch, top_k=TOP_K, score_thr=1.0)
    k = data.maps.shape[0]
    assert len(data.boxes) == 0 and data.scores.shape == (0,)
    masks = data.cropped if name == 'sais' else data.blended
    assert masks.shape[0] == 0
    assert len(build_figure(data, image).axes) == figure_panels(data) == 1 + k


@pytest.mark.slow
def test_tool_main_writes_png_and_stops_early(extracted, tmp_path,
                                              fruits_nuts):
    """The tool in-process: a PNG from the tiny SAIS; clear errors for a
    missing checkpoint and for SOLO; the default output path."""
    tool = load_script('tools/analysis/show_prototypes.py')
    ckpt = extracted('sais')[-1]
    image = osp.join(fruits_nuts, 'images', '11.jpg')
    out = tmp_path / 'figs' / 'sais.png'
    assert tool.main([TINY_CFG, ckpt, image, '--out', str(out), '--top',
                      '2']) == str(out)
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    with pytest.raises(SystemExit, match="error: checkpoint '/no.pth' not"):
        tool.main([TINY_CFG, '/no.pth', image])
    with pytest.raises(SystemExit, match=f'error: SOLO has no prototypes or '
                       f'bases: config {SOLO_CFG}, head type ZooSOLOHead'):
        tool.main([SOLO_CFG, ckpt, image])
    assert tool.default_out(Config(), 'a/x_y.py', 'b/11.jpg') == osp.join(
        'work_dirs', 'x_y', 'prototypes_11.png')


@pytest.mark.slow
def test_tool_runs_as_a_script(tmp_path, fruits_nuts):
    ckpt = _save(Config.fromfile(TINY_CFG), str(tmp_path / 'sais.pth'))
    out = tmp_path / 'sais.png'
    proc = run_tool('tools/analysis/show_prototypes.py', TINY_CFG, ckpt,
                    osp.join(fruits_nuts, 'images', '11.jpg'), '--out',
                    str(out), '--top', '2', '--score-thr', '0')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '8 prototypes of (64, 64) (stride 4 px), 2 detections' in \
        proc.stdout
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
