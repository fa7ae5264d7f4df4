"""README's "Layout" tree against the repository: every folder it names
exists, every package under ``projects/``, every folder under ``configs/``,
``tools/`` and ``tests/`` is named, and every script under ``tools/`` is
named by its file name."""
import os
import os.path as osp
import re
from typing import Dict, List

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NAME_COLUMN = 21  # descriptions start here; names sit left of it
IGNORED = {'__pycache__'}


def layout_block(readme: str) -> List[str]:
    """The lines of the fenced block under '## Layout'."""
    section = readme.split('\n## Layout', 1)[1]
    block = section.split('```', 2)[1]
    return [line for line in block.splitlines()[1:] if line.strip()]


def named_folders(lines: List[str]) -> Dict[str, List[str]]:
    """Top folder -> the folders named under it: the leading ``name/``
    tokens of a line indented by 2 (a line indented to the description
    column continues a description); top folders are listed under ''."""
    tree: Dict[str, List[str]] = {'': []}
    top = ''
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if indent >= NAME_COLUMN:
            continue  # a description's continuation
        names = []
        for token in line.split():
            if not token.endswith('/'):
                break
            names.append(token)
        if not line.startswith(' '):
            top = names[0].rstrip('/')
            tree[''].append(top)
            tree.setdefault(top, [])
        else:
            tree[top].extend(n.rstrip('/') for n in names)
    return tree


def subfolders(path: str) -> List[str]:
    return sorted(d for d in os.listdir(path)
                  if osp.isdir(osp.join(path, d)) and d not in IGNORED
                  and not d.startswith('.'))


def test_layout_matches_the_tree():
    with open(osp.join(ROOT, 'README.md')) as f:
        lines = layout_block(f.read())
    text = '\n'.join(lines)
    tree = named_folders(lines)
    assert {'configs', 'projects', 'tools', 'tests', 'docs'} <= \
        set(tree[''])
    for top, names in tree.items():
        for name in names:
            path = osp.join(ROOT, top, name)
            assert osp.isdir(path) or (top == '' and name == 'work_dirs'), \
                f'README layout names {top}/{name}/, which does not exist'
    for top in ('configs', 'projects', 'tools', 'tests'):
        missing = set(subfolders(osp.join(ROOT, top))) - set(tree[top])
        assert not missing, f'README layout lacks {top}/: {sorted(missing)}'
    scripts = [f for _, _, files in os.walk(osp.join(ROOT, 'tools'))
               for f in files if f.endswith(('.py', '.sh'))]
    missing = sorted(f for f in scripts
                     if not re.search(rf'\b{re.escape(f)}\b', text))
    assert not missing, f'README layout does not name tools/ {missing}'


def test_checker_sees_a_missing_and_a_stale_folder():
    lines = ['projects/            floors',
             '  layers/            shared',
             '  core/              gone',
             '                     core/ in a description is not a name']
    tree = named_folders(lines)
    assert tree == {'': ['projects'], 'projects': ['layers', 'core']}
    assert 'core' not in subfolders(osp.join(ROOT, 'projects'))
    assert set(subfolders(osp.join(ROOT, 'projects'))) - \
        set(tree['projects'])  # the rest of the packages are missing
