"""Write every results table of the docs from the benchmark's committed
runs, so that no measured number in README.md or a method page is typed by
hand.

    python tools/misc/update_results_tables.py [--check]

Each table lives between ``<!-- NAME: begin -->`` and ``<!-- NAME: end -->``
markers (read and written by :mod:`projects.benchmark.markdown_blocks`):

- ``results`` in ``configs/<method>/README.md``: one row per benchmark row
  (every ``docs/results/*/benchmark.json``) whose config lies in that
  folder: the config (linked), the method's display name from the folder's
  ``metafile.yml``, COCO mask and box AP (%), median latency (ms per image)
  and peak training memory (GiB) on the run's device, the run (linked);
- ``benchmark.md`` in ``docs/results/<run>/README.md``: that run's
  ``benchmark.md`` (which ``tools/benchmark.py --render`` writes from its
  JSON);
- ``zoo results`` in README.md: the benchmark protocol's table (mean ±
  std over seeds, ``docs/results/<PROTOCOL_RUN>``, written by
  ``tools/protocol.py``); before that folder has runs, the rows of
  ``docs/results/<MAIN_RUN>``;
- ``protocol`` in ``configs/<method>/README.md``: the protocol table's rows
  of the folder's methods and, for those with several seeds, which
  differences to the others are larger than the spread.

``--check`` writes nothing and exits 1 when a file is out of date (the
tests run it).
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import Dict, Iterator, List, Optional, Tuple

import dataclasses

from projects.benchmark import protocol_report
from projects.apis.metafiles import MethodIndex
from projects.benchmark.markdown_blocks import write_block
from projects.benchmark.protocol import FERAL_CATS, Protocol
from projects.benchmark.report import train_memory_mib

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MAIN_RUN = 'fruits_nuts_cpu'  # the run README.md showed before the protocol
PROTOCOL_RUN = 'feral_cats_cpu'  # the protocol's results README.md shows


def _ap(row: dict, kind: str) -> str:
    ap = (row.get('ap') or {}).get(kind)
    if ap is None:
        return '-'
    return f"{ap['AP']:.1f}" if isinstance(ap, dict) and 'AP' in ap \
        else '0.0'  # `{}`: CocoMetric found no detections, COCO's AP is 0


def _train_gib(row: dict) -> str:
    mib = train_memory_mib(row)
    return f'{mib / 1024:.2f}' if mib else '-'


def _latency(row: dict) -> str:
    total = (row.get('latency_stats') or {}).get('total')
    return f"{total['median']:.0f}" if total else '-'


def method_names(index: MethodIndex,
                 folder: Optional[str] = None) -> Dict[str, str]:
    """``configs/<method>/x.py`` -> display name, for the Models the
    metafiles list (only those of ``folder`` when given)."""
    where = osp.relpath(folder, ROOT) if folder else None
    return {m.config: m.collection for m in index.models
            if m.config and (where is None or osp.dirname(m.config) == where)}


def load_runs(paths: List[str]) -> List[Tuple[str, dict]]:
    """(path, content) of each ``benchmark.json``, each read once."""
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append((path, json.load(f)))
    return runs


def table(folder: str, runs: List[Tuple[str, dict]],
          names: Dict[str, str]) -> str:
    """The Markdown results table of the configs that ``names`` lists
    (config -> method, see :func:`method_names`) over ``runs`` (see
    :func:`load_runs`), with links relative to ``folder``."""
    lines = [
        '| config | method | data (val) | input | mask AP | box AP | '
        'ms/img | train memory (GiB) | run |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'
    ]
    page_dir = osp.join(ROOT, osp.relpath(folder, ROOT))
    for run, bench in runs:
        env = bench.get('environment', {})
        device = f"{env.get('device', '?')}, {env.get('threads', '?')} " \
            'threads'
        run_dir = osp.dirname(run)
        run_link = osp.relpath(osp.join(run_dir, 'README.md'), page_dir)
        for row in bench['rows']:
            if row['config'] not in names:
                continue
            cfg_link = osp.relpath(osp.join(ROOT, row['config']), page_dir)
            data = osp.basename(row['config']).split('_')[-1].rsplit(
                '-', 1)[0]
            lines.append(
                f"| [{osp.basename(row['config'])}]({cfg_link}) | "
                f"{names[row['config']]} | {data} | "
                f"{row.get('input_size', '-')} | {_ap(row, 'segm')} | "
                f"{_ap(row, 'bbox')} | {_latency(row)} ({device}) | "
                f'{_train_gib(row)} | [{osp.basename(run_dir)}]'
                f'({run_link}) |')
    if len(lines) == 2:
        lines.append('| no benchmark run has measured these configs yet '
                     '| | | | | | | | |')
    return '\n'.join(lines)


def protocol_blocks(index: MethodIndex, proto: Protocol = FERAL_CATS,
                    run: str = PROTOCOL_RUN) -> Dict[str, str]:
    """``{'README.md': table, 'configs/<method>': rows and spread}`` from
    the protocol's results folder; empty when it has no finished run."""
    out = osp.join(ROOT, 'docs', 'results', run)
    runs = protocol_report.load_runs(out)
    if not runs:
        return {}
    bench = protocol_report.load_benchmark(out)
    link = f'docs/results/{run}/README.md'
    blocks = {'README.md': protocol_report.results_table(
        proto, runs, bench, index) + (
            f'\n\nProtocol: [docs/protocol.md](docs/protocol.md); every run, '
            f'the learning curves, the lr probe and the cost: [{run}]'
            f'({link}).')}
    spread = protocol_report.separations(proto, runs)
    for folder in sorted({osp.dirname(m.config) for m in proto.methods}):
        mine = tuple(m for m in proto.methods
                     if osp.dirname(m.config) == folder)
        keys = {m.key for m in mine}
        lines = [ln for ln in spread
                 if set(ln[2:].split(':')[0].split(' vs ')) & keys]
        blocks[folder] = '\n'.join([
            protocol_report.results_table(
                dataclasses.replace(proto, methods=mine), runs, bench, index),
            '', 'Against the spread of the seeds (the difference of the means '
            'against the sum of the standard deviations):', '',
            *(lines or ['- no comparison yet (needs 2+ seeds on both '
                        'sides)']), '',
            f'Protocol and every run: [{run}](../../{link}).'])
    return blocks


def targets(runs: List[Tuple[str, dict]],
            index: MethodIndex) -> Iterator[Tuple[str, str, str]]:
    """(file, block name, new content) for every table of the docs."""
    proto_blocks = protocol_blocks(index)
    for meta in index.files:
        folder = osp.dirname(meta)
        yield osp.join(folder, 'README.md'), 'results', table(
            folder, runs, method_names(index, folder))
        rel = osp.relpath(folder, ROOT)
        if rel in proto_blocks:
            yield osp.join(folder, 'README.md'), 'protocol', \
                proto_blocks[rel]
    for run, _ in runs:
        run_dir = osp.dirname(run)
        page = osp.join(run_dir, 'README.md')
        md = osp.join(run_dir, 'benchmark.md')
        if osp.isfile(page) and osp.isfile(md):
            with open(md) as f:
                yield page, 'benchmark.md', f.read()
    main_run = [r for r in runs if osp.basename(osp.dirname(r[0])) ==
                MAIN_RUN]
    if 'README.md' in proto_blocks:
        yield osp.join(ROOT, 'README.md'), 'zoo results', \
            proto_blocks['README.md']
    elif main_run:
        yield osp.join(ROOT, 'README.md'), 'zoo results', table(
            ROOT, main_run, method_names(index))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--check', action='store_true',
                   help='write nothing; exit 1 if a file is out of date')
    args = p.parse_args(argv)
    runs = load_runs(sorted(glob.glob(
        osp.join(ROOT, 'docs', 'results', '*', 'benchmark.json'))))
    index = MethodIndex(osp.join(ROOT, 'configs'))
    stale = []
    for path, name, content in targets(runs, index):
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
    return 1 if (args.check and stale) else 0


if __name__ == '__main__':
    sys.exit(main())
