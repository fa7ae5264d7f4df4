"""Whether a test reproduced the committed run of its config: the mask and
box AP a ``tools/test.py`` run measured beside those of the run the
config's metafile Model names (``Metadata: {Run: <scalars.json>}``, the
committed MMEngine scalars of that run, whose last line holds its COCO
metrics). `make main` ends with it.

    python tools/misc/reproduced.py CONFIG TEST_METRICS_JSON [--tol 2.0]

Prints one line per metric and ``reproduced: yes`` when every difference
is at most ``--tol`` AP points (default 2.0: on fruits_nuts' 4 validation
photos with 38 instances, one instance more or less found moves AP by
about that), else ``reproduced: no``. Exit status 0 either way (a
difference is a finding, not a failure of the tool); 2 when the config has
no committed run or a file is missing.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

METRICS = (('mask AP', 'coco/segm_mAP'), ('box AP', 'coco/bbox_mAP'))


def committed_run(config: str) -> str:
    """The ``Run`` record the config's metafile Model names.

    Raises:
        SystemExit: no Model has the config, or it names no Run.
    """
    from projects.apis.metafiles import MethodIndex
    index = MethodIndex(osp.join(ROOT, 'configs'), ROOT)
    want = index.normalise(osp.abspath(config))
    for model in index.models:
        if model.config == want and model.metadata.get('Run'):
            return osp.join(ROOT, model.metadata['Run'])
    print(f'error: {config}: no metafile Model with a committed Run',
          file=sys.stderr)
    sys.exit(2)


def run_metrics(path: str) -> Dict[str, float]:
    """The COCO metrics of a scalars.json: its last line with them."""
    found = {}
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            if 'coco/segm_mAP' in record:
                found = record
    return found


def main(argv: Optional[List[str]] = None) -> bool:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('metrics', help="tools/test.py's test_metrics.json")
    parser.add_argument('--tol', type=float, default=2.0,
                        help='AP points (default 2.0)')
    args = parser.parse_args(argv)
    run = committed_run(args.config)
    for path in (run, args.metrics):
        if not osp.isfile(path):
            print(f'error: {path}: no such file', file=sys.stderr)
            sys.exit(2)
    ref = run_metrics(run)
    with open(args.metrics) as f:
        got = json.load(f)['metrics']
    off = []
    print(f'[main] committed run: {osp.relpath(run, ROOT)}')
    for name, key in METRICS:
        measured, committed = float(got[key]) * 100, float(ref[key]) * 100
        diff = measured - committed
        if abs(diff) > args.tol:
            off.append(f'{name} {diff:+.1f}')
        print(f'[main] {name}: measured {measured:.1f}, committed '
              f'{committed:.1f} ({diff:+.1f})')
    if off:
        print(f'[main] reproduced: no ({", ".join(off)}: more than the '
              f'{args.tol:g} AP points allowed)')
    else:
        print(f'[main] reproduced: yes (within {args.tol:g} AP points)')
    return not off


if __name__ == '__main__':
    main()
