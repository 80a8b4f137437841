"""FakeQuantWithMinMax{Args,Vars,VarsPerChannel}: quantize to num_bits and back, with
TensorFlow's nudging of [min, max] so that zero is exactly representable, in f32 as TF's
kernel computes it. The quantizing expression then runs in f64 from those f32 values,
which mirrors the fused multiply-adds of TF's CPU kernel: results equal TensorFlow's
up to an ulp."""

from __future__ import annotations

from ...hlo.dtypes import F32, F64
from .numerics import Math
from .registry import lowering


def fake_quant(ctx, node, x, low, high):
    """x clamped to the nudged [min, max] and rounded to its 2^num_bits - 1 steps; `low`
    and `high` are f32 instructions broadcast to x's shape."""
    bits = ctx.attr(node, "num_bits", 8)
    narrow = ctx.attr(node, "narrow_range", False)
    if not 2 <= bits <= 16:
        ctx.error(node, f"num_bits must be in [2, 16], got {bits}")
    if x.shape.element_type != F32:
        ctx.error(node, f"needs a float32 input, got {x.shape.element_type}")
    q_min, q_max = (1.0 if narrow else 0.0), float((1 << bits) - 1)
    m = Math(ctx, x)
    scale = m.div(m.sub(high, low), q_max - q_min)
    zero_from_min = m.sub(q_min, m.div(low, scale))
    zero = m.select(m.lt(zero_from_min, q_min), q_min,
                    m.select(m.gt(zero_from_min, q_max), q_max,
                             m.u("round-nearest-afz", zero_from_min)))
    nudged_min = m.mul(m.sub(q_min, zero), scale)
    nudged_max = m.mul(m.sub(q_max, zero), scale)
    shifted = m.sub(m.max(m.min(x, nudged_max), nudged_min), nudged_min)
    inverse = m.div(1.0, scale)
    w = Math(ctx, ctx.b.convert(shifted, F64))
    wide = [ctx.b.convert(v, F64) for v in (shifted, inverse, scale, nudged_min)]
    steps = w.floor(w.add(w.mul(wide[0], wide[1]), 0.5))
    return ctx.b.convert(w.add(w.mul(steps, wide[2]), wide[3]), F32)


@lowering("FakeQuantWithMinMaxArgs")
def _fake_quant_args(ctx, node, inputs):
    (x,) = inputs
    low, high = float(ctx.attr(node, "min", -6.0)), float(ctx.attr(node, "max", 6.0))
    if not low < high:
        ctx.error(node, f"needs min < max, got {low} and {high}")
    return fake_quant(ctx, node, x, ctx.full(low, F32, x.shape.dims),
                      ctx.full(high, F32, x.shape.dims))


@lowering("FakeQuantWithMinMaxVars")
def _fake_quant_vars(ctx, node, inputs):
    x, low, high = inputs
    if low.shape.rank or high.shape.rank:
        ctx.error(node, "min and max must be scalars")
    b = ctx.b
    return fake_quant(ctx, node, x, b.broadcast(low, x.shape.dims, ()),
                      b.broadcast(high, x.shape.dims, ()))


@lowering("FakeQuantWithMinMaxVarsPerChannel")
def _fake_quant_per_channel(ctx, node, inputs):
    # One [min, max] per element of the last dimension.
    x, low, high = inputs
    depth = x.shape.dims[-1] if x.shape.rank else 0
    if low.shape.dims != (depth,) or high.shape.dims != (depth,):
        ctx.error(node, f"min and max must have shape [{depth}] (the last dimension)")
    b = ctx.b
    last = (x.shape.rank - 1,)
    return fake_quant(ctx, node, x, b.broadcast(low, x.shape.dims, last),
                      b.broadcast(high, x.shape.dims, last))
