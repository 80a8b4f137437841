"""The shape-rule table and its driver: `infer_shape(opcode, operand shapes, attrs)`.

One rule per opcode (or per category of elementwise ops, keyed "<category>"), in
`SHAPE_RULES`. The rules live in the family modules of this package (core, window,
indexing, control_flow), which register into the table; `aotc.hlo.shape_rules` imports them
all, so import `infer_shape` from there. The builder uses it to compute shapes; the verifier
uses it to check them. Each rule raises `ShapeError` with a message that says what is
inconsistent.
"""

from __future__ import annotations

from typing import Callable

from ..opcodes import info
from ..registry import Registry
from ..shape import Shape, ShapeError  # noqa: F401 (re-exported: rules raise it from here)


Rule = Callable[[str, list[Shape], dict, list], Shape]

#: opcode (or "<category>") -> fn(opcode, operand shapes, attrs, called computations) -> Shape.
SHAPE_RULES: Registry[Rule] = Registry("shape rule")


def rule(*opcodes: str):
    """Register the decorated function as the shape rule of `opcodes`."""
    return SHAPE_RULES.register(*opcodes)


def infer_shape(opcode: str, operands: list[Shape], attrs: dict, called=()) -> Shape:
    """The result shape of `opcode` applied to `operands` with `attrs`."""
    op = info(opcode)
    if op.arity >= 0 and len(operands) != op.arity:
        raise ShapeError(f"{opcode} takes {op.arity} operands, got {len(operands)}")
    fn = SHAPE_RULES.get(opcode) or SHAPE_RULES.get(f"<{op.category}>")
    if fn is None:
        raise ShapeError(f"no shape rule for {opcode}")
    return fn(opcode, list(operands), attrs, list(called))


def require(cond: bool, message: str) -> None:
    """Raise ShapeError(message) unless `cond` holds (what every rule checks with)."""
    if not cond:
        raise ShapeError(message)
