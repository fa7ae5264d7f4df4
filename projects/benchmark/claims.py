"""Whether the source documents' claims hold on a protocol's results.

A claim is declared by the method that makes it, in its metafile's
``Protocol`` entry (:class:`projects.apis.metafiles.Claim`): SAIS's mask AP
above YOLACT's and its training memory below (SAIS paper, §IV-B, Table IV),
SOLOv2 above SOLO, an RT variant faster than its base, ... The report of a
converged protocol gives each a verdict from the committed records: AP
from the runs (mean over seeds, judged against the seed spread: the sum of
the two standard deviations), latency and memory from the benchmark rows
of the memory stage.
"""
from typing import Dict, List, Optional, Tuple

from projects.apis.metafiles import Claim, MethodIndex
from .protocol import Protocol
from .tables import ResultRow, mean_std, protocol_rows, separation

#: ResultRow AP key of each AP metric.
AP_METRIC_KEYS = {'mask AP': 'segm_mAP', 'box AP': 'bbox_mAP'}


def _figure(row: Optional[ResultRow],
            metric: str) -> Tuple[Optional[float], List[float]]:
    """(value, per-seed values) of ``metric`` in ``row``: the mean over
    seeds for AP, else the one measurement (no per-seed values); value
    None when the row or the figure is missing."""
    if row is None:
        return None, []
    if metric in AP_METRIC_KEYS:
        values = row.ap.get(AP_METRIC_KEYS[metric], [])
        return (mean_std(values)[0] if values else None), values
    if metric == 'ms/img':
        return (row.latency or {}).get('median'), []
    # the training state (saved tensors, weights, gradients, optimizer
    # state) is the same on every device; the process's peak is not
    return row.state_mib or row.train_mib, []


def _fmt(metric: str, value: float) -> str:
    if metric == 'train memory':
        return f'{value / 1024:.2f} GiB'
    if metric == 'ms/img':
        return f'{value:.0f} ms'
    return f'{value:.1f}'


def claim_verdict(claim: Claim, name: str, other_name: str,
                  mine: Optional[ResultRow],
                  theirs: Optional[ResultRow]) -> str:
    """One report line: the claim, the two figures and the verdict.

    Args:
        claim (Claim): the claim, declared by the method named ``name``.
        name (str), other_name (str): the two methods' display names.
        mine (ResultRow, optional), theirs (ResultRow, optional): their
            protocol rows; None when a method has no finished run.

    Returns:
        str: a Markdown list item. The verdict is 'holds' or 'does not
        hold'; for AP, 'beyond the seed spread' or 'within the seed spread'
        when both methods have 2+ seeds, else 'one seed: no spread yet'
        (an ``About`` claim holds only within the spread). A missing
        figure gives 'pending' and what is missing; latencies measured on
        two machines (``ResultRow.device`` differs: another CPU model or
        vector ISA, or a GPU) give 'not compared' and name both.
    """
    word = {'Above': 'above', 'Below': 'below', 'About': 'equal to'}[
        claim.relation]
    head = (f'- {name} {claim.metric} {word} {other_name} '
            f'({claim.source}): ')
    (a, seeds_a), (b, seeds_b) = (_figure(r, claim.metric)
                                  for r in (mine, theirs))
    missing = [n for n, v in ((name, a), (other_name, b)) if v is None]
    if missing:
        what = 'runs' if claim.metric in AP_METRIC_KEYS else \
            'memory-stage benchmark rows'
        return head + f'pending ({" and ".join(missing)}: no {what} yet)'
    figures = f'{_fmt(claim.metric, a)} vs {_fmt(claim.metric, b)}'
    if claim.metric == 'ms/img' and mine.device != theirs.device:
        # times compare only within one machine model; AP and the
        # training state (same tensors on every device) compare across
        return head + (f'{figures}: not compared, measured on different '
                       f'machines ({mine.device}; {theirs.device})')
    if claim.metric in AP_METRIC_KEYS:
        gap = a - b
        figures += f' ({gap:+.1f})'
        if len(seeds_a) > 1 and len(seeds_b) > 1:
            sep = separation(seeds_a, seeds_b)
            beyond = sep.beyond
            where = (f'{"beyond" if beyond else "within"} the seed spread '
                     f'({sep.std_a:.1f} + {sep.std_b:.1f})')
        else:
            beyond, where = None, 'one seed: no spread yet'
    else:
        figures += f' ({a / b:.2f}x)'
        beyond, where = None, 'one measurement each'
    if claim.relation == 'About':
        holds = beyond is False
        if beyond is None:
            return head + f'{figures}; {where}, not judged'
    else:
        holds = a > b if claim.relation == 'Above' else a < b
    verdict = '**holds**' if holds else '**does not hold**'
    return head + f'{figures}: {verdict}, {where}'


def claim_lines(proto: Protocol, runs: Dict[str, list], bench: Dict[str, dict],
                index: MethodIndex) -> List[str]:
    """:func:`claim_verdict` of every claim of ``proto``'s methods, in the
    protocol's order; a speed claim (``ms/img``) adds the two methods'
    mask AP, the accuracy its speed costs.

    Args:
        proto (Protocol): the protocol.
        runs (dict), bench (dict): its results folder's run records and
            benchmark rows (:mod:`projects.benchmark.protocol_report`).
        index (MethodIndex): the metafiles (display names).

    Returns:
        list[str]: Markdown list items; empty when no method declares a
        claim.
    """
    rows = {m.key: row for m in proto.methods for row in protocol_rows(
        proto, runs, bench, index, methods=[m.key])}
    names = {m.key: index.lookup(m.config) or m.key for m in proto.methods}
    lines = []
    for method in proto.methods:
        for claim in method.claims:
            if claim.other not in names:
                continue  # a row this protocol does not have
            line = claim_verdict(claim, names[method.key],
                                 names[claim.other], rows.get(method.key),
                                 rows.get(claim.other))
            if claim.metric == 'ms/img':
                aps = [_figure(rows.get(k), 'mask AP')[0]
                       for k in (method.key, claim.other)]
                if None not in aps:
                    line += (f'; mask AP {aps[0]:.1f} vs {aps[1]:.1f} '
                             f'({aps[0] - aps[1]:+.1f})')
            lines.append(line)
    return lines


__all__ = ['AP_METRIC_KEYS', 'claim_verdict', 'claim_lines']
