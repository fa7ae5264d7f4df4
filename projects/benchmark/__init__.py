"""The zoo's benchmark (``tools/benchmark.py``): per-stage inference timing,
FLOPs, training step and memory in a separate process, AP from
tools/test.py's ``test_metrics.json``, and the Table IV report."""
from .coco_results import find_test_metrics, match_record
from .complexity import complexity
from .models import build_model, describe
from .report import TABLE_COLUMNS, memory_ratios, plot, write_markdown
from .stage_timer import STAGES, StageTimer

__all__ = [
    'StageTimer', 'STAGES', 'complexity', 'build_model', 'describe',
    'find_test_metrics', 'match_record', 'TABLE_COLUMNS', 'memory_ratios',
    'plot', 'write_markdown'
]
