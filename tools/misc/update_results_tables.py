"""Write every results table of the docs from the metafiles and the
committed runs, so that no number in README.md or a method page is typed
by hand.

    python tools/misc/update_results_tables.py [--check]

Each table lives between ``<!-- NAME: begin -->`` and ``<!-- NAME: end -->``
markers (read and written by :mod:`projects.benchmark.markdown_blocks`):

- ``results`` in ``configs/<method>/README.md``: the page's one results
  table, in MMDetection's columns (:data:`projects.benchmark.tables.
  PAGE_COLUMNS`: method, source, backbone, schedule, data, seeds, train
  memory, ms/img with its device, box AP, mask AP, config, run), a row per
  config of the folder's methods:

  * the paper's own COCO figures: every metafile Model with ``Reported
    In`` (its ``Results`` and ``Metadata``), marked "reported in ...",
    nothing measured;
  * the benchmark protocol's rows (mean ± std over the seeds) of each
    folder in :data:`PROTOCOL_RUNS` that has a finished run of the
    method (``runs/<key>_s<seed>/run.json``): the 200-iteration quick
    check of early training, then the converged 24-epoch protocol;

  then, per protocol, which differences of the folder's methods to the
  others are larger than the spread of the seeds;
- ``benchmark.md`` in ``docs/results/<run>/README.md``: that run's
  ``benchmark.md`` (which ``tools/benchmark.py --render`` writes from its
  JSON);
- ``zoo results`` in README.md: the table of the converged protocol's
  report (:func:`projects.benchmark.protocol_report.results_table` of
  :data:`HEADLINE`), and the runs of its plan not finished yet.

The method pages and the protocol report render their rows with the same
code (:mod:`projects.benchmark.tables`). ``--check`` writes nothing and
exits 1 when a file is out of date or a method page still has the
obsolete ``protocol`` block (the tests run it).
"""
import argparse
import glob
import os.path as osp
import sys
from typing import (Dict, Iterator, List, NamedTuple, Optional, Sequence,
                    Tuple)

from projects.apis.metafiles import MethodIndex
from projects.benchmark import protocol_report
from projects.benchmark.markdown_blocks import has_block, write_block
from projects.benchmark.protocol import (FERAL_CATS, FERAL_CATS_24E,
                                         Protocol, RunRecord)
from projects.benchmark.tables import (PAGE_COLUMNS, ResultRow, paper_rows,
                                       protocol_rows, render)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PROTOCOL_RUN = 'feral_cats_cpu'  # the 200-iteration protocol's results
OBSOLETE_BLOCKS = ('protocol', )  # method-page blocks the table replaced


class ProtocolRun(NamedTuple):
    """A protocol's results folder whose rows the method pages show.

    Args:
        proto (Protocol): the protocol.
        out (str): its results folder (absolute); it may be absent or
            hold unfinished runs only.
        label (str): the rows' source, in words.
    """
    proto: Protocol
    out: str
    label: str


PROTOCOL_RUNS = (
    ProtocolRun(FERAL_CATS, osp.join(ROOT, 'docs', 'results', PROTOCOL_RUN),
                'protocol: quick early-training check'),
    ProtocolRun(FERAL_CATS_24E,
                osp.join(ROOT, 'docs', 'results', 'feral_cats_24e_cpu'),
                'protocol: converged'),
)
#: the protocol whose table is README.md's headline: the converged one
HEADLINE = 1

PAPER_NOTE = '''\
*reported in*: the paper's own figures on COCO, from the Models of
[metafile.yml](metafile.yml) with `Reported In` (the paper's GPUs,
training memory in the paper's GB); none was measured here.'''
PROTOCOL_NOTE = '''\
*protocol*: measured here by the benchmark protocol
([docs/protocol.md]({protocol_doc})) on the val split of
its dataset, every method the same way: box and mask AP (%) as mean ± std
over the seeds, ms/img the median (IQR) of batch-1 inference on the device
named, train memory the peak of a training step (CUDA max allocated, else
the resident memory of the process). The quick early-training check stops
after 200 iterations, far from convergence: it shows which methods start
learning, not where they end. A converged row (24 epochs) appears when its
run has finished.'''

Loaded = Tuple[Dict[str, List[RunRecord]], Dict[str, dict]]


def load_protocols(protocol_runs: Sequence[ProtocolRun]) -> List[Loaded]:
    """(finished runs, benchmark rows) of each results folder, read once;
    both empty for an absent folder."""
    return [(protocol_report.load_runs(pr.out),
             protocol_report.load_benchmark(pr.out))
            for pr in protocol_runs]


def spread_lines(pr: ProtocolRun, runs: dict, keys: set) -> List[str]:
    """:func:`~projects.benchmark.protocol_report.separations` of the
    methods ``keys`` against the protocol's others."""
    return protocol_report.separations(pr.proto, runs, keys)


def method_rows(folder: str, index: MethodIndex,
                protocol_runs: Sequence[ProtocolRun],
                loaded: Sequence[Loaded]) -> List[ResultRow]:
    """The rows of a method page's table: the papers' rows of the
    folder's configs, then each protocol's rows of the folder's methods
    that have a finished run."""
    rel = osp.relpath(folder, ROOT)
    rows = paper_rows(index, rel)
    for pr, (runs, bench) in zip(protocol_runs, loaded):
        keys = [m.key for m in pr.proto.methods
                if osp.dirname(osp.normpath(m.config)) == rel]
        rows += protocol_rows(pr.proto, runs, bench, index, pr.out,
                              pr.label, keys)
    return rows


def method_block(folder: str, index: MethodIndex,
                 protocol_runs: Sequence[ProtocolRun] = PROTOCOL_RUNS,
                 loaded: Optional[Sequence[Loaded]] = None) -> str:
    """The ``results`` block of ``<folder>/README.md``: the table
    (:func:`method_rows` in :data:`~projects.benchmark.tables.
    PAGE_COLUMNS`), what its sources mean, and per protocol with rows the
    comparisons against the spread of the seeds.

    Args:
        folder (str): a configs folder (absolute).
        index (MethodIndex): the metafiles.
        protocol_runs (Sequence[ProtocolRun]): the protocols' folders.
        loaded (Sequence[Loaded], optional): :func:`load_protocols` of
            ``protocol_runs`` (read here when not given).
    """
    loaded = loaded or load_protocols(protocol_runs)
    rows = method_rows(folder, index, protocol_runs, loaded)
    rel = osp.relpath(folder, ROOT)
    parts = [render(rows, PAGE_COLUMNS, folder)]
    if any(r.reported for r in rows):
        parts += ['', PAPER_NOTE]
    if not all(r.reported for r in rows):
        parts += ['', PROTOCOL_NOTE.format(protocol_doc=osp.relpath(
            osp.join(ROOT, 'docs', 'protocol.md'), folder))]
    for pr, (runs, _) in zip(protocol_runs, loaded):
        keys = {r.method for recs in runs.values() for r in recs
                if osp.dirname(osp.normpath(r.config)) == rel}
        if not keys:
            continue
        parts += ['', f'Against the spread of the seeds ({pr.label}):',
                  'the difference of the means against the sum of the '
                  'standard deviations.', '',
                  *(spread_lines(pr, runs, keys) or
                    ['- no comparison yet (needs 2+ seeds on both '
                     'sides)'])]
    return '\n'.join(parts)


def zoo_block(index: MethodIndex,
              pr: ProtocolRun = PROTOCOL_RUNS[HEADLINE],
              loaded: Optional[Loaded] = None) -> str:
    """README.md's ``zoo results``: the protocol report's table, links
    relative to the repository root, and the planned runs not finished
    yet."""
    runs, bench = loaded or load_protocols([pr])[0]
    link = osp.relpath(osp.join(pr.out, 'README.md'), ROOT)
    name = osp.basename(pr.out)
    return protocol_report.results_table(
        pr.proto, runs, bench, index, ROOT) + (
            '\n\n' + protocol_report.unfinished_line(pr.proto, runs) +
            '\n\nProtocol: [docs/protocol.md](docs/protocol.md); every run, '
            f'the learning curves, the claims and the cost: [{name}]'
            f'({link}).')


def targets(index: MethodIndex,
            protocol_runs: Sequence[ProtocolRun] = PROTOCOL_RUNS
            ) -> Iterator[Tuple[str, str, str]]:
    """(file, block name, new content) for every table of the docs."""
    loaded = load_protocols(protocol_runs)
    for meta in index.files:
        folder = osp.dirname(meta)
        yield osp.join(folder, 'README.md'), 'results', method_block(
            folder, index, protocol_runs, loaded)
    for path in sorted(glob.glob(osp.join(ROOT, 'docs', 'results', '*',
                                          'benchmark.md'))):
        page = osp.join(osp.dirname(path), 'README.md')
        if osp.isfile(page):
            with open(path) as f:
                yield page, 'benchmark.md', f.read()
    yield osp.join(ROOT, 'README.md'), 'zoo results', zoo_block(
        index, protocol_runs[HEADLINE], loaded[HEADLINE])


def obsolete(index: MethodIndex) -> List[str]:
    """Method pages that still have a block of :data:`OBSOLETE_BLOCKS`
    (delete it by hand: the ``results`` table holds its rows)."""
    found = []
    for meta in index.files:
        page = osp.join(osp.dirname(meta), 'README.md')
        if not osp.isfile(page):
            continue
        with open(page, encoding='utf-8') as f:
            text = f.read()
        found += [f'{osp.relpath(page, ROOT)} ({name})'
                  for name in OBSOLETE_BLOCKS if has_block(text, name)]
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--check', action='store_true',
                   help='write nothing; exit 1 if a file is out of date')
    args = p.parse_args(argv)
    index = MethodIndex(osp.join(ROOT, 'configs'))
    stale = []
    for path, name, content in targets(index):
        try:
            changed = write_block(path, name, content.strip(),
                                  dry_run=args.check)
        except ValueError as e:
            sys.exit(f'{osp.relpath(path, ROOT)}: {e}')
        if changed:
            stale.append(osp.relpath(path, ROOT))
    verb = 'out of date' if args.check else 'updated'
    for s in stale:
        print(f'{verb}: {s}')
    old = obsolete(index)
    for page in old:
        print(f'obsolete block, delete it: {page}')
    return 1 if ((args.check and stale) or old) else 0


if __name__ == '__main__':
    sys.exit(main())
