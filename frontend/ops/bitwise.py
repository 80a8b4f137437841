"""Bitwise ops on integers: Invert, shifts and PopulationCount (BitwiseAnd/Or/Xor are
one HLO op each and live with the binary ops in math.py); and ops on the bits of other
types: Bitcast and NextAfter."""

from __future__ import annotations

from ...hlo.dtypes import U8, dtype
from .registry import lowering, single


def _check_integer(ctx, node, x):
    if not x.shape.element_type.is_integer:
        ctx.error(node, f"needs an integer tensor, got {x.shape.element_type}")


@lowering("Invert")
def _invert(ctx, node, inputs):
    x = single(inputs)
    _check_integer(ctx, node, x)
    return ctx.b.unary("not", x)


@lowering("LeftShift")
def _left_shift(ctx, node, inputs):
    # A shift by a negative amount or by the width or more is implementation-defined in
    # TensorFlow; HLO defines it (0, or the sign for arithmetic shifts).
    x, y = inputs
    _check_integer(ctx, node, x)
    return ctx.binary(node, "shift-left", x, y)


@lowering("RightShift")
def _right_shift(ctx, node, inputs):
    # C++'s >>: arithmetic for signed types, logical for unsigned ones.
    x, y = inputs
    _check_integer(ctx, node, x)
    signed = x.shape.element_type.is_signed
    return ctx.binary(node, "shift-right-arithmetic" if signed else "shift-right-logical", x, y)


@lowering("PopulationCount")
def _population_count(ctx, node, inputs):
    # The SWAR count on the unsigned type of the same width: pairs, nibbles, then bytes
    # summed by a multiply whose top byte collects them.
    x = single(inputs)
    _check_integer(ctx, node, x)
    bits = x.shape.element_type.bits
    b = ctx.b
    u = dtype(f"u{bits}")
    v = x if x.shape.element_type == u else b.convert(x, u)

    def c(pattern_byte):
        return ctx.full(int.from_bytes(bytes([pattern_byte]) * (bits // 8), "little"), u,
                        v.shape.dims)

    def shr(y, n):
        return b.binary("shift-right-logical", y, ctx.full(n, u, v.shape.dims))

    v = b.binary("subtract", v, b.binary("and", shr(v, 1), c(0x55)))
    v = b.binary("add", b.binary("and", v, c(0x33)), b.binary("and", shr(v, 2), c(0x33)))
    v = b.binary("and", b.binary("add", v, shr(v, 4)), c(0x0F))
    if bits > 8:
        v = shr(b.binary("multiply", v, c(0x01)), bits - 8)
    return b.convert(v, U8)


@lowering("Bitcast")
def _bitcast(ctx, node, inputs):
    # HLO's bitcast-convert has TensorFlow's shape rule: a narrower type adds a minor
    # dimension, a wider one consumes a minor dimension of the width ratio.
    x = single(inputs)
    source, target = x.shape.element_type, ctx.dtype(node, "type")
    if source.bits < target.bits and (not x.shape.dims
                                      or x.shape.dims[-1] != target.bits // source.bits):
        ctx.error(node, f"cannot bitcast {x.shape.short()} to {target}: the last dimension "
                        f"must be {target.bits // source.bits}")
    return ctx.b.bitcast_convert(x, target)


@lowering("NextAfter")
def _next_after(ctx, node, inputs):
    # C's nextafter on the bits: NaN if either is NaN, `to` when equal (so +-0 takes to's
    # sign), the smallest subnormal of to's sign from a zero, else one step of the
    # integer bits away from zero or towards it.
    x, y = ctx.broadcast_pair(node, *inputs)
    t = x.shape.element_type
    if not t.is_float or t.bits not in (32, 64):
        ctx.error(node, f"needs float32 or float64 operands, got {t}")
    b = ctx.b
    s = dtype(f"s{t.bits}")
    xi, yi = b.bitcast_convert(x, s), b.bitcast_convert(y, s)

    def c(value):
        return ctx.full(value, s, x.shape.dims)

    sign_mask = -(1 << (t.bits - 1))
    x_abs, y_abs = (b.binary("and", v, c(~sign_mask)) for v in (xi, yi))
    x_sign, y_sign = (b.binary("and", v, c(sign_mask)) for v in (xi, yi))
    toward_zero = b.binary("or", b.compare(x_abs, y_abs, "GT"), b.compare(x_sign, y_sign, "NE"))
    stepped = b.binary("add", xi, b.select(toward_zero, c(-1), c(1)))
    from_zero = b.binary("or", y_sign, c(1))
    result = b.select(b.compare(x_abs, c(0), "EQ"), from_zero, stepped)
    result = b.select(b.compare(x, y, "EQ"), yi, result)
    nan = b.binary("or", b.compare(x, x, "NE"), b.compare(y, y, "NE"))
    result = b.select(nan, b.bitcast_convert(ctx.full(float("nan"), t, x.shape.dims), s), result)
    return b.bitcast_convert(result, t)
