"""The benchmark's headline ratios: measured peak training memory of each
pair of methods against the ratio of their papers' figures (from the
metafiles, never typed here), next to it the ratio of the
device-independent training state (saved tensors + parameters + gradients
+ optimizer state, :mod:`projects.benchmark.saved_memory`) where both rows
have it, and per config (head forward + post-processing) / backbone+neck
time."""
from itertools import combinations
from typing import Dict, List, Tuple

from .report import (head_post_ratio, label, train_memory_mib,
                     train_state_mib)

# the metafiles' Metadata key of a paper's peak training memory
MEMORY_KEY = 'Training Memory (GB)'
# method -> (peak training memory in GB, the source that reports it)
PaperFigures = Dict[str, Tuple[float, str]]


def paper_memory(rows: List[dict], index) -> PaperFigures:
    """The paper figure (:data:`MEMORY_KEY`) of every method in ``rows``
    that has one in the metafiles.

    Args:
        rows (list[dict]): benchmark rows (``method``).
        index (MethodIndex): the metafiles.
    """
    out = {}
    for row in rows:
        method = row.get('method')
        if method and method not in out:
            figure = index.paper_figure(method, MEMORY_KEY)
            if figure is not None:
                out[method] = (float(figure[0]), figure[1])
    return out


def method_pairs(rows: List[dict], paper: PaperFigures) -> List[tuple]:
    """Pairs (A, B) of the methods with a paper figure, in the order they
    first occur in ``rows``."""
    methods = []
    for row in rows:
        if row.get('method') in paper and row['method'] not in methods:
            methods.append(row['method'])
    return list(combinations(methods, 2))


def memory_ratios(rows: List[dict], paper: PaperFigures) -> List[dict]:
    """Measured A / B peak training memory for every pair of methods with a
    paper figure, for every pair of their rows at the same input size, both
    with training measured.

    Returns:
        list[dict]: ``methods`` [A, B], ``rows`` [name of A's row, B's],
        ``input_size``, ``mib`` [A, B] (MiB), ``ratio``, ``paper_gb``
        [A, B], ``paper_ratio``, ``paper_sources`` [A, B]; on CPU
        ``training_part_ratio``: the ratio of the growth over the memory
        before the first step; when both rows have it, ``train_state_mib``
        [A, B] (saved + params + grads + optim, MiB) and
        ``train_state_ratio``.
    """
    out = []
    for a, b in method_pairs(rows, paper):
        for ra in rows:
            for rb in rows:
                if not (ra.get('method') == a and rb.get('method') == b
                        and ra.get('input_size') == rb.get('input_size')
                        and train_memory_mib(ra) and train_memory_mib(rb)):
                    continue
                ma, mb = train_memory_mib(ra), train_memory_mib(rb)
                r = dict(methods=[a, b], rows=[ra['name'], rb['name']],
                         input_size=ra['input_size'], mib=[ma, mb],
                         ratio=ma / mb,
                         paper_gb=[paper[a][0], paper[b][0]],
                         paper_ratio=paper[a][0] / paper[b][0],
                         paper_sources=[paper[a][1], paper[b][1]])
                before = [ra['train'].get('rss_before_train_mib'),
                          rb['train'].get('rss_before_train_mib')]
                if 'peak_cuda_mib' not in ra['train'] and all(before):
                    r['training_part_ratio'] = ((ma - before[0]) /
                                                (mb - before[1]))
                sa, sb = train_state_mib(ra), train_state_mib(rb)
                if sa and sb:
                    r['train_state_mib'] = [sa, sb]
                    r['train_state_ratio'] = sa / sb
                out.append(r)
    return out


def _paper_note(a: str, b: str, paper: PaperFigures) -> Tuple[str, str]:
    """The paper ratio for the pair's heading, and a line naming each
    figure's source when the two sources differ ('' when they agree: the
    heading names it)."""
    (ga, sa), (gb, sb) = paper[a], paper[b]
    figures = f'{ga:g} GB / {gb:g} GB = {ga / gb:.2f}'
    if sa == sb:
        return f'{sa}: {figures}', ''
    return figures, (f'- paper figures: {a} {ga:g} GB from *{sa}*; {b} '
                     f'{gb:g} GB from *{sb}*')


def headline(rows: List[dict], paper: PaperFigures) -> str:
    """The headline ratios as Markdown.

    Args:
        rows (list[dict]): benchmark rows.
        paper (dict): :func:`paper_memory` of the rows.
    """
    lines = []
    ratios = memory_ratios(rows, paper)
    for a, b in method_pairs(rows, paper):
        figures, sources = _paper_note(a, b, paper)
        lines.append(f'**{a} / {b} peak training memory**, measured vs '
                     f'paper ({figures}):')
        mine = [r for r in ratios if r['methods'] == [a, b]]
        for r in mine:
            extra = ''
            if 'train_state_ratio' in r:
                sa, sb = r['train_state_mib']
                extra += (f'; train state (saved+params+grads+optim) '
                          f'{sa / 1024:.2f} GiB / {sb / 1024:.2f} GiB = '
                          f"**{r['train_state_ratio']:.2f}** "
                          f"(paper {r['paper_ratio']:.2f})")
            if 'training_part_ratio' in r:
                extra += (f'; growth over the memory before the first '
                          f"step: {r['training_part_ratio']:.2f}")
            lines.append(
                f"- {r['input_size']}: `{r['rows'][0]}` "
                f"{r['mib'][0] / 1024:.2f} GiB / `{r['rows'][1]}` "
                f"{r['mib'][1] / 1024:.2f} GiB = **{r['ratio']:.2f}** "
                f"(paper {r['paper_ratio']:.2f}){extra}")
        if not mine:
            lines.append(f'- not measured: needs a {a} and a {b} config at '
                         'the same input size, both with training measured')
        lines += [sources, ''] if sources else ['']
    if not lines:
        lines = [f'**Peak training memory vs the papers**: no two methods '
                 f'of this run have a paper figure (`{MEMORY_KEY}` on a '
                 'metafile Model with `Reported In`).', '']
    lines += ['**(head forward + post-processing) / backbone+neck** '
              'time, medians (YOLACT: "virtually no overhead"):']
    for row in rows:
        r = head_post_ratio(row)
        if r is not None:
            lines.append(f'- {label(row)}: {r:.2f}')
    return '\n'.join(lines)
