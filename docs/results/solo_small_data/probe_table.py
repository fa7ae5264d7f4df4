"""Print README.md's probe table from the committed scalars.

    python docs/results/solo_small_data/probe_table.py

Each value is MMEngine's 10-iteration running mean at that iteration.
"""
import glob
import json
import os.path as osp

HERE = osp.dirname(osp.abspath(__file__))
ITERS = (1, 20, 40)


def main():
    print('| probe | loss_mask it. 1 / 20 / 40 | loss_cls it. 1 / 20 / 40 |')
    print('| --- | --- | --- |')
    for path in sorted(glob.glob(osp.join(HERE, 'probes', '*.json'))):
        with open(path) as f:
            rows = {r['iter']: r for r in map(json.loads, f) if 'iter' in r}
        mask = ' / '.join(f"{rows[i]['loss_mask']:.4f}" for i in ITERS)
        cls = ' / '.join(f"{rows[i]['loss_cls']:.3f}" for i in ITERS)
        print(f'| {osp.basename(path)[:-5]} | {mask} | {cls} |')


if __name__ == '__main__':
    main()
