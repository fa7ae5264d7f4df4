"""Generated Markdown blocks: the text between ``<!-- NAME: begin -->`` and
``<!-- NAME: end -->`` in a page, which a tool writes and nobody edits by
hand (a results table, the protocol report, a speed table).

Every tool that writes such a block goes through this module
(tools/misc/update_results_tables.py, the protocol's report, and
tools/analysis/train_speed.py and compare_precision_runs.py), so that they
all find, replace and write a block the same way. A block is written as

    <!-- NAME: begin -->
    CONTENT
    <!-- NAME: end -->

and everything outside the markers is kept byte for byte.
"""
import os
import os.path as osp
import tempfile
from typing import Optional, Tuple


def markers(name: str) -> Tuple[str, str]:
    """The begin and end markers of a block.

    Args:
        name (str): the block's name, e.g. ``'results'`` or
            ``'lr probe feral_cats_cpu'``.

    Returns:
        tuple[str, str]: ``'<!-- NAME: begin -->'`` and
        ``'<!-- NAME: end -->'``.
    """
    return f'<!-- {name}: begin -->', f'<!-- {name}: end -->'


def find_block(text: str, name: str) -> Optional[Tuple[int, int]]:
    """Where the content of block ``name`` lies in ``text``: after its
    first begin marker, up to the first end marker after that.

    Args:
        text (str): the page.
        name (str): the block's name.

    Returns:
        tuple[int, int] | None: the content's start and stop offsets
        (characters; the markers excluded), or None when the page has
        neither marker.

    Raises:
        ValueError: only one of the markers is there, or the end marker
            only precedes the begin marker; the message names the marker.
    """
    begin, end = markers(name)
    start = text.find(begin)
    if start < 0:
        if end in text:
            raise ValueError(f'no {begin} before {end}')
        return None
    start += len(begin)
    stop = text.find(end, start)
    if stop < 0:
        if end in text:
            raise ValueError(f'{end} precedes {begin}')
        raise ValueError(f'no {end} after {begin}')
    return start, stop


def has_block(text: str, name: str) -> bool:
    """Whether ``text`` has block ``name``, both markers in order.

    Args:
        text (str): the page.
        name (str): the block's name.

    Returns:
        bool: True when the block can be replaced.

    Raises:
        ValueError: the markers are broken (see :func:`find_block`).
    """
    return find_block(text, name) is not None


def replace_block(text: str, name: str, block: str,
                  append: bool = False) -> str:
    """The page with block ``name``'s content replaced by ``block``.

    The markers and everything outside them are kept; the content becomes
    a newline, ``block`` and a newline. Only the first block of that name
    is replaced. Replacing a block with what it holds gives ``text`` back.

    Args:
        text (str): the page.
        name (str): the block's name.
        block (str): the new content, without markers (taken as is: strip
            it first if it may end with a newline).
        append (bool): when the page has neither marker, add the block at
            its end (after a blank line; an empty page gets the block
            alone) instead of raising.

    Returns:
        str: the new page.

    Raises:
        ValueError: the page lacks the block (and ``append`` is False) or
            its markers are broken; the message names the marker.
    """
    begin, end = markers(name)
    span = find_block(text, name)
    if span is None:
        if not append:
            raise ValueError(f'no {begin} ... {end} block')
        sep = '\n' if text else ''
        return f'{text}{sep}{begin}\n{block}\n{end}\n'
    start, stop = span
    return f'{text[:start]}\n{block}\n{text[stop:]}'


def write_block(path: str, name: str, block: str, append: bool = False,
                dry_run: bool = False) -> bool:
    """Replace block ``name`` of the file at ``path`` by ``block``
    (:func:`replace_block`); the file is rewritten only when that changes
    it, through a temporary file in the same folder renamed over it, so
    that a reader never sees half a page (the file's permissions are
    kept).

    Args:
        path (str): the Markdown file (UTF-8).
        name (str): the block's name.
        block (str): the new content, without markers.
        append (bool): add the block at the end of a file that has
            neither marker, and create a missing file with only the block.
        dry_run (bool): write nothing; only tell whether the file would
            change (what a ``--check`` needs).

    Returns:
        bool: whether the file changed (with ``dry_run``: would change).

    Raises:
        ValueError: the file lacks the block (and ``append`` is False) or
            its markers are broken; the message names the marker.
        OSError: the file cannot be read (a missing one only without
            ``append``) or written.
    """
    if append and not osp.exists(path):
        text = ''
    else:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    new = replace_block(text, name, block, append)
    if new == text:
        return False
    if not dry_run:
        _write_atomic(path, new)
    return True


def _write_atomic(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a hidden temporary file
    in its folder and :func:`os.replace`, keeping the file's permissions
    (a new file gets the umask's)."""
    folder = osp.dirname(osp.abspath(path))
    if osp.exists(path):
        mode = os.stat(path).st_mode & 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.',
                               suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
