"""Compare resolved configs key by key.

    python tools/misc/compare_configs.py A.py B.py
    python tools/misc/compare_configs.py --renames docs/configs.md \
        --before-root /tmp/old-checkout/configs [--after-root configs]

The first form prints every key whose value differs between two configs
after inheritance (``Config.fromfile(...).to_dict()``). The second reads the
``| old | new |`` rows of the renames table in ``docs/configs.md`` and
compares each old config of a checkout of the earlier revision (``git
worktree add /tmp/old-checkout REV``) with its new name; it prints the
differences and the count of identical pairs. Exit status 1 when a config is
missing or fails to load.
"""
import argparse
import os.path as osp
import re
import sys
from typing import Any, Iterator, List, Tuple

from mmengine.config import Config


def diff(a: Any, b: Any, path: str = '') -> Iterator[str]:
    """Dotted paths (``.model.backbone.depth``, ``[2]`` for list items)
    where ``a`` and ``b`` differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a:
                yield f'{path}.{k}: only in the second: {b[k]!r}'
            elif k not in b:
                yield f'{path}.{k}: only in the first: {a[k]!r}'
            else:
                yield from diff(a[k], b[k], f'{path}.{k}')
    elif isinstance(a, (list, tuple)) and isinstance(
            b, (list, tuple)) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from diff(x, y, f'{path}[{i}]')
    elif a != b:
        yield f'{path}: {a!r} -> {b!r}'


def resolved(path: str) -> dict:
    """The config at ``path`` after inheritance, as plain dicts.

    Raises:
        FileNotFoundError: no such config.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such config')
    return Config.fromfile(path, import_custom_modules=False).to_dict()


def renames(table: str) -> List[Tuple[str, str]]:
    """(old, new) paths relative to configs/ from the Markdown rows
    ``| `old.py` | `new/path.py` |`` of ``table``."""
    with open(table) as f:
        rows = re.findall(r'^\| `([\w.-]+\.py)` \| `([\w./-]+\.py)`', f.read(),
                          re.M)
    if not rows:
        raise ValueError(f'{table}: no "| `old.py` | `new.py` |" rows')
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('configs', nargs='*', metavar='CONFIG')
    p.add_argument('--renames', help='Markdown file with the renames table')
    p.add_argument('--before-root', help='configs/ of the old revision')
    p.add_argument('--after-root', default='configs')
    args = p.parse_args(argv)
    if args.renames:
        if not args.before_root:
            p.error('--renames needs --before-root')
        pairs = [(osp.join(args.before_root, o), osp.join(args.after_root, n))
                 for o, n in renames(args.renames)]
    elif len(args.configs) == 2:
        pairs = [tuple(args.configs)]
    else:
        p.error('give two configs, or --renames with --before-root')
    same, failed = 0, 0
    for old, new in pairs:
        try:
            lines = list(diff(resolved(old), resolved(new)))
        except Exception as e:  # noqa: BLE001  (report and go on)
            print(f'== {old} -> {new}: {type(e).__name__}: {e}')
            failed += 1
            continue
        if lines:
            print(f'== {old} -> {new}')
            print('\n'.join('   ' + ln for ln in lines))
        else:
            same += 1
    print(f'{same} of {len(pairs)} identical, {len(pairs) - same - failed} '
          f'differ, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
