"""This machine's compute ceiling for dense convolutions and GEMMs, in
GMAC/s, and the fraction of it a model reaches.

Why our own: neither torch nor mmengine measures a device's attainable
throughput; ``torch.utils.benchmark`` times a statement but knows no
multiply-add count. A model's latency means little on its own ("348 ms on
2 cores"); against what the same cores do on one large, well-shaped
convolution (the most favourable case for oneDNN) it says how much of the
machine the network uses and how much is left to win.

Cases (batch 1, one multiply-add counted once, mmengine's FLOP
convention):

* ``conv3x3``: a 3x3 convolution, 256 -> 256 channels on 96x96 with
  padding 1 (YOLACT's protonet conv at 384 px input), 5.44 GMAC;
* ``conv3x3_channels_last``: the same with input and weight in
  ``torch.channels_last`` (oneDNN's native layout);
* ``gemm``: a 2048 x 2048 x 2048 matrix product, 8.59 GMAC.

Each runs in fp32 and under ``torch.autocast('cpu',
dtype=torch.bfloat16)`` (the operands stay fp32 and are cast on every
call, as in a model run under autocast), ``warmup`` untimed calls, then the
median of ``repeats`` timed ones, in ``torch.no_grad``, with
``torch.get_num_threads()`` threads.
"""
import platform
import statistics
import time
from typing import Callable, Dict, Iterable, Optional, Tuple

import torch
import torch.nn.functional as F

PRECISIONS = ('fp32', 'bf16')
CASES = ('conv3x3', 'conv3x3_channels_last', 'gemm')
# the case whose fp32 figure is "the fp32 peak" of the benchmark report
PEAK_CASE = 'conv3x3'


def roofline_fraction(gmac: float, ms: float, peak_gmacs: float) -> float:
    """Fraction of a measured peak that ``gmac`` multiply-adds in ``ms``
    reach: ``(gmac / (ms / 1000)) / peak_gmacs``.

    Args:
        gmac (float): work, 1e9 multiply-adds.
        ms (float): time it took, milliseconds.
        peak_gmacs (float): the peak, GMAC/s (e.g. :func:`peak` of a
            roofline JSON).

    Returns:
        float: 1.0 is the peak; above 1 is possible (a peak of another
        precision, a noisy measurement).

    Raises:
        ValueError: ``gmac`` negative, ``ms`` or ``peak_gmacs`` not
            positive.
    """
    if gmac < 0:
        raise ValueError(f'gmac={gmac}: must be >= 0')
    if ms <= 0:
        raise ValueError(f'ms={ms}: must be > 0')
    if peak_gmacs <= 0:
        raise ValueError(f'peak_gmacs={peak_gmacs}: must be > 0')
    return gmac / (ms / 1000.) / peak_gmacs


def conv_case(channels: int = 256, size: int = 96,
              channels_last: bool = False
              ) -> Tuple[Callable[[], torch.Tensor], float]:
    """A batch-1 3x3 convolution, ``channels`` -> ``channels`` on
    ``size`` x ``size`` with padding 1, random operands.

    Returns:
        tuple: (callable running it, GMAC of one call:
        ``size**2 * channels**2 * 9 / 1e9``).
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, channels, size, size, generator=g)
    w = torch.randn(channels, channels, 3, 3, generator=g) * 0.02
    b = torch.zeros(channels)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
        w = w.contiguous(memory_format=torch.channels_last)
    return (lambda: F.conv2d(x, w, b, padding=1),
            size * size * channels * channels * 9 / 1e9)


def gemm_case(n: int = 2048) -> Tuple[Callable[[], torch.Tensor], float]:
    """An ``n x n`` by ``n x n`` matrix product, random operands.

    Returns:
        tuple: (callable running it, GMAC of one call: ``n**3 / 1e9``).
    """
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    return (lambda: a @ b), n**3 / 1e9


def build_case(name: str, scale: float = 1.
               ) -> Tuple[Callable[[], torch.Tensor], float]:
    """The callable and GMAC of case ``name``; ``scale`` < 1 shrinks the
    channels / matrix side (for quick checks; the figures are only
    comparable at 1).

    Raises:
        ValueError: unknown case name.
    """
    if name not in CASES:
        raise ValueError(f'roofline case {name!r} unknown; known: '
                         f'{", ".join(CASES)}')
    if name == 'gemm':
        return gemm_case(max(8, int(round(2048 * scale))))
    return conv_case(max(8, int(round(256 * scale))),
                     max(8, int(round(96 * scale))),
                     channels_last=name.endswith('channels_last'))


def time_call(fn: Callable[[], object], precision: str, warmup: int,
              repeats: int) -> list:
    """Milliseconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed
    ones, in ``torch.no_grad`` and, for ``'bf16'``, under CPU bf16 autocast.

    Raises:
        ValueError: unknown precision, ``repeats`` < 1 or ``warmup`` < 0.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision {precision!r} unknown; allowed: '
                         f'{", ".join(PRECISIONS)}')
    if repeats < 1 or warmup < 0:
        raise ValueError(f'repeats={repeats} (>= 1), warmup={warmup} (>= 0)')
    times = []
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16,
                                         enabled=precision == 'bf16'):
        for i in range(warmup + repeats):
            t0 = time.perf_counter()
            fn()
            if i >= warmup:
                times.append(1000 * (time.perf_counter() - t0))
    return times


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo, else
    ``platform.processor()``."""
    try:
        with open('/proc/cpuinfo') as f:
            return next(ln.split(':', 1)[1].strip() for ln in f
                        if ln.startswith('model name'))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def cpu_capability() -> str:
    """The vector ISA torch dispatches to on this CPU (``'AVX2'``,
    ``'AVX512'``, ...): two machines with one model name (``'AMD EPYC'``)
    can differ in it, and with it in their speed."""
    import torch
    return torch.backends.cpu.get_cpu_capability()


def measure(cases: Iterable[str] = CASES,
            precisions: Iterable[str] = PRECISIONS, warmup: int = 3,
            repeats: int = 10, scale: float = 1.,
            note: Optional[str] = None) -> Dict[str, object]:
    """Time every case in every precision (see the module doc).

    Args:
        cases (iterable[str]): names from :data:`CASES`.
        precisions (iterable[str]): from :data:`PRECISIONS`.
        warmup (int): untimed calls first.
        repeats (int): timed calls; the median is reported.
        scale (float): see :func:`build_case`; recorded in the result.
        note (str, optional): free text stored with the result (what else
            ran on the machine).

    Returns:
        dict: ``device`` (CPU model), ``cpu_capability``, ``torch``,
        ``threads``, ``warmup``, ``repeats``, ``scale``, ``note`` and
        ``results``: case -> precision -> ``gmac`` (per call),
        ``median_ms``, ``iqr_ms``, ``gmacs`` (GMAC/s at the median).

    Raises:
        ValueError: unknown case or precision, bad counts.
    """
    results: Dict[str, dict] = {}
    for name in cases:
        fn, gmac = build_case(name, scale)
        results[name] = {}
        for precision in precisions:
            ms = time_call(fn, precision, warmup, repeats)
            med = statistics.median(ms)
            q = statistics.quantiles(ms, n=4) if len(ms) > 1 else [med] * 3
            results[name][precision] = dict(
                gmac=gmac, median_ms=med, iqr_ms=q[2] - q[0],
                gmacs=gmac / (med / 1000.))
    return dict(device=cpu_name(),
                cpu_capability=cpu_capability(),
                torch=torch.__version__, threads=torch.get_num_threads(),
                warmup=warmup, repeats=repeats, scale=scale, note=note,
                results=results)


def peak(roofline: dict, case: str = PEAK_CASE,
         precision: str = 'fp32') -> float:
    """GMAC/s of ``case`` in ``precision`` in a :func:`measure` result.

    Raises:
        KeyError: the result lacks that case or precision (naming it).
    """
    try:
        return float(roofline['results'][case][precision]['gmacs'])
    except KeyError:
        raise KeyError(f'roofline has no {case}/{precision} figure; it '
                       f'has {sorted(roofline.get("results", {}))}') from None


__all__ = ['CASES', 'PRECISIONS', 'PEAK_CASE', 'roofline_fraction',
           'conv_case', 'gemm_case', 'build_case', 'time_call', 'measure',
           'peak', 'cpu_name', 'cpu_capability']
