"""Single-shot instance segmentation zoo on MMDetection 3.x.

Importing :mod:`projects` registers every head of the zoo in MMDetection's
``MODELS`` registry, its metric in ``METRICS`` and its engine pieces
(hooks, ``CPUBf16OptimWrapper``, the atomic checkpoint backend) in
MMEngine's; configs do it through ``custom_imports``. Every sub-package
but the tools' floors (:data:`TOOL_FLOORS`) is imported.

Floors, each importing only those below it and OpenMMLab (checked by
``tests/test_structure/test_import_layers.py``): ``layers`` (shared model
layers and the heads' declarations); the methods (``sais``, ``yolact``,
``solo``, ``condinst``, ``blendmask``, ``yolo_mask``); ``evaluation`` and
``engine``; ``apis`` (the tools' API); ``visualization``; ``deploy`` and
``benchmark``.
"""
import importlib
import pkgutil

#: floors above the methods, imported by the tools that use them
TOOL_FLOORS = ('apis', 'visualization', 'deploy', 'benchmark')

#: the packages imported here: the shared layers, every method (each in its
#: own folder, found here, so a new method touches no file outside it),
#: evaluation and engine
REGISTERING = tuple(
    info.name for info in sorted(pkgutil.iter_modules(__path__),
                                 key=lambda i: i.name)
    if info.ispkg and info.name not in TOOL_FLOORS)

for _name in REGISTERING:
    importlib.import_module(f'{__name__}.{_name}')

__all__ = list(REGISTERING)
