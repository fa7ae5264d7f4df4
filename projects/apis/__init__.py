"""The tools' API: config loading and preflight checks (data, classes,
model types, work dir), building a config's model with a checkpoint that
must fit, the metafiles' method names and paper figures, and demo input /
output."""
from .metafiles import MetafileError, MethodIndex, method_of, paper_figure
from .model import build_model, load_detector, strip_pretrained

__all__ = ['MetafileError', 'MethodIndex', 'method_of', 'paper_figure',
           'build_model', 'load_detector', 'strip_pretrained']
