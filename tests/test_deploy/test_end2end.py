"""The end-to-end ONNX graph (post-processing inside, standard ops only)
gives ``model.predict``'s detections for the seven exported methods, on
real fruits_nuts images other than the one it was traced on; and
tools/deployment/ort_run.py runs it where torch, mmcv and mmdet cannot be
imported."""
import json
import os.path as osp

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from conftest import (ROOT, TINY_CFG, fixed_size_pipeline, load_config,
                      load_script, run_tool)

C = osp.join(ROOT, 'configs')
#: method -> config; SAIS's tiny one is in the fast tier, the R50 ones run
#: at 128 px
CONFIGS = dict(
    sais=TINY_CFG,
    yolact=osp.join(ROOT, 'tests/configs/yolact_tiny_fruits_nuts.py'),
    sais_rt=f'{C}/sais/sais-rt_r50_fpn_1xb2-200i_fruits-nuts-384.py',
    yolactpp=f'{C}/yolact/yolactpp_r50-dcn_fpn_1xb2-200i_fruits-nuts-384.py',
    solov2=f'{C}/solo/solov2_r50_fpn_1xb2-200i_fruits-nuts-384.py',
    condinst=f'{C}/condinst/condinst_r50_fpn_1xb2-200i_fruits-nuts-384.py',
    blendmask=f'{C}/blendmask/blendmask_r50_fpn_1xb2-200i_fruits-nuts-384.py')
FAST = ('sais', )
#: where importing torch, mmcv, mmdet (or the zoo) fails, then a script runs
BLOCKER = '''
import importlib.abc, runpy, sys
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'mmcv', 'mmdet', 'mmengine',
                                  'projects', 'torchvision'):
            raise ImportError(name + ' is blocked in this test')
sys.meta_path.insert(0, Blocker())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def _images(fruits_nuts, n=2):
    return [osp.join(fruits_nuts, 'images', f'{i}.jpg') for i in range(n)]


def _model(name):
    from projects.apis import load_detector
    cfg = load_config(CONFIGS[name])
    if name not in ('sais', 'yolact'):  # R50 at 128 px: a ninth the work
        ds = cfg.test_dataloader.dataset
        # (YOLACT++'s re-scoring net needs prototypes of 63 px or more)
        ds.pipeline = fixed_size_pipeline(ds.pipeline,
                                          256 if name == 'yolactpp' else 128)
    return cfg, load_detector(cfg, seed=0)


def _solov2_candidates_within_nms_pre(model, *xs):
    """SOLOv2's graph equals PyTorch when at most ``nms_pre`` (cell, class)
    pairs clear ``score_thr`` (projects/solo/graph_postprocess.py); random
    weights put thousands above the config's 0.1, so the threshold goes up
    to the 400th best score of the image of ``xs`` where it is highest."""
    import torch.nn.functional as F
    thr = []
    for x in xs:
        with torch.no_grad():
            _, cls_preds, _ = model.mask_head(model.extract_feat(x))
        scores = []
        for cls in cls_preds:
            cls = cls.sigmoid()
            peak = F.max_pool2d(cls, 2, stride=1, padding=1)[:, :, :-1, :-1]
            scores.append((cls * (peak == cls)).flatten())
        thr.append(float(torch.cat(scores).topk(400).values[-1]))
    cfg = model.mask_head.test_cfg
    cfg.score_thr = max(thr)
    assert cfg.nms_pre >= 400


def _export(name: str, fruits_nuts: str, out_dir) -> dict:
    """``name``'s model and its end-to-end graph, traced on fruits_nuts
    image 0: dict of model, shape, path (the .onnx file) and traced /
    other (the batches of images 0 and 1)."""
    from projects.deploy import (dcn_layers, end2end_metadata,
                                 export_end2end, fixed_input_shape,
                                 load_batch, with_standard_dcn)
    cfg, model = _model(name)
    shape = fixed_input_shape(cfg)
    traced, other = (load_batch(model, cfg, [p], shape)
                     for p in _images(fruits_nuts))
    if name == 'solov2':
        _solov2_candidates_within_nms_pre(model, traced['inputs'],
                                          other['inputs'])
    net = with_standard_dcn(model) if dcn_layers(model) else model
    path = str(out_dir / f'{name}.onnx')
    export_end2end(net, path, traced['inputs'],
                   end2end_metadata(cfg, model, shape))
    return dict(model=model, shape=shape, path=path, traced=traced,
                other=other)


@pytest.fixture(scope='module')
def solov2_export(fruits_nuts, tmp_path_factory):
    """SOLOv2's export (:func:`_export`), made once for the two tests that
    run it: its R50 graph takes the longest to trace."""
    return _export('solov2', fruits_nuts, tmp_path_factory.mktemp('solov2'))


@pytest.mark.parametrize('name', [
    n if n in FAST else pytest.param(n, marks=pytest.mark.slow)
    for n in CONFIGS])
def test_end2end_graph_gives_the_detections_of_predict(
        name, fruits_nuts, tmp_path, request):
    from projects.deploy import end2end_instances, match_detections
    made = (request.getfixturevalue('solov2_export') if name == 'solov2'
            else _export(name, fruits_nuts, tmp_path))
    model, shape, path = made['model'], made['shape'], made['path']
    graph = onnx.load(path)
    assert {n.domain for n in graph.graph.node} <= {'', 'ai.onnx'}
    props = {p.key: json.loads(p.value) for p in graph.metadata_props}
    assert props['classes'] == ['date', 'fig', 'hazelnut']
    assert props['input_shape'] == list(shape)

    # an image the graph was not traced on: no shape or count is baked in
    x = made['other']['inputs']
    samples = [s.clone() for s in made['other']['data_samples']]
    if name == 'solov2':  # its predict ignores rescale: ask for input size
        samples[0].set_metainfo(dict(ori_shape=tuple(shape)))
    with torch.no_grad():
        ref = model.predict(x, samples, rescale=False)[0].pred_instances
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    outs = session.run(None, {'inputs': x.numpy()})
    assert [o.shape[1:] for o in outs] == [(4, ), (), (), tuple(shape)]
    got = end2end_instances(outs, props['mask_thr'])
    agree = match_detections(ref, got)
    assert agree['num_ref'] == agree['num_test'] == agree['matched'] > 0, \
        agree
    assert agree['min_box_iou'] >= 0.99 and agree['min_mask_iou'] >= 0.98
    assert agree['max_score_diff'] < 1e-4
    # sorted as predict sorts them (YOLACT++ re-scores after sorting)
    if name != 'yolactpp':
        assert np.all(np.diff(outs[1]) <= 0)


@pytest.mark.slow
def test_no_detection_is_an_empty_result(fruits_nuts, tmp_path):
    from projects.deploy import (end2end_metadata, export_end2end,
                                 load_batch)
    cfg, model = _model('sais')
    model.bbox_head.test_cfg.score_thr = 1.0  # nothing clears it
    data = load_batch(model, cfg, _images(fruits_nuts, 1), (256, 256))
    path = str(tmp_path / 'none.onnx')
    outs = export_end2end(model, path, data['inputs'],
                          end2end_metadata(cfg, model, (256, 256)))
    assert len(outs[0]) == 0
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    got = session.run(None, {'inputs': data['inputs'].numpy()})
    assert [o.shape for o in got] == [(0, 4), (0, ), (0, ), (0, 256, 256)]


@pytest.mark.slow  # runs tools/deployment/ort_run.py as a tool
def test_ort_run_needs_no_torch(fruits_nuts, tmp_path):
    from projects.deploy import (end2end_metadata, export_end2end,
                                 load_batch)
    cfg, model = _model('sais')
    image = _images(fruits_nuts, 1)[0]
    data = load_batch(model, cfg, [image], (256, 256))
    path = str(tmp_path / 'sais.onnx')
    export_end2end(model, path, data['inputs'],
                   end2end_metadata(cfg, model, (256, 256), score_thr=0.3))
    with torch.no_grad():
        ref = model.predict(data['inputs'], data['data_samples'])[0]
    ref = ref.pred_instances[ref.pred_instances.scores >= 0.3]

    script = tmp_path / 'blocked.py'
    script.write_text(BLOCKER)
    out = str(tmp_path / 'dets.json')
    r = run_tool(str(script), 'tools/deployment/ort_run.py', path, image,
                 '--out-dir', str(tmp_path / 'vis'), '--json', out,
                 fresh=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f'{image}: {len(ref)} detections scoring >= 0.3' in r.stdout
    assert osp.isfile(tmp_path / 'vis' / osp.basename(image))
    dets = json.load(open(out))
    assert len(dets) == len(ref) > 0
    # boxes at the original image size (600 x 800), as predict's
    boxes = torch.tensor([d['bbox'] for d in dets])
    assert torch.allclose(boxes, ref.bboxes, atol=1e-2)
    assert dets[0]['segmentation']['size'] == [600, 800]
    # the blocker works: importing torch there fails
    probe = tmp_path / 'probe.py'
    probe.write_text('import torch\n')
    r = run_tool(str(script), str(probe), fresh=True)
    assert r.returncode != 0 and 'torch is blocked' in r.stderr


@pytest.mark.slow  # runs tools/deployment/ort_run.py as a tool
def test_ort_run_refuses_a_network_only_graph(tmp_path):
    graph = onnx.helper.make_model(onnx.helper.make_graph(
        [onnx.helper.make_node('Identity', ['inputs'], ['y'])], 'g',
        [onnx.helper.make_tensor_value_info('inputs', 1, [1, 3, 4, 4])],
        [onnx.helper.make_tensor_value_info('y', 1, [1, 3, 4, 4])]))
    path = str(tmp_path / 'net.onnx')
    onnx.save(graph, path)
    r = run_tool('tools/deployment/ort_run.py', path, path)
    assert r.returncode != 0
    assert 'no input_shape' in r.stderr and '--end2end' in r.stderr


@pytest.mark.slow
def test_ort_run_gives_solov2_the_boxes_of_its_image_size_masks(
        solov2_export):
    """SOLOv2's boxes are the tight boxes of its masks. PyTorch takes them
    from the masks at the image size; the runner must too, rather than
    scale the graph's input-size boxes (from a 128 px input to a 600 x 800
    photo a side moves by up to 6 px)."""
    from mmengine.structures import InstanceData

    from projects.deploy import match_detections
    runner = load_script('tools/deployment/ort_run.py')
    model, path = solov2_export['model'], solov2_export['path']
    data = solov2_export['traced']
    with torch.no_grad():
        ref = model.predict(data['inputs'], data['data_samples'])[0]
    ref = ref.pred_instances
    assert ref.masks.shape[-2:] == (600, 800) and len(ref) > 0

    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    meta = runner.read_metadata(session, path)
    outs = session.run(None, {'inputs': data['inputs'].numpy()})
    dets = runner.to_image(outs, meta, (600, 800), score_thr=0.0)
    got = InstanceData(**{k: torch.from_numpy(np.asarray(v)) for k, v in
                          dict(bboxes=dets['boxes'], scores=dets['scores'],
                               labels=dets['labels'],
                               masks=dets['masks']).items()})
    agree = match_detections(ref, got)
    assert agree['num_ref'] == agree['num_test'] == agree['matched'], agree
    assert agree['min_mask_iou'] >= 0.98, agree
    # every PyTorch box has a runner box within 1 px on all four sides
    # (the masks agree; scaling the input-size boxes moves sides by 3-6 px)
    off = (ref.bboxes[:, None] - got.bboxes[None]).abs().amax(-1).amin(1)
    assert float(off.max()) <= 1.0, off.max()
