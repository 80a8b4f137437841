"""Helpers for rules that compose math from HLO elementwise ops: constants shaped like an
operand, working precision, polynomials and selects.

Ops without an HLO opcode (inverse trig, special functions) are computed in a wider type
where that is cheap: 16- and 32-bit floats in f64, so that the one rounding back to the
operand's type is the only visible error (TensorFlow's CPU kernels are accurate to a few
ulps; cancellation in a composed f32 formula would not be).
"""

from __future__ import annotations

from typing import Callable, Sequence

from ...hlo import Instruction
from ...hlo.dtypes import F64


class Math:
    """Elementwise arithmetic on instructions of one shape, with Python numbers as
    constants: `m.add(x, 1.0)`, `m.select(m.lt(x, 0), m.neg(x), x)`."""

    def __init__(self, ctx, like: Instruction):
        self.ctx, self.b = ctx, ctx.b
        self.t, self.dims = like.shape.element_type, like.shape.dims

    def c(self, value) -> Instruction:
        """`value` broadcast to the shape, or an instruction unchanged."""
        if isinstance(value, Instruction):
            return value
        return self.ctx.full(value, self.t, self.dims)

    def _bin(self, opcode, x, y):
        return self.b.binary(opcode, self.c(x), self.c(y))

    def add(self, x, y): return self._bin("add", x, y)  # noqa: E704
    def sub(self, x, y): return self._bin("subtract", x, y)  # noqa: E704
    def mul(self, x, y): return self._bin("multiply", x, y)  # noqa: E704
    def div(self, x, y): return self._bin("divide", x, y)  # noqa: E704
    def max(self, x, y): return self._bin("maximum", x, y)  # noqa: E704
    def min(self, x, y): return self._bin("minimum", x, y)  # noqa: E704
    def pow(self, x, y): return self._bin("power", x, y)  # noqa: E704

    def u(self, opcode: str, x) -> Instruction:
        """The unary HLO op `opcode` of x."""
        return self.b.unary(opcode, self.c(x))

    def neg(self, x): return self.u("negate", x)  # noqa: E704
    def abs(self, x): return self.u("abs", x)  # noqa: E704
    def exp(self, x): return self.u("exponential", x)  # noqa: E704
    def log(self, x): return self.u("log", x)  # noqa: E704
    def sqrt(self, x): return self.u("sqrt", x)  # noqa: E704
    def floor(self, x): return self.u("floor", x)  # noqa: E704

    def cmp(self, x, y, direction: str) -> Instruction:
        return self.b.compare(self.c(x), self.c(y), direction)

    def lt(self, x, y): return self.cmp(x, y, "LT")  # noqa: E704
    def le(self, x, y): return self.cmp(x, y, "LE")  # noqa: E704
    def gt(self, x, y): return self.cmp(x, y, "GT")  # noqa: E704
    def ge(self, x, y): return self.cmp(x, y, "GE")  # noqa: E704
    def eq(self, x, y): return self.cmp(x, y, "EQ")  # noqa: E704

    def select(self, pred, x, y) -> Instruction:
        return self.b.select(pred, self.c(x), self.c(y))

    def poly(self, x, coefficients: Sequence[float]) -> Instruction:
        """sum(coefficients[k] * x^(n-k)): Horner's scheme, highest power first."""
        result = self.c(coefficients[0])
        for a in coefficients[1:]:
            result = self.add(self.mul(result, x), a)
        return result


def in_working_precision(ctx, node, x: Instruction,
                         fn: Callable[[Math, Instruction], Instruction]) -> Instruction:
    """fn(m, w) on x converted to f64, converted back to x's float type."""
    t = x.shape.element_type
    if not t.is_float:
        ctx.error(node, f"the input must be a floating-point tensor, got {t}")
    w = x if t == F64 else ctx.b.convert(x, F64)
    result = fn(Math(ctx, w), w)
    return result if t == F64 else ctx.b.convert(result, t)


def widened(ctx, node, inputs: Sequence[Instruction], fn) -> Instruction:
    """fn(m, *ws) on float inputs of one type (broadcast NumPy-style first) in f64."""
    t = inputs[0].shape.element_type
    if not t.is_float or any(x.shape.element_type != t for x in inputs):
        ctx.error(node, f"inputs must be floating-point tensors of one type, got "
                        f"{[str(x.shape.element_type) for x in inputs]}")
    xs = list(inputs)
    # Twice: the first pass grows xs[0] to the common shape, the second brings every
    # other operand up to it.
    for _ in range(2):
        for k in range(1, len(xs)):
            xs[0], xs[k] = ctx.broadcast_pair(node, xs[0], xs[k])
    ws = [x if t == F64 else ctx.b.convert(x, F64) for x in xs]
    result = fn(Math(ctx, ws[0]), *ws)
    return result if t == F64 else ctx.b.convert(result, t)
