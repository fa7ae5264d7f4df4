"""README.md, docs/ and configs/ speak to users: no internal issue
numbers, and no ``../shared`` paths, which a user's clone does not have
(data is named by its ``data/<name>`` link and SOURCE.md)."""
import os
import os.path as osp
import re

import pytest

from conftest import ROOT

PATTERNS = {'issue number': re.compile(r'\bissue [0-9]', re.I),
            '../shared path': re.compile(r'\.\./shared')}


def user_files():
    yield osp.join(ROOT, 'README.md')
    for top in ('docs', 'configs'):
        for folder, _, names in os.walk(osp.join(ROOT, top)):
            for name in names:
                if name.endswith(('.md', '.py', '.yml', '.yaml', '.txt')):
                    yield osp.join(folder, name)


@pytest.mark.parametrize('kind', sorted(PATTERNS))
def test_no_internal_references_in_user_docs(kind):
    found = []
    for path in user_files():
        with open(path, encoding='utf-8') as f:
            for no, line in enumerate(f, 1):
                if PATTERNS[kind].search(line):
                    found.append(f'{osp.relpath(path, ROOT)}:{no}: '
                                 f'{line.strip()[:80]}')
    assert not found, f'{kind} in user docs:\n' + '\n'.join(found)
