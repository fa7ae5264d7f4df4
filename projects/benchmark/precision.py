"""fp32 against bf16 (and ONNX Runtime) per benchmark row: the timing of
each variant and the report's precision table, with the achieved GMAC/s of
the network and its fraction of the machine's measured fp32 peak
(:mod:`projects.benchmark.roofline`).

A *variant* is a precision, a memory layout and whether BatchNorm is
folded into the convs, named ``'fp32'``, ``'fp32+channels_last'``,
``'bf16'``, ``'bf16+channels_last'`` and each of these with ``'+fused'``;
it runs the model under :class:`projects.engine.inference_precision.
InferencePrecision` (the network in bf16 autocast, post-processing in fp32;
``fuse_conv_bn``) entered around each timed call, so that one model serves
every variant.
The context's pre-hooks run after the :class:`~.StageTimer`'s and its
output casts before the timer's exit: the layout change of the input and
the casts back to fp32 count in the network stages.

Row fields (see ``tools/benchmark.py``): ``variant`` (the main timing's,
in ``latency_ms``), ``variants`` (name -> ``latency_ms``, ``detections``,
``latency_stats``) for the other variants timed, ``ort`` (``latency_ms``
and ``latency_stats`` of the total, from ``projects.deploy.OrtDetector``)
or ``ort_error``, and ``ap_bf16`` (the AP record of a bf16 test).
"""
import contextlib
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch

from .report import label, markdown, stats
from .roofline import roofline_fraction

VARIANTS = tuple(p + layout + fused for fused in ('', '+fused')
                 for p in ('fp32', 'bf16')
                 for layout in ('', '+channels_last'))
BF16_VARIANTS = tuple(v for v in VARIANTS if v.startswith('bf16'))
PRECISION_COLUMNS = (
    'method', 'fp32 ms', 'bf16 ms', 'bf16 layout', 'ORT ms', 'GMAC',
    'GMAC/s', '% of fp32 peak', 'bf16 GMAC/s', 'bf16 % of fp32 peak',
    'mask AP fp32 / bf16')
PRECISION_NOTE = (
    'fp32 against bf16: total ms (median); bf16 is the network (backbone, '
    'neck, heads\' forward) under bf16 autocast with post-processing in '
    'fp32 (projects/engine/inference_precision.py), in the fastest of the '
    'NCHW and channels-last layouts, with or without BatchNorm folded into '
    'the convs where that was timed (named); ORT ms: ONNX Runtime '
    '(projects.deploy.OrtDetector), "-" when not run; GMAC/s: the GMAC of '
    'the FLOPs column over the median backbone+neck + head forward time; '
    '% of fp32 peak: that against the fp32 GMAC/s of a 3x3 conv, 256 -> '
    '256 channels at 96x96, on the same machine '
    '(tools/analysis/cpu_roofline.py); mask AP from tools/test.py with '
    '--precision fp32 / bf16')


def variant_name(precision: str, channels_last: bool,
                 fuse_conv_bn: bool = False) -> str:
    """``'bf16'``, ``'bf16+channels_last'``, ``'bf16+channels_last+fused'``,
    ...

    Raises:
        ValueError: unknown precision.
    """
    name = precision + ('+channels_last' if channels_last else '') + (
        '+fused' if fuse_conv_bn else '')
    if name not in VARIANTS:
        raise ValueError(f'precision {precision!r} unknown; allowed: fp32, '
                         'bf16')
    return name


def parse_variant(name: str) -> Tuple[str, bool, bool]:
    """(precision, channels_last, fuse_conv_bn) of a variant name.

    Raises:
        ValueError: not one of :data:`VARIANTS`.
    """
    if name not in VARIANTS:
        raise ValueError(f'variant {name!r} unknown; known: '
                         f'{", ".join(VARIANTS)}')
    parts = name.split('+')
    return parts[0], 'channels_last' in parts, 'fused' in parts


def run_variant(timer, batch: dict, variant: str) -> Dict[str, float]:
    """``timer(batch)`` (a :class:`~.StageTimer`) with the model under the
    variant's :class:`InferencePrecision`, entered just for this call (its
    layout conversion and BN folding are not timed).

    Returns:
        dict: the timer's ms per stage and ``detections``.
    """
    from projects.engine.inference_precision import InferencePrecision
    precision, channels_last, fused = parse_variant(variant)
    ctx = InferencePrecision(timer.model, precision, channels_last,
                             fuse_conv_bn=fused) \
        if variant != 'fp32' else contextlib.nullcontext()
    with ctx:
        return timer(batch)


def variants_to_time(precision: str, channels_last: bool,
                     compare_bf16: bool,
                     fuse_conv_bn: bool = False) -> List[str]:
    """The main variant first, then with ``compare_bf16`` the others of
    fp32, bf16 and bf16 channels-last, then with ``fuse_conv_bn`` each of
    those with BatchNorm folded."""
    names = [variant_name(precision, channels_last)]
    if compare_bf16:
        names += [v for v in ('fp32', 'bf16', 'bf16+channels_last')
                  if v not in names]
    if fuse_conv_bn:
        names += [v + '+fused' for v in names]
    return names


def new_row_fields(variants: List[str], onnx: Optional[str]) -> dict:
    """A new row's ``variant``, ``variants`` (empty timings) and, for an
    ``onnx`` file, ``ort``."""
    from .stage_timer import STAGES
    fields = dict(variant=variants[0], variants={
        v: dict(latency_ms={s: [] for s in STAGES}, detections=[])
        for v in variants[1:]})
    if onnx:
        fields['ort'] = dict(onnx=onnx, latency_ms=[])
    return fields


def load_ort(model, onnx: str):
    """``projects.deploy.OrtDetector(model, onnx)`` on as many threads as
    torch uses: the ONNX Runtime slot.

    Raises:
        ImportError: ``projects.deploy`` is missing; whatever the detector
            raises for a bad file (FileNotFoundError, a graph exported from
            another config: ValueError).
    """
    from projects.deploy import OrtDetector
    return OrtDetector(model, onnx, num_threads=torch.get_num_threads())


def time_once(state: dict, row: Optional[dict], batch: dict,
              reverse: bool = False) -> None:
    """Time every variant of ``state`` once on ``batch`` (reversed order
    with ``reverse``) and ONNX Runtime when ``state`` has ``ort``; append
    to ``row`` (None: warm-up, nothing kept).

    Args:
        state (dict): ``timer`` (StageTimer), ``model``, ``variants`` (the
            row's, main first) and optionally ``ort`` (a predictor); an ORT
            failure drops ``ort`` and sets ``row['ort_error']``.

    Raises:
        RuntimeError: a variant failed (its name and the error).
    """
    from .stage_timer import STAGES
    order = state['variants'][::-1] if reverse else state['variants']
    for variant in order:
        try:
            ms = run_variant(state['timer'], batch, variant)
        except Exception as e:
            raise RuntimeError(f'{variant}: {type(e).__name__}: {e}') from e
        if row is None:
            continue
        out = row if variant == row['variant'] else row['variants'][variant]
        for stage in STAGES:
            out['latency_ms'][stage].append(ms[stage])
        out['detections'].append(ms['detections'])
    if 'ort' in state:
        try:
            ms = time_predictor(state['ort'].predict, state['model'], batch)
        except Exception as e:
            del state['ort']
            if row is not None:
                row['ort_error'] = f'{type(e).__name__}: {e}'[:300]
            return
        if row is not None:
            row['ort']['latency_ms'].append(ms)


def time_predictor(predict: Callable, model, batch: dict,
                   clock: Callable[[], float] = time.perf_counter) -> float:
    """ms of ``model.data_preprocessor`` + ``predict(inputs,
    data_samples)`` on one batch: the slot for ONNX Runtime
    (``projects.deploy.OrtDetector(model, onnx_path).predict``), or any
    predictor with mmdet's ``predict(inputs, data_samples)``."""
    with torch.no_grad():
        t0 = clock()
        data = model.data_preprocessor(batch, False)
        predict(data['inputs'], data['data_samples'])
        return 1000 * (clock() - t0)


def variant_stats(row: dict, variant: str) -> Optional[dict]:
    """The ``latency_stats`` of ``variant`` in a row: the main timing's when
    it is the row's ``variant`` (default ``'fp32'``), else from
    ``variants``; None when not timed."""
    if row.get('variant', 'fp32') == variant:
        return row.get('latency_stats') or None
    return ((row.get('variants') or {}).get(variant) or {}).get(
        'latency_stats') or None


def has_precision(rows: List[dict]) -> bool:
    """Whether any row timed a second variant or ONNX Runtime (runs from
    before render as they did)."""
    return any(r.get('variants') or r.get('ort') or r.get('ort_error')
               for r in rows)


def best_bf16(row: dict) -> Tuple[Optional[str], Optional[dict]]:
    """(variant, latency_stats) of the faster bf16 variant by median total;
    (None, None) when none was timed."""
    timed = [(v, variant_stats(row, v)) for v in BF16_VARIANTS]
    timed = [(v, s) for v, s in timed if s and s.get('total')]
    if not timed:
        return None, None
    return min(timed, key=lambda vs: vs[1]['total']['median'])


def network_ms(lat: Optional[dict]) -> Optional[float]:
    """Median backbone+neck + median head forward ms of ``lat`` (a
    ``latency_stats``); None when missing."""
    if not lat or not lat.get('backbone_neck') or not lat.get('head_forward'):
        return None
    return lat['backbone_neck']['median'] + lat['head_forward']['median']


def network_gmacs(row: dict, lat: Optional[dict]) -> Optional[float]:
    """The row's GMAC (FLOPs column, one multiply-add = one FLOP) over
    :func:`network_ms` of ``lat``, GMAC/s; None when either is missing."""
    flops = (row.get('complexity') or {}).get('flops')
    ms = network_ms(lat)
    if not flops or not ms:
        return None
    return flops / 1e9 / (ms / 1000.)


def _ms(lat: Optional[dict]) -> str:
    return f"{lat['total']['median']:.1f}" if lat and lat.get('total') \
        else '-'


def _pct(row: dict, lat: Optional[dict], peak: Optional[float]) -> str:
    flops = (row.get('complexity') or {}).get('flops')
    ms = network_ms(lat)
    if not flops or not ms or not peak:
        return '-'
    return f'{100 * roofline_fraction(flops / 1e9, ms, peak):.0f}%'


def _mask_ap(row: dict) -> str:
    cells = []
    for key in ('ap', 'ap_bf16'):
        segm = (row.get(key) or {}).get('segm') or {}
        cells.append(f"{segm['AP']:.1f}" if 'AP' in segm else '-')
    return ' / '.join(cells)


def layout_label(variant: str) -> str:
    """'channels-last' or 'NCHW', with ', BN folded' for a fused
    variant: the report's layout cell."""
    _, channels_last, fused = parse_variant(variant)
    return ('channels-last' if channels_last else 'NCHW') + (
        ', BN folded' if fused else '')


def precision_row(row: dict, peak: Optional[float]) -> List[str]:
    """The cells of :data:`PRECISION_COLUMNS` for one row.

    Args:
        row (dict): a benchmark row.
        peak (float, optional): the fp32 conv GMAC/s of the machine.
    """
    fp32 = variant_stats(row, 'fp32')
    variant, bf16 = best_bf16(row)
    ort = (row.get('ort') or {}).get('latency_stats') or None
    flops = (row.get('complexity') or {}).get('flops')
    rate32, rate16 = network_gmacs(row, fp32), network_gmacs(row, bf16)
    return [
        label(row), _ms(fp32), _ms(bf16),
        '-' if variant is None else layout_label(variant),
        _ms(ort) if ort else ('error' if row.get('ort_error') else '-'),
        f'{flops / 1e9:.1f}' if flops else '-',
        '-' if rate32 is None else f'{rate32:.0f}', _pct(row, fp32, peak),
        '-' if rate16 is None else f'{rate16:.0f}', _pct(row, bf16, peak),
        _mask_ap(row)
    ]


def precision_section(rows: List[dict], roofline: Optional[dict]) -> str:
    """The note, the machine's fp32 peak and the precision table."""
    from .roofline import peak as roofline_peak
    peak = None
    head = PRECISION_NOTE + '.'
    if roofline:
        peak = roofline_peak(roofline)
        head += (f" fp32 peak: {peak:.1f} GMAC/s ({roofline['threads']} "
                 f"threads, {roofline['device']}")
        bf16 = roofline['results']['conv3x3'].get('bf16')
        head += f"; bf16: {bf16['gmacs']:.1f} GMAC/s)." if bf16 else ').'
    errors = [f"{label(r)}: {r['ort_error']}" for r in rows
              if r.get('ort_error')]
    table = markdown(PRECISION_COLUMNS,
                     [precision_row(r, peak) for r in rows])
    return '\n\n'.join([head, table] + (
        ['ORT errors: ' + '; '.join(errors)] if errors else []))


def summarise_variants(row: dict) -> None:
    """Fill ``latency_stats`` of every timed variant and of ``ort``."""
    for v in (row.get('variants') or {}).values():
        v['latency_stats'] = {k: stats(x) for k, x in
                              v['latency_ms'].items() if x}
    if row.get('ort'):
        row['ort']['latency_stats'] = dict(
            total=stats(row['ort']['latency_ms']))


__all__ = ['VARIANTS', 'BF16_VARIANTS', 'PRECISION_COLUMNS',
           'PRECISION_NOTE', 'variant_name', 'parse_variant', 'run_variant',
           'variants_to_time', 'new_row_fields', 'load_ort', 'time_once',
           'time_predictor', 'variant_stats', 'has_precision', 'best_bf16',
           'network_ms', 'network_gmacs', 'layout_label', 'precision_row',
           'precision_section', 'summarise_variants']
