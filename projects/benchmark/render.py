"""``benchmark.md`` and ``latency_vs_mask_ap.png`` from a run's data (the
content of its ``benchmark.json``): written by ``tools/benchmark.py`` after
a run, and again by ``tools/benchmark.py --render JSON`` without running
anything, with method names and paper figures from the metafiles of now.
"""
import os.path as osp
from typing import List, Optional, Tuple

from projects.apis.metafiles import MethodIndex
from .headline import headline, memory_ratios, paper_memory
from .plot import plot
from .precision import has_precision, precision_section
from .report import (TABLE_COLUMNS, TRAIN_STATE_NOTE, breakdown_columns,
                     breakdown_row, has_train_state, machine_name, markdown,
                     table_row)

MARKDOWN, PLOT = 'benchmark.md', 'latency_vs_mask_ap.png'


def run_header(data: dict) -> str:
    """What was run, where and how: the paragraph above the tables.

    Args:
        data (dict): ``command``, ``time``, ``environment`` and
            ``settings`` (the tool's arguments) of a run.
    """
    env, s = data['environment'], data['settings']
    machine = machine_name(env)
    memory = ('CUDA max_memory_allocated' if env['device'] == 'cuda' else
              'the peak resident memory of that process')
    thp = (f", THP_MEM_ALLOC_ENABLE={env['thp_mem_alloc']} (PyTorch's CPU "
           'allocator asks for 2 MiB transparent huge pages)'
           if env.get('thp_mem_alloc') else '')
    return (f"`{data['command']}`\n\n{data['time']}; {env['device']} "
            f"({machine}, {env['threads']} threads{thp}), "
            f"torch {env['torch']}, "
            f"mmdet {env['mmdet']}, mmcv {env['mmcv']}. Inference: batch 1, "
            f"{s['warmup']} warm-up runs, then {s['runs']} rounds over the "
            f"first {s['images']} test images; ms/img is the median (IQR) "
            'of data pre-processing + backbone + neck + heads + '
            'post-processing (image decoding and resizing excluded). '
            f"Training: {s['train_steps']} timed steps after "
            f"{s['train_warmup']}, at the config's batch size, each config "
            f'in its own process; train memory is {memory}. AP, box AP: '
            'COCO mask / box AP (%) from tools/test.py.' +
            _precision_note(s))


def _precision_note(settings: dict) -> str:
    """What the main timing ran in, when not fp32 NCHW (runs from before
    the option render as they did)."""
    precision = settings.get('precision', 'fp32')
    if precision == 'fp32' and not settings.get('channels_last'):
        return ''
    layout = ', channels-last' if settings.get('channels_last') else ''
    return (f' Table IV and the breakdown: the network in {precision}'
            f'{layout} (projects/engine/inference_precision.py).')


def write_markdown(rows: List[dict], path: str, header: str,
                   paper: dict, roofline: Optional[dict] = None) -> str:
    """Write the tables and headline ratios to ``path``; return the text.

    Args:
        rows (list[dict]): benchmark rows.
        path (str): the Markdown file.
        header (str): :func:`run_header`.
        paper (dict): method -> (GB, source), see :func:`paper_memory`.
        roofline (dict, optional): the machine's peaks
            (:func:`projects.benchmark.roofline.measure`), for the
            precision table's "% of fp32 peak".
    """
    state = has_train_state(rows)
    precision = [precision_section(rows, roofline)] \
        if has_precision(rows) else []
    text = '\n\n'.join([
        header,
        markdown(TABLE_COLUMNS, [table_row(r) for r in rows]),
        'Latency breakdown (ms, median and IQR over the timed runs) and '
        'training step' + (f'; {TRAIN_STATE_NOTE}' if state else '') + ':',
        markdown(breakdown_columns(rows),
                 [breakdown_row(r, state) for r in rows]),
        *precision,
        headline(rows, paper)
    ]) + '\n'
    with open(path, 'w') as f:
        f.write(text)
    return text


def _config_method(config: str, index: MethodIndex) -> Optional[str]:
    """The config's method by its path, else by loading it; None when it
    is neither in a metafile nor a loadable file."""
    method = index.lookup(config)
    if method:
        return method
    from mmengine.config import Config
    for path in (config, osp.join(index.repo_root, config)):
        if osp.isfile(path):
            try:
                return index.method_of(config, Config.fromfile(path).model)
            except Exception:  # a config that no longer loads
                return None
    return None


def rename_methods(rows: List[dict], index: MethodIndex) -> List[str]:
    """Set each row's ``method`` from the metafiles by its ``config`` (see
    :meth:`MethodIndex.method_of`), in place.

    Returns:
        list[str]: names of the rows that keep the name stored in the run
        (the config is neither in a metafile nor loadable any more).
    """
    kept = []
    for row in rows:
        method = _config_method(row['config'], index)
        if method:
            row['method'] = method
        else:
            kept.append(row['name'])
    return kept


def render(data: dict, out_dir: str,
           index: MethodIndex) -> Tuple[str, List[dict], List[str]]:
    """Write :data:`MARKDOWN` and :data:`PLOT` of a run to ``out_dir``.

    Args:
        data (dict): a run's ``benchmark.json`` content; its rows carry
            ``method`` (see :func:`rename_methods`).
        out_dir (str): an existing folder.
        index (MethodIndex): the metafiles, for the paper figures.

    Returns:
        tuple: the Markdown text, :func:`memory_ratios` and the names of
        the rows left out of the plot.
    """
    rows, env = data['rows'], data['environment']
    paper = paper_memory(rows, index)
    md = write_markdown(rows, osp.join(out_dir, MARKDOWN), run_header(data),
                        paper, data.get('roofline'))
    left_out = plot(rows, osp.join(out_dir, PLOT),
                    f"{env['device']}: {machine_name(env)}")
    return md, memory_ratios(rows, paper), left_out
