"""The zoo's benchmark (``tools/benchmark.py``): per-stage inference timing
(forward hooks on the modules a per-detector-type stage map names), FLOPs,
training step and memory in a separate process (with the device-independent
training state: saved tensors, parameters, gradients, optimizer state), AP
from tools/test.py's ``test_metrics.json``, method names and paper figures
from the metafiles, the Table IV report, and fp32 against bf16 / ONNX
Runtime with the machine's measured GMAC/s peak (roofline), the one
renderer of the results tables that the protocol report and the method
pages share (tables), and the one writer of the docs' generated Markdown
blocks (markdown_blocks)."""
from .coco_results import find_test_metrics, match_record
from .complexity import KeepOutputs, complexity
from .headline import headline, memory_ratios, paper_memory
from .markdown_blocks import (find_block, has_block, markers, replace_block,
                              write_block)
from projects.apis import (MetafileError, MethodIndex, build_model,
                           method_of, paper_figure)
from projects.layers.stage_map import (SINGLE_STAGE, TWO_STAGE, StageMap,
                                       register_stage_map, stage_map_of)
from .models import describe
from .plot import plot
from .precision import PRECISION_COLUMNS, precision_row, precision_section
from .render import render, rename_methods, write_markdown
from .report import TABLE_COLUMNS
from .roofline import measure as measure_roofline
from .roofline import roofline_fraction
from .saved_memory import SavedTensors, TrainState, measure_train_state
from .stage_timer import STAGES, StageTimer
from .tables import (PAGE_COLUMNS, REPORT_COLUMNS, ResultRow, paper_rows,
                     protocol_rows)

__all__ = [
    'StageTimer', 'STAGES', 'StageMap', 'SINGLE_STAGE', 'TWO_STAGE',
    'stage_map_of', 'register_stage_map', 'complexity', 'KeepOutputs',
    'build_model', 'describe', 'MethodIndex', 'MetafileError', 'method_of',
    'paper_figure', 'find_test_metrics', 'match_record', 'TABLE_COLUMNS',
    'memory_ratios', 'paper_memory', 'headline', 'plot', 'render',
    'rename_methods', 'write_markdown', 'SavedTensors', 'TrainState',
    'measure_train_state', 'PRECISION_COLUMNS', 'precision_row',
    'precision_section', 'measure_roofline', 'roofline_fraction', 'markers',
    'find_block', 'has_block', 'replace_block', 'write_block', 'ResultRow',
    'paper_rows', 'protocol_rows', 'PAGE_COLUMNS', 'REPORT_COLUMNS'
]
