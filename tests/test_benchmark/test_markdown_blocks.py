"""projects/benchmark/markdown_blocks.py: the one reader and writer of the
docs' generated blocks (``<!-- NAME: begin -->`` ... ``<!-- NAME: end -->``).
"""
import os
import stat

import pytest

from projects.benchmark.markdown_blocks import (find_block, has_block,
                                                markers, replace_block,
                                                write_block)

PAGE = ('# Title\n\nhand-written\n\n<!-- results: begin -->\n| old |\n'
        '<!-- results: end -->\n\nmore hand-written text\n')


def test_markers_name_the_block():
    assert markers('zoo results') == ('<!-- zoo results: begin -->',
                                      '<!-- zoo results: end -->')


def test_replace_keeps_everything_outside_the_markers():
    new = replace_block(PAGE, 'results', '| a |\n| b |')
    assert new == ('# Title\n\nhand-written\n\n<!-- results: begin -->\n'
                   '| a |\n| b |\n<!-- results: end -->\n\n'
                   'more hand-written text\n')
    assert replace_block(new, 'results', '| old |') == PAGE


def test_replace_is_idempotent():
    once = replace_block(PAGE, 'results', '| new |')
    assert replace_block(once, 'results', '| new |') == once
    start, stop = find_block(once, 'results')
    assert once[start:stop] == '\n| new |\n'


def test_only_the_named_block_changes():
    page = PAGE + '<!-- other: begin -->\nx\n<!-- other: end -->\n'
    new = replace_block(page, 'other', 'y')
    assert new == PAGE + '<!-- other: begin -->\ny\n<!-- other: end -->\n'
    assert replace_block(new, 'results', '| old |') == new


def test_a_missing_block_is_an_error_naming_its_marker():
    with pytest.raises(ValueError, match='<!-- speed: begin -->'):
        replace_block(PAGE, 'speed', '| x |')
    assert not has_block(PAGE, 'speed')
    assert has_block(PAGE, 'results')


@pytest.mark.parametrize('page, message', [
    ('a\n<!-- results: begin -->\nb\n', 'no <!-- results: end -->'),
    ('a\n<!-- results: end -->\nb\n', 'no <!-- results: begin -->'),
    ('<!-- results: end -->\nb\n<!-- results: begin -->\n',
     '<!-- results: end --> precedes <!-- results: begin -->'),
])
def test_broken_markers_are_an_error_even_when_appending(page, message):
    with pytest.raises(ValueError, match=message):
        replace_block(page, 'results', 'x', append=True)


def test_append_adds_the_block_to_a_page_without_it():
    assert replace_block('# head\n', 'r', 'x', append=True) == \
        '# head\n\n<!-- r: begin -->\nx\n<!-- r: end -->\n'
    assert replace_block('', 'r', 'x', append=True) == \
        '<!-- r: begin -->\nx\n<!-- r: end -->\n'


def test_write_block_tells_whether_the_file_changed(tmp_path):
    path = tmp_path / 'README.md'
    path.write_text(PAGE)
    os.chmod(path, 0o644)
    assert write_block(str(path), 'results', '| new |', dry_run=True)
    assert path.read_text() == PAGE  # a dry run writes nothing
    assert write_block(str(path), 'results', '| new |')
    assert path.read_text() == replace_block(PAGE, 'results', '| new |')
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # kept
    mtime = path.stat().st_mtime_ns
    assert not write_block(str(path), 'results', '| new |')
    assert path.stat().st_mtime_ns == mtime  # unchanged: not rewritten
    assert sorted(os.listdir(tmp_path)) == ['README.md']  # no temp left


def test_write_block_errors_leave_the_file_alone(tmp_path):
    path = tmp_path / 'README.md'
    path.write_text(PAGE)
    with pytest.raises(ValueError, match='<!-- speed: begin -->'):
        write_block(str(path), 'speed', 'x')
    assert path.read_text() == PAGE
    with pytest.raises(FileNotFoundError):
        write_block(str(tmp_path / 'missing.md'), 'speed', 'x')


def test_write_block_appends_and_creates_when_told(tmp_path):
    path = tmp_path / 'README.md'
    assert write_block(str(path), 'report', 'x', append=True)
    assert path.read_text() == '<!-- report: begin -->\nx\n' \
        '<!-- report: end -->\n'
    assert write_block(str(path), 'report', 'y', append=True)
    assert path.read_text().count('<!-- report: begin -->') == 1
    assert not write_block(str(path), 'report', 'y', append=True)
