"""Shape inference: the result shape of an opcode given its operand shapes and attributes.

`inference` holds the table (`SHAPE_RULES`), `infer_shape` and `ShapeError`; each family
module (core, window, indexing, control_flow, complex) registers its rules into the table. Importing
this package imports every family once, so import `infer_shape` from here.
"""

from . import complex, control_flow, core, indexing, window  # noqa: F401  (register the rules)
from .inference import SHAPE_RULES, ShapeError, infer_shape

__all__ = ["SHAPE_RULES", "ShapeError", "infer_shape"]
