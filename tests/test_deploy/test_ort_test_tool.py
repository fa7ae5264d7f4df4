"""tools/test.py --onnx: the tiny SAIS (seeded random weights) exported at
its 256x256 test size and evaluated on the 4 real fruits_nuts val photos by
the same runner, dataloader, post-processing and metric as in PyTorch."""
import json
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config
from pycocotools import mask as mask_util

from conftest import ROOT, TINY_CFG, load_script


@pytest.fixture(scope='module')
def tool():
    return load_script('tools/test.py')


def test_onnx_refuses_bf16_and_channels_last(tool, capsys):
    for extra in (['--precision', 'bf16'], ['--channels-last']):
        with pytest.raises(SystemExit):
            tool.parse_args(['c.py', 'x.pth', '--onnx', 'm.onnx', *extra])
        err = capsys.readouterr().err
        assert '--onnx runs the network in onnxruntime' in err
    assert tool.parse_args(['c.py', 'x.pth', '--onnx', 'm.onnx']).onnx == \
        'm.onnx'


def _test_run(tool, tmp_path, name, ckpt, *extra):
    """Run tools/test.py in-process; return (test_metrics.json, the
    predictions dumped by --out)."""
    out = str(tmp_path / f'{name}.pkl')
    tool.main([TINY_CFG, ckpt, '--eval', 'bbox', 'segm', '--work-dir',
               str(tmp_path / name), '--out', out, *extra])
    [path] = (tmp_path / name).glob('*/test_metrics.json')
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    return json.loads(path.read_text()), preds


@pytest.mark.slow
def test_onnx_gives_the_pytorch_ap(tool, tmp_path, fruits_nuts,
                                   monkeypatch):
    from projects.apis import load_detector
    from projects.deploy import export_onnx, fixed_input_shape, load_batch
    monkeypatch.chdir(ROOT)  # the config's data_root is relative
    cfg = Config.fromfile(TINY_CFG)
    model = load_detector(cfg, seed=0)
    ckpt = str(tmp_path / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    onnx_path = str(tmp_path / 'tiny.onnx')
    data = load_batch(model, cfg, [f'{fruits_nuts}/images/11.jpg'],
                      fixed_input_shape(cfg))
    export_onnx(model, onnx_path, data['inputs'])

    torch_rec, torch_preds = _test_run(tool, tmp_path, 'torch', ckpt)
    ort_rec, ort_preds = _test_run(tool, tmp_path, 'ort', ckpt, '--onnx',
                                   onnx_path)
    assert torch_rec['onnx'] is None and ort_rec['onnx'] == onnx_path
    for key in ('coco/segm_mAP', 'coco/bbox_mAP', 'coco/segm_mAP_50'):
        assert ort_rec['metrics'][key] == pytest.approx(
            torch_rec['metrics'][key], abs=1e-3), key
    assert len(torch_preds) == len(ort_preds) == 4  # the val photos
    # random weights score 0 AP on both paths; the detections themselves
    # are compared too: scores, and each PyTorch mask's best ONNX match
    score_diffs, num_masks = [], 0
    for ref_sample, test_sample in zip(torch_preds, ort_preds):
        assert ref_sample['img_path'] == test_sample['img_path']
        ref = ref_sample['pred_instances']
        test = test_sample['pred_instances']
        assert test['masks'][0]['size'] == list(
            ref_sample['ori_shape'])  # pasted at the original size
        a, b = np.sort(ref['scores'].numpy()), np.sort(test['scores'].numpy())
        assert len(a) == len(b) == 20  # the tiny config's max_per_img
        score_diffs.append(np.abs(a - b).max())
        # (pycocotools gives two empty masks IoU 0: non-empty ones only)
        full = mask_util.area(ref['masks']) > 0
        iou = mask_util.iou(test['masks'], ref['masks'], [0] * 20)
        assert (iou.max(0)[full] >= 0.95).all()
        num_masks += int(full.sum())
    assert num_masks > 0
    # onnxruntime ran (its float rounding differs), and agrees closely
    assert 0 < max(score_diffs) < 1e-3
