"""Scans: Cumsum, Cumprod and CumulativeLogsumexp as an HLO `reduce-window` whose window
spans the scanned axis (tf2xla's scan_ops.cc). The CPU backend runs such a reduce-window
as an O(n) running fold (backends/cpu/scan.py)."""

from __future__ import annotations

import math

from ...hlo import Builder, Instruction, Shape
from ...hlo.dtypes import F32
from ...hlo.window import make_window
from .registry import lowering, normalize_axis


def _log_add_exp(ctx, t):
    """(a, b) -> log(exp(a) + exp(b)) = max + log1p(exp(min - max)), with -inf + -inf
    giving -inf (not NaN from -inf - -inf)."""
    b = Builder(f"log_add_exp_{t.name}")
    suffix = next(Instruction._ids)  # parameter names are module-wide in HLO
    x = b.parameter(Shape(t), f"lhs.{suffix}")
    y = b.parameter(Shape(t), f"rhs.{suffix}")
    hi, lo = b.binary("maximum", x, y), b.binary("minimum", x, y)
    tail = b.unary("log-plus-one", b.unary("exponential", b.binary("subtract", lo, hi)))
    both_minus_inf = b.compare(hi, b.constant(-math.inf, t), "EQ")
    b.select(both_minus_inf, hi, b.binary("add", hi, tail))
    return b.build()


#: Scan op -> (identity, the combiner computation for an element type).
SCANS = {
    "Cumsum": (0, lambda ctx, t: ctx.reducer("add", t)),
    "Cumprod": (1, lambda ctx, t: ctx.reducer("multiply", t)),
    "CumulativeLogsumexp": (-math.inf, _log_add_exp),
}


@lowering(*SCANS)
def _scan(ctx, node, inputs):
    """out[i] = x[0] (+) ... (+) x[i] (j < i when exclusive; j >= i, j > i when reverse):
    a reduce-window whose window spans the whole axis, padded with the identity so that
    window i ends (or, reversed, starts) at element i. Exclusive scans shift the input by
    one first."""
    x, axis_input = inputs
    axes = ctx.static_ints(node, axis_input, "axis")
    if len(axes) != 1:
        ctx.error(node, f"axis must be a scalar, got {axes}")
    if x.shape.rank == 0:
        ctx.error(node, "input must have rank >= 1")
    identity, combiner = SCANS[node.op]
    t = x.shape.element_type
    if node.op == "CumulativeLogsumexp" and not t.is_float:
        ctx.error(node, f"needs a floating-point input, got {t}")
    axis = normalize_axis(ctx, node, axes[0], x.shape.rank)
    size = x.shape.dims[axis]
    if size == 0:
        return x
    reverse = ctx.attr(node, "reverse", False)
    b = ctx.b
    wide = t.is_float and t.bits < 32
    operand = b.convert(x, F32) if wide else x
    work = operand.shape.element_type
    init = b.constant(identity, work)
    if ctx.attr(node, "exclusive", False):
        shift = [(0, 0, 0)] * x.shape.rank
        shift[axis] = (-1, 1, 0) if reverse else (1, -1, 0)
        operand = b.pad(operand, init, shift)
    sizes = [1] * x.shape.rank
    sizes[axis] = size
    padding = [(0, 0)] * x.shape.rank
    padding[axis] = (0, size - 1) if reverse else (size - 1, 0)
    result = b.reduce_window(operand, init, make_window(sizes, None, padding),
                             combiner(ctx, work))
    return b.convert(result, t) if wide else result
