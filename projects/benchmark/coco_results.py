"""Box and mask AP from the ``test_metrics.json`` files tools/test.py
writes (and the ``run.json`` records of tools/protocol.py's runs, whose
final validation is the same CocoMetric on the same split), matched to
benchmark rows by config (and checkpoint).

No AP is typed by hand: the benchmark's AP columns come only from here.
"""
import glob
import json
import os.path as osp
import warnings
from typing import Dict, List, Optional

AP_KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl')
_COCO_SUFFIX = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


def config_stem(path: str) -> str:
    """``configs/sais_r50.py`` -> ``sais_r50``."""
    return osp.splitext(osp.basename(str(path)))[0]


def find_test_metrics(paths: List[str]) -> List[dict]:
    """Every ``test_metrics.json`` (and protocol ``run.json``) under the
    given work dirs (or the files themselves), oldest first.

    Args:
        paths (list[str]): work dirs (searched recursively) or files.
            A protocol's ``runs`` folder gives one record per finished run
            (``config``, ``checkpoint`` and ``metrics`` of its last
            validation).

    Returns:
        list[dict]: records ``{config, checkpoint, metrics, path}``.

    Raises:
        FileNotFoundError: a path does not exist (named in the message).
    """
    files = []
    for p in paths:
        if osp.isfile(p):
            files.append(p)
        elif osp.isdir(p):
            for name in ('test_metrics.json', 'run.json'):
                files += glob.glob(osp.join(p, '**', name), recursive=True)
        else:
            raise FileNotFoundError(
                f'--ap-from {p}: no such work dir or test_metrics.json')
    records = []
    for f in sorted(set(files), key=lambda f: (osp.getmtime(f), f)):
        try:
            with open(f) as fh:
                rec = json.load(fh)
            if not isinstance(rec.get('metrics'), dict) or 'config' not in rec:
                raise ValueError('needs "config" and a "metrics" object')
        except (OSError, ValueError, AttributeError) as e:
            warnings.warn(f'{f}: not a tools/test.py test_metrics.json '
                          f'or protocol run.json, skipped ({e})')
            continue
        rec['path'] = f
        records.append(rec)
    return records


def coco_ap(metrics: dict, kind: str) -> Optional[Dict[str, float]]:
    """AP, AP50, ... (percent) of ``kind`` ('segm' or 'bbox') from a
    CocoMetric result, or None when that kind was not evaluated.

    mmdet's CocoMetric returns ``{}`` when no image has a detection ("results
    empty"); COCO's AP is 0 then, so an empty ``metrics`` gives zeros.
    COCO's -1 (no GT object of that size) stays -1.
    """
    if not metrics:
        return {k: 0.0 for k in AP_KEYS}
    prefix = f'coco/{kind}_'
    if prefix + 'mAP' not in metrics:
        return None
    return {k: (100 * float(metrics[prefix + s])
                if float(metrics[prefix + s]) >= 0 else -1.0)
            for k, s in zip(AP_KEYS, _COCO_SUFFIX) if prefix + s in metrics}


def match_record(config: str, checkpoint: Optional[str],
                 records: List[dict],
                 precision: str = 'fp32',
                 fuse_conv_bn: bool = False) -> Optional[dict]:
    """The newest record of ``config`` (by file name stem) tested in
    ``precision`` (tools/test.py ``--precision``; records without the key
    are fp32) with the PyTorch network (records of ``--onnx`` runs are the
    ONNX Runtime path's, left out), with BatchNorm folded or not as
    ``fuse_conv_bn`` (``--fuse-conv-bn``; records without the key are not
    folded); among them the newest of ``checkpoint`` when one of them names
    it.

    Returns:
        dict | None: ``{path, checkpoint, segm, bbox, no_detections,
        same_checkpoint}``; ``same_checkpoint`` is False when the record
        tested another checkpoint than the benchmarked one (None: no
        checkpoint benchmarked).
    """
    mine = [r for r in records if config_stem(r['config']) ==
            config_stem(config) and r.get('precision', 'fp32') == precision
            and bool(r.get('fuse_conv_bn')) == fuse_conv_bn
            and not r.get('onnx')]
    same_checkpoint = None
    if checkpoint:
        same = [r for r in mine if osp.realpath(str(r.get('checkpoint')))
                == osp.realpath(checkpoint)]
        same_checkpoint = bool(same)
        mine = same or mine
    if not mine:
        return None
    rec = mine[-1]
    return dict(path=rec['path'], checkpoint=rec.get('checkpoint'),
                segm=coco_ap(rec['metrics'], 'segm'),
                bbox=coco_ap(rec['metrics'], 'bbox'),
                no_detections=(not rec['metrics'] or rec['metrics'].get(
                    'coco/num_detections') == 0),
                same_checkpoint=same_checkpoint)
