"""Bitwise ops on integers: Invert, shifts and PopulationCount (BitwiseAnd/Or/Xor are
one HLO op each and live with the binary ops in math.py)."""

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
