"""Issue 4, SOLO family: the zoo's heads train as mmdet's, post-process to
mmdet's result where mmdet's fits in memory, and do it in bounded memory.

Heads are shrunk (64 channels, 2 stacked convs) to keep the tests short; the
post-processing does not depend on their width.
"""
import contextlib
import copy
import os.path as osp
import textwrap

import pytest
import torch
from mmengine.config import Config, ConfigDict

from conftest import ROOT, model_inputs, real_dataset, run_tool
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import mask2bbox
from mmdet.utils import register_all_modules
from projects.solo import grid_postprocess

# zoo head -> (mmdet head, its model base)
# zoo head -> (mmdet's head, model base, algorithm in the config names)
HEADS = {
    'ZooSOLOHead': ('SOLOHead', 'solo_r50_fpn.py', 'solo'),
    'ZooDecoupledSOLOHead': ('DecoupledSOLOHead',
                             'decoupled_solo_r50_fpn.py', 'decoupled-solo'),
    'ZooDecoupledSOLOLightHead': ('DecoupledSOLOLightHead',
                                  'decoupled_solo_light_r50_fpn.py',
                                  'decoupled-solo-light'),
    'ZooSOLOV2Head': ('SOLOV2Head', 'solov2_r50_fpn.py', 'solov2'),
}
FRUITS_NUTS = 'solo/{}_r50_fpn_1xb2-200i_fruits-nuts-384.py'
SIZE = 256


def _model_cfg(base: str) -> Config:
    register_all_modules()
    return Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'models',
                                    base)).model


def _small_head_cfg(zoo: str, num_classes: int = 5) -> ConfigDict:
    """The config's head, 64 channels wide, with the model's test_cfg."""
    model = _model_cfg(HEADS[zoo][1])
    head = copy.deepcopy(model.mask_head)
    head.update(num_classes=num_classes, in_channels=64, stacked_convs=2,
                feat_channels=64, test_cfg=copy.deepcopy(model.test_cfg))
    if 'mask_feature_head' in head:
        head.mask_feature_head.update(feat_channels=32, out_channels=64)
    return head


def _feats(seed=0):
    torch.manual_seed(seed)
    return tuple(
        torch.randn(1, 64, SIZE // 4 // 2**i, SIZE // 4 // 2**i)
        for i in range(5))


def _meta():
    return DetDataSample(metainfo=dict(
        img_shape=(SIZE, SIZE - 32), ori_shape=(300, 280),
        batch_input_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE)))


def _awake(head):
    """Scores and masks that clear mmdet's thresholds: with mmdet's init
    (bias -4.6) no untrained mask reaches mask_thr."""
    head.init_weights()
    torch.manual_seed(1)
    with torch.no_grad():
        for p in head.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        head.conv_cls.bias.fill_(0.5)
        for name, mod in head.named_modules():
            if 'conv_mask_list' in name and isinstance(mod, torch.nn.Conv2d):
                mod.bias.fill_(0.)
    return head.eval()


@contextlib.contextmanager
def _outputs_of(head):
    """A list that receives what ``head``'s forward returns while in the
    context (predict runs the forward once: its outputs are those of a
    separate ``head(feats)`` call, without running it again)."""
    outs = []
    handle = head.register_forward_hook(lambda m, a, out: outs.append(out))
    try:
        yield outs
    finally:
        handle.remove()
    assert len(outs) == 1, len(outs)


@pytest.mark.parametrize('zoo', sorted(HEADS))
def test_same_result_as_mmdet(zoo):
    """Scores, labels and masks equal mmdet's on the same weights, with
    nms_pre (40) well under the candidates, so the cap decides."""
    register_all_modules()
    cfg = _small_head_cfg(zoo)
    cfg.test_cfg.nms_pre = 40
    ours = _awake(MODELS.build(cfg))
    ref = MODELS.build(dict(cfg, type=HEADS[zoo][0]))
    ref.load_state_dict(ours.state_dict())
    ref.eval()
    feats = _feats()
    with torch.no_grad(), _outputs_of(ours) as outs:
        got = ours.predict(feats, [_meta()])[0]
        want = ref.predict(feats, [_meta()])[0]
    cls = outs[0][-2 if zoo == 'ZooSOLOV2Head' else -1]
    candidates = sum(int((c > cfg.test_cfg.score_thr).sum()) for c in cls)
    assert candidates > 3 * cfg.test_cfg.nms_pre
    assert len(want) > 0
    assert torch.equal(got.labels, want.labels)
    assert torch.allclose(got.scores, want.scores, rtol=0, atol=1e-6)
    assert torch.equal(got.masks, want.masks.bool())
    assert got.masks.shape[1:] == (300, 280)
    # boxes: the tight boxes of the masks (mmdet's are all zero)
    assert torch.equal(got.bboxes, mask2bbox(got.masks))
    assert not want.bboxes.any()


def test_masks_gathered_are_capped(monkeypatch):
    """80 classes, every cell above score_thr: mmdet would gather one mask
    per (cell, class) pair; grid_predict builds at most CELL_CHUNK masks
    per call and keeps at most nms_pre."""
    register_all_modules()
    head = _awake(MODELS.build(_small_head_cfg('ZooSOLOHead', 80)))
    sizes = []
    real = grid_postprocess._gather_masks

    def spy(cells, cell_masks):
        def counted(c):
            sizes.append(len(c))
            return cell_masks(c)
        out = real(cells, counted)
        sizes.append(-len(out))  # gathered for Matrix NMS
        return out

    monkeypatch.setattr(grid_postprocess, '_gather_masks', spy)
    with torch.no_grad(), _outputs_of(head) as outs:
        res = head.predict(_feats(), [_meta()])[0]
    cls = outs[0][1]
    pairs = sum(int((c > head.test_cfg.score_thr).sum()) for c in cls)
    gathered = -min(sizes)
    assert pairs > 20 * head.test_cfg.nms_pre  # what mmdet would gather
    assert gathered <= head.test_cfg.nms_pre
    assert max(sizes) <= grid_postprocess.CELL_CHUNK
    assert 0 < len(res) <= head.test_cfg.max_per_img


# Run with ``python -c`` in a fresh process (peak RSS is per process). It
# imports only installed packages: the head to measure comes as its config
# and weights, saved by the test.
MEMORY_PROGRAM = textwrap.dedent('''
    import sys, torch
    from mmengine.config import ConfigDict
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmdet.utils import register_all_modules
    import projects  # noqa: F401  (registers the zoo's heads)
    from projects.benchmark.train_probe import peak_rss_mib
    register_all_modules()
    saved = torch.load(sys.argv[1], weights_only=True)
    head = MODELS.build(ConfigDict(saved['cfg']))
    head.load_state_dict(saved['state_dict'])
    head.eval()
    torch.manual_seed(0)
    size = 384
    feats = tuple(torch.randn(1, 64, size // 4 // 2**i, size // 4 // 2**i)
                  for i in range(5))
    meta = DetDataSample(metainfo=dict(
        img_shape=(size, size), ori_shape=(600, 800),
        batch_input_shape=(size, size), pad_shape=(size, size)))
    with torch.no_grad():
        masks, cls = head(feats)
        pairs = sum(int((c > head.test_cfg.score_thr).sum()) for c in cls)
        before = peak_rss_mib()
        res = head.predict_by_feat(masks, cls, [meta.metainfo])[0]
    peak = peak_rss_mib()
    h, w = masks[0].shape[-2:]
    print(pairs, h * w, before, peak, len(res))
''')


@pytest.mark.slow
def test_post_processing_memory_is_bounded(tmp_path):
    """80 classes at 384x384: mmdet's gather alone would need
    pairs x 96 x 96 x 5 bytes (float masks plus bool masks); the zoo's
    post-processing adds less than 600 MiB to the process's peak RSS."""
    register_all_modules()
    cfg = _small_head_cfg('ZooSOLOHead', 80)
    torch.manual_seed(0)
    head = _awake(MODELS.build(cfg))
    saved = tmp_path / 'head.pt'
    torch.save(dict(cfg=cfg.to_dict(), state_dict=head.state_dict()), saved)
    # from another directory and without the repository on PYTHONPATH:
    # the program imports only the installed packages
    proc = run_tool('-c', MEMORY_PROGRAM, str(saved), cwd=str(tmp_path),
                    env=dict(PYTHONPATH=''), timeout=300,
                    fresh=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pairs, hw, before, peak, kept = map(float, proc.stdout.split()[-5:])
    mmdet_gather_mib = pairs * hw * 5 / 2**20
    # VmHWM: ru_maxrss would start at the size of this pytest process and
    # could hide the growth
    added_mib = peak - before
    assert mmdet_gather_mib > 2000, mmdet_gather_mib
    assert added_mib < 600, added_mib
    assert 0 < kept <= 100 and before > 100


@pytest.mark.parametrize('zoo', sorted(HEADS))
def test_zero_detections_are_well_formed(zoo):
    register_all_modules()
    cfg = _small_head_cfg(zoo)
    cfg.test_cfg.score_thr = 1.1
    head = _awake(MODELS.build(cfg))
    with torch.no_grad():
        res = head.predict(_feats(), [_meta()])[0]
    assert len(res) == 0
    assert res.masks.shape == (0, 300, 280) and res.masks.dtype == torch.bool
    assert res.labels.dtype == torch.long and res.bboxes.shape == (0, 4)
    assert res.scores.shape == (0, )


@pytest.mark.parametrize('key,value', [('num_grids', [40, 36, 24, 16]),
                                       ('strides', [8, 8, 16, 32]),
                                       ('num_grids', [40, 36, 24, 16, 0])])
def test_bad_grid_is_named(key, value):
    register_all_modules()
    cfg = _small_head_cfg('ZooSOLOHead')
    cfg[key] = value
    with pytest.raises(ValueError, match=key):
        MODELS.build(cfg)


def test_grid_from_config():
    """num_grids, scale ranges and pos_scale as in the paper; a config can
    set another grid, and the head's output follows it."""
    register_all_modules()
    head_cfg = _model_cfg('solo_r50_fpn.py').mask_head
    assert head_cfg.num_grids == [40, 36, 24, 16, 12]
    assert head_cfg.pos_scale == 0.2
    assert head_cfg.scale_ranges == ((1, 96), (48, 192), (96, 384),
                                     (192, 768), (384, 2048))
    for zoo in HEADS:
        cfg = _small_head_cfg(zoo)
        assert cfg.num_grids == [40, 36, 24, 16, 12] and cfg.pos_scale == 0.2
        cfg.num_grids = [20, 18, 12, 8, 6]
        head = MODELS.build(cfg).eval()
        with torch.no_grad():
            out = head(_feats())
        cls = out[-2] if zoo == 'ZooSOLOV2Head' else out[-1]
        assert [c.shape[-1] for c in cls] == [20, 18, 12, 8, 6]


# --- training on real images ------------------------------------------------

def _small_model(zoo):
    """The fruits_nuts config's detector with a ResNet-18, 64-channel FPN
    and the small head (no pretrained weights)."""
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', FRUITS_NUTS.format(HEADS[zoo][2])))
    cfg.model.backbone.update(depth=18, init_cfg=None)
    cfg.model.neck.update(in_channels=[64, 128, 256, 512], out_channels=64)
    head = _small_head_cfg(zoo, num_classes=3)
    head.pop('test_cfg')
    cfg.model.mask_head = head
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model.train()


@pytest.fixture(scope='module')
def batches(fruits_nuts):
    """Two real fruits_nuts training samples at SIZE, and one of them with
    its annotations removed (an image without GT)."""
    register_all_modules()
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', FRUITS_NUTS.format('solo')))
    ds = real_dataset(cfg, 'train_dataloader', SIZE, filter_cfg=None)
    full = ds[0]
    empty = copy.deepcopy(ds[1])
    empty['data_samples'].gt_instances = \
        empty['data_samples'].gt_instances[:0]
    return dict(full=full, empty=empty)


@pytest.mark.parametrize('zoo', sorted(HEADS))
def test_training_with_an_image_without_gt(zoo, batches):
    """mmdet issue 9159 (SOLOv2 crashed on an image without GT) was fixed
    upstream before 3.3 (PR 9192); this keeps it fixed for every zoo head,
    alone and in a batch, with finite losses and gradients."""
    _, model = _small_model(zoo)
    assert len(batches['empty']['data_samples'].gt_instances) == 0
    for batch, has_pos in (([batches['empty']], False),
                           ([batches['full'], batches['empty']], True)):
        data = model_inputs(model, batch, True)
        losses = model(**data, mode='loss')
        for name, value in losses.items():
            assert torch.isfinite(value), f'{name} = {value}'
        assert (float(losses['loss_mask'].detach()) > 0) == has_pos
        model.zero_grad()
        sum(losses.values()).backward()
        grads = [p.grad for p in model.mask_head.parameters()
                 if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
        assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.mark.slow
def test_benchmark_tool_compares_with_mmdet(tmp_path):
    """tools/analysis/benchmark_solo.py on a real image at 128x128: one row
    per head, the zoo's result equal to mmdet's. Run from another directory
    and without the repository on PYTHONPATH: the tool and its worker
    (``tools/analysis/solo_benchmark_worker.py``) use the installed
    package."""
    proc = run_tool(osp.join(ROOT, 'tools/analysis/benchmark_solo.py'),
                    '--sizes', '128', '--heads', 'SOLOHead', 'ZooSOLOHead',
                    '--mem-cap-gib', '8', cwd=str(tmp_path),
                    env=dict(PYTHONPATH=''), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line.split('|')[1:-1] for line in proc.stdout.splitlines()
            if line.startswith('| ') and 'SOLOHead |' in line]
    assert [r[0].strip() for r in rows] == ['SOLOHead', 'ZooSOLOHead'], \
        proc.stdout
    for r in rows:
        assert int(r[2]) > 1000  # candidates: PyTorch's default init
        assert float(r[6]) > 0 and float(r[7]) > 0  # post s, peak MiB
    assert rows[1][8].strip() == 'yes'


@pytest.mark.slow
def test_benchmark_tool_reports_capped_run_as_failed(tmp_path):
    """Under a 1 GiB address-space cap the worker cannot even build the
    model (torch and mmdet alone map more): the tool prints that run's row
    with the error and still exits normally."""
    proc = run_tool(osp.join(ROOT, 'tools/analysis/benchmark_solo.py'),
                    '--sizes', '128', '--heads', 'ZooSOLOHead',
                    '--mem-cap-gib', '1', cwd=str(tmp_path),
                    env=dict(PYTHONPATH=''), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line.split('|')[1:-1] for line in proc.stdout.splitlines()
            if line.startswith('| ZooSOLOHead |')]
    assert len(rows) == 1, proc.stdout
    assert rows[0][6].strip().startswith('failed:'), rows[0]
    assert 'Error' in rows[0][6], rows[0]
