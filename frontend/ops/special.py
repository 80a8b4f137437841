"""Special functions without an HLO opcode, composed from opcodes that exist (what XLA's
client library does for them): Erfc, Lgamma, Digamma, Erfinv, Ndtri, BesselI0e/I1e,
Igamma/Igammac, Betainc, Zeta and Polygamma.

Every function but one is computed in f64 (numerics.widened) by the compositions of
special_math.py and rounded once to the operand type, so f16 and f32 results are correctly
rounded up to the composition's own error (~1e-14 relative). Erfc of f16 and f32 operands
is the `erfc` opcode (computed in f32 by the backend, a few ulps: it is the exact GELU's, and
the f64 composition's continued fraction costs 40 divisions per element).
"""

from __future__ import annotations

from ...hlo.dtypes import F16, F32
from . import special_math
from .numerics import widened
from .registry import lowering

#: TF op -> f64 function of Math and its operands.
ELEMENTWISE = {
    "Lgamma": special_math.lgamma,
    "Digamma": special_math.digamma,
    "Erfinv": special_math.erfinv,
    "Ndtri": special_math.ndtri,
    "BesselI0e": special_math.bessel_i0e,
    "BesselI1e": special_math.bessel_i1e,
    "Zeta": special_math.zeta,
    "Polygamma": special_math.polygamma,
}


def _rule(fn):
    def rule(ctx, node, inputs):
        return widened(ctx, node, inputs, fn)

    rule.__doc__ = f"Lower with special_math.{fn.__name__} in f64."
    return rule


for _op, _fn in ELEMENTWISE.items():
    lowering(_op)(_rule(_fn))


@lowering("Erfc")
def _erfc(ctx, node, inputs):
    (x,) = inputs
    t = x.shape.element_type
    if t not in (F16, F32):
        return widened(ctx, node, inputs, special_math.erfc)
    result = ctx.b.unary("erfc", x if t == F32 else ctx.b.convert(x, F32))
    return result if t == F32 else ctx.b.convert(result, t)


@lowering("Igamma", "Igammac")
def _igamma(ctx, node, inputs):
    upper = node.op == "Igammac"
    return widened(ctx, node, inputs,
                   lambda m, a, x: special_math.igamma(m.ctx, a, x, upper))


@lowering("Betainc")
def _betainc(ctx, node, inputs):
    return widened(ctx, node, inputs, lambda m, a, b, x: special_math.betainc(m.ctx, a, b, x))
