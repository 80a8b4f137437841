"""The complex expansion pass: c64/c128 values become f32/f64 (real, imaginary) pairs
before any backend runs (see `expander`). Importing the package registers every family of
rules: `arithmetic`, `structure`, `fft`."""

from . import arithmetic, fft, structure  # noqa: F401  (register the rules)
from .expander import EXPANSIONS, ComplexExpansion, ComplexExpansionError, expanded_shape

__all__ = ["EXPANSIONS", "ComplexExpansion", "ComplexExpansionError", "expanded_shape"]
