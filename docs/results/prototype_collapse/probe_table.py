"""Print the tables of README.md from the committed scalars.

    python docs/results/prototype_collapse/probe_table.py          # probes
    python docs/results/prototype_collapse/probe_table.py --runs   # 200 it.
"""
import glob
import json
import os.path as osp
import sys

HERE = osp.dirname(osp.abspath(__file__))
KEYS = ('loss_cls', 'loss_mask', 'proto_active', 'proto_alive')


def rows(path):
    with open(path) as f:
        return {r['iter']: r for r in map(json.loads, f) if 'iter' in r
                and 'loss_mask' in r}


def runs():
    print('| run | peak lr | loss_mask (200) | proto_alive (200) | box AP | '
          'mask AP |')
    print('| --- ' * 6 + '|')
    for path in sorted(glob.glob(osp.join(HERE, 'runs', '*.json'))):
        with open(path) as f:
            records = [json.loads(line) for line in f]
        train = {r['iter']: r for r in records if 'loss_mask' in r}
        last = train[max(train)]
        val = [r for r in records if 'coco/segm_mAP' in r][-1]
        peak = max(r['lr'] for r in train.values())
        print(f"| {osp.basename(path)[:-5]} | {peak:.4g} | "
              f"{last['loss_mask']:.3f} | {last['proto_alive']:.0f} | "
              f"{100 * val['coco/bbox_mAP']:.1f} | "
              f"{100 * val['coco/segm_mAP']:.1f} |")


def main():
    if '--runs' in sys.argv:
        return runs()
    print('| probe | iteration | lr | grad norm | ' + ' | '.join(KEYS) + ' |')
    print('| --- ' * (4 + len(KEYS)) + '|')
    for path in sorted(glob.glob(osp.join(HERE, 'probes', '*.json'))):
        name = osp.basename(path)[:-5]
        data = rows(path)
        for it in (1, 10, 20, 30, 40):
            if it not in data:
                continue
            r = data[it]
            cells = [f"{r[k]:.3f}" if k != 'proto_alive' else
                     f"{r[k]:.0f}" for k in KEYS]
            print(f"| {name} | {it} | {r['lr']:.4g} | {r['grad_norm']:.0f} "
                  f"| " + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
