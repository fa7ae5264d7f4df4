"""tools/deployment/export_onnx.py and onnx_infer.py on the tiny SAIS
(random weights) and a real fruits_nuts image, and their early errors."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, TINY_CFG, load_script

YOLACTPP_CFG = osp.join(
    ROOT, 'configs/yolact/yolactpp_r50-dcn_fpn_1xb2-200i_fruits-nuts-384.py')


@pytest.fixture(scope='module')
def tools():
    return (load_script('tools/deployment/export_onnx.py'),
            load_script('tools/deployment/onnx_infer.py'))


def test_missing_files_are_named(tools, tmp_path):
    export, infer = tools
    with pytest.raises(SystemExit, match="checkpoint '.*nope.pth' not found"):
        export.main([TINY_CFG, str(tmp_path / 'nope.pth'), '--out',
                     str(tmp_path / 'm.onnx')])
    with pytest.raises(SystemExit, match="ONNX model '.*m.onnx' not found"):
        infer.main([TINY_CFG, str(tmp_path / 'm.onnx'), TINY_CFG])


def test_int8_full_range_without_int8_is_refused(tools, tmp_path, capsys):
    export, _ = tools
    with pytest.raises(SystemExit) as e:
        export.main([TINY_CFG, str(tmp_path / 'nope.pth'), '--out',
                     str(tmp_path / 'm.onnx'), '--int8-full-range'])
    assert e.value.code == 2
    assert '--int8-full-range needs --int8' in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        export.main([TINY_CFG, str(tmp_path / 'nope.pth'), '--out',
                     str(tmp_path / 'm.onnx'), '--keep-calib-outliers'])
    assert e.value.code == 2
    assert '--keep-calib-outliers needs --int8' in capsys.readouterr().err


def test_agreement_line_says_when_nothing_matched(tools):
    """Detections that match nothing report no IoU: match_detections'
    1.0 for an empty match is no agreement (an int8 graph that lost every
    detection once printed 'box IoU min 1.0000, mask IoU min 1.0000')."""
    from mmengine.structures import InstanceData

    from projects.deploy import match_detections
    export, _ = tools

    def dets(box):
        masks = torch.zeros(1, 32, 32, dtype=torch.bool)
        masks[0, box[1]:box[3], box[0]:box[2]] = True
        return InstanceData(bboxes=torch.tensor([box], dtype=torch.float),
                            scores=torch.tensor([0.9]),
                            labels=torch.tensor([0]), masks=masks)

    apart = match_detections(dets([0, 0, 8, 8]), dets([20, 20, 30, 30]))
    assert export.agreement_line('int8 vs fp32', apart) == (
        'int8 vs fp32: 1 vs 1 detections, 0 matched')
    same = match_detections(dets([0, 0, 8, 8]), dets([0, 0, 8, 8]))
    assert export.agreement_line('int8 vs fp32', same) == (
        'int8 vs fp32: 1 vs 1 detections, 1 matched, box IoU min 1.0000, '
        'mask IoU min 1.0000 mean 1.0000, max score diff 0.00e+00')


@pytest.mark.slow
def test_export_then_infer(tools, tmp_path, fruits_nuts, monkeypatch,
                           capsys):
    from projects.apis import load_detector
    from projects.deploy import OrtDetector
    export, infer = tools
    monkeypatch.chdir(ROOT)  # the config's data_root is relative
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'tiny.pth')
    model = load_detector(Config.fromfile(TINY_CFG))
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    onnx_path = str(tmp_path / 'tiny.onnx')

    result = export.main([TINY_CFG, ckpt, '--out', onnx_path])
    out = capsys.readouterr().out
    assert 'input (1, 3, 256, 256) from data/fruits_nuts/images/' in out
    assert 'bbox_head.cls_scores.0' in out and 'mask_head.prototypes' in out
    agree = result['agreement']
    assert agree['num_ref'] == agree['num_test'] == agree['matched'] == 20
    assert agree['min_mask_iou'] >= 0.98
    assert result['max_abs_diff'] < 1e-3 and result['size_mib'] > 1

    # --int8: a calibration image whose fp32 outputs run away is left out
    # (the tiny random model has none on real photos: one is declared)
    from projects.deploy import quantize
    real = quantize.calibration_outliers

    def second_runs_away(path, batches, *args, **kwargs):
        assert real(path, batches) == []
        return [quantize.CalibrationOutlier(1, 'mask_head.prototypes', 250.)]

    monkeypatch.setattr(quantize, 'calibration_outliers', second_runs_away)
    result = export.main([TINY_CFG, ckpt, '--out', onnx_path, '--int8',
                          osp.join(fruits_nuts, 'images'), '--calib-images',
                          '3', '--eval-images', '1', '--score-thr', '0'])
    out = capsys.readouterr().out
    result = result['int8']
    [left] = result['calib_left_out']
    assert (f'int8 calibration: left out {left}: the fp32 output '
            'mask_head.prototypes reaches 250x its median over the 3 '
            'images') in out
    assert 'calibrated on 2 images' in out
    assert osp.isfile(result['int8_path']) and result['matched'] > 0

    image = osp.join(fruits_nuts, 'images', '11.jpg')
    samples = infer.main([TINY_CFG, onnx_path, image, '--out-dir',
                          str(tmp_path / 'vis'), '--score-thr', '0'])
    out = capsys.readouterr().out
    assert f'{image}: 20 detections with score >= 0.0' in out
    assert osp.isfile(tmp_path / 'vis' / '11.jpg')
    pred = samples[0].pred_instances
    assert pred.masks.shape[1:] == (600, 800)  # the original image size

    # YOLACT++ re-scores in post-processing: its weights are needed
    with pytest.raises(SystemExit, match='mask_head.maskiou_net run in '
                       'post-processing.*--checkpoint'):
        infer.main([YOLACTPP_CFG, onnx_path, image])
    yolactpp = load_detector(Config.fromfile(YOLACTPP_CFG))
    with pytest.raises(ValueError, match='export it from this config'):
        OrtDetector(yolactpp, onnx_path)
