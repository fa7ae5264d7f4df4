"""README.md, docs/ and configs/ speak to users: no internal issue
numbers, and no ``../shared`` paths, which a user's clone does not have
(data is named by its ``data/<name>`` link and SOURCE.md)."""
import os
import os.path as osp
import re

import pytest

from conftest import ROOT

PATTERNS = {'issue number': re.compile(r'\bissue\s+[0-9]', re.I),
            "the issue's": re.compile(r"\bthe\s+issue's", re.I),
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
            text = f.read()
        for match in PATTERNS[kind].finditer(text):  # across line breaks
            no = text.count('\n', 0, match.start()) + 1
            found.append(f'{osp.relpath(path, ROOT)}:{no}: '
                         f'{" ".join(match.group().split())}')
    assert not found, f'{kind} in user docs:\n' + '\n'.join(found)
