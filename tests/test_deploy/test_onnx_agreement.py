"""ONNX export of every exported method (random weights, the fruits_nuts
configs) run by onnxruntime gives the PyTorch detections on a real image;
the split network / post-processing gives exactly ``model.predict``."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, model_inputs, real_dataset
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from projects.deploy import (OrtDetector, export_onnx, match_detections,
                             network_forward, postprocess)
from projects.deploy.dcn import dcn_layers, with_standard_dcn
from projects.deploy.export import CustomOpError

SIZE = 256  # fixed export size (pixels): small, and >= 252 for YOLACT++
CONFIGS = {
    'sais': 'sais/sais_r50_fpn_1xb2-200i_fruits-nuts-384.py',
    'yolact': 'yolact/yolact_r50_fpn_1xb2-200i_fruits-nuts-384.py',
    'yolactpp': 'yolact/yolactpp_r50-dcn_fpn_1xb2-200i_fruits-nuts-384.py',
    'blendmask': 'blendmask/blendmask_r50_fpn_1xb2-200i_fruits-nuts-384.py',
    'condinst': 'condinst/condinst_r50_fpn_1xb2-200i_fruits-nuts-384.py',
    'solov2': 'solo/solov2_r50_fpn_1xb2-200i_fruits-nuts-384.py',
}


def _model_and_batch(key: str, size: int = SIZE):
    """An untrained model of ``key`` that keeps its 20 best candidates
    whatever their score, and one real validation image at size x size."""
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, 'configs', CONFIGS[key]))
    cfg.model.backbone.init_cfg = None
    test_cfg = cfg.model.test_cfg
    test_cfg.update(score_thr=0.0, max_per_img=20, nms_pre=100)
    if 'top_k' in test_cfg:
        test_cfg.top_k = 50
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    ds = real_dataset(cfg, 'val_dataloader', size)
    return model, model_inputs(model, [ds[0]], False)


@pytest.mark.parametrize('key', ['yolact', 'condinst'])
def test_postprocess_of_network_forward_is_model_predict(key):
    """The two methods whose mask head's forward is split for export."""
    model, data = _model_and_batch(key, size=160)
    x, samples = data['inputs'], data['data_samples']
    with torch.no_grad():
        ref = model.predict(x, copy.deepcopy(samples))[0].pred_instances
        outs = network_forward(model, x)
        got = postprocess(model, outs, copy.deepcopy(samples))
    got = got[0].pred_instances
    assert all(isinstance(o, torch.Tensor) for o in outs)
    assert len(ref) == 20 and ref.masks.any()
    assert set(got.keys()) == set(ref.keys())
    for key in ref.keys():
        assert torch.equal(got[key], ref[key]), key


@pytest.mark.slow
@pytest.mark.parametrize('key', list(CONFIGS))
def test_onnxruntime_matches_pytorch(key, tmp_path):
    model, data = _model_and_batch(key)
    x, samples = data['inputs'], data['data_samples']
    path = str(tmp_path / f'{key}.onnx')
    if key == 'yolactpp':
        assert dcn_layers(model)
        with pytest.raises(CustomOpError, match='MMCVModulatedDeformConv2d'):
            export_onnx(model, path, x)
        export_onnx(with_standard_dcn(model), path, x)
        with torch.no_grad():  # the reference runs mmcv's DCN
            outs = network_forward(model, x)
    else:
        outs = export_onnx(model, path, x)
    with torch.no_grad():
        ref = postprocess(model, outs,
                          copy.deepcopy(samples))[0].pred_instances
    ort = OrtDetector(model, path, num_threads=torch.get_num_threads())
    got = ort.predict(x, copy.deepcopy(samples))[0].pred_instances

    assert len(ref) == 20 and ref.masks.any(), 'nothing to compare'
    agree = match_detections(ref, got)
    assert agree['num_test'] == agree['num_ref'] == agree['matched'], agree
    assert agree['min_box_iou'] >= 0.99, agree
    assert agree['min_mask_iou'] >= 0.98, agree
