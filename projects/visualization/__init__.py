"""Figures of what a model learned: prototypes and their mask
coefficients, BlendMask's bases and attention maps."""
from .prototype_figure import (NoPrototypesError, PrototypeData,
                               build_figure, extract, figure_panels,
                               load_image, load_model, prototype_kind,
                               save_png)

__all__ = ['NoPrototypesError', 'PrototypeData', 'build_figure', 'extract',
           'figure_panels', 'load_image', 'load_model', 'prototype_kind',
           'save_png']
