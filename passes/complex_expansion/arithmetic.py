"""Expansions of the elementwise ops on complex values into real formulas on the parts
(a + bi, c + di), computed in the component type:

- multiply: (ac - bd, ad + bc), as XLA emits it.
- divide: Smith's algorithm (scale by the larger of |c|, |d|), so that no intermediate
  overflows where the quotient does not; within a few ulps of the quotient's magnitude.
- abs: hypot-style, m * sqrt(1 + (n/m)^2) with m = max(|a|, |b|), n = min(|a|, |b|): no
  overflow or underflow in the square; 0 for 0, inf when a part is infinite.
- exp: e^a (cos b, sin b), with an imaginary part of exactly b where b == 0.
- log: (log |z|, atan2(b, a)).
- sqrt: t = sqrt(|z|/2 + |a|/2); (t, b / 2t) for a >= 0, else (|b| / 2t, +-t with b's
  sign); 0 stays 0. rsqrt is 1 / sqrt(z) by the division above.
- compare EQ / NE: both parts equal / either differs.
"""

from __future__ import annotations

from .expander import Expander, expansion, unsupported


def multiply(x: Expander, a, b, c, d):
    return (x.op("subtract", x.op("multiply", a, c), x.op("multiply", b, d)),
            x.op("add", x.op("multiply", a, d), x.op("multiply", b, c)))


def divide(x: Expander, a, b, c, d):
    """(a + bi) / (c + di) by Smith's algorithm."""
    wide_c = x.b.compare(x.op("abs", c), x.op("abs", d), "GE")
    # |c| >= |d|: r = d/c, den = c + d r, ((a + b r) / den, (b - a r) / den)
    r1 = x.op("divide", d, c)
    den1 = x.op("add", c, x.op("multiply", d, r1))
    re1 = x.op("divide", x.op("add", a, x.op("multiply", b, r1)), den1)
    im1 = x.op("divide", x.op("subtract", b, x.op("multiply", a, r1)), den1)
    # otherwise: r = c/d, den = c r + d, ((a r + b) / den, (b r - a) / den)
    r2 = x.op("divide", c, d)
    den2 = x.op("add", x.op("multiply", c, r2), d)
    re2 = x.op("divide", x.op("add", x.op("multiply", a, r2), b), den2)
    im2 = x.op("divide", x.op("subtract", x.op("multiply", b, r2), a), den2)
    return x.b.select(wide_c, re1, re2), x.b.select(wide_c, im1, im2)


def modulus(x: Expander, a, b):
    """|a + bi| without overflow or underflow of the squares."""
    abs_a, abs_b = x.op("abs", a), x.op("abs", b)
    big, small = x.op("maximum", abs_a, abs_b), x.op("minimum", abs_a, abs_b)
    zero, one, inf = x.full(0, big), x.full(1, big), x.full(float("inf"), big)
    ratio = x.op("divide", small, x.b.select(x.b.compare(big, zero, "EQ"), one, big))
    scaled = x.op("multiply", big, x.op("sqrt", x.op("add", one, x.op("multiply", ratio, ratio))))
    return x.b.select(x.b.compare(big, inf, "EQ"), big, scaled)


def square_root(x: Expander, a, b):
    half = x.full(0.5, a)
    t = x.op("sqrt", x.op("add", x.op("multiply", modulus(x, a, b), half),
                          x.op("multiply", x.op("abs", a), half)))
    zero = x.full(0, a)
    is_zero = x.b.compare(t, zero, "EQ")
    two_t = x.op("add", t, t)
    safe = x.b.select(is_zero, x.full(1, a), two_t)
    other = x.op("divide", b, safe)  # b / 2t
    positive = x.b.compare(a, zero, "GE")
    re = x.b.select(positive, t, x.op("abs", other))
    signed_t = x.b.select(x.b.compare(b, zero, "LT"), x.op("negate", t), t)
    im = x.b.select(positive, other, signed_t)
    return x.b.select(is_zero, zero, re), x.b.select(is_zero, b, im)


def _unary(formula):
    def rule(x: Expander, inst, ops):
        return x.join(*formula(x, *x.parts(ops[0])))
    return rule


def _binary(formula):
    def rule(x: Expander, inst, ops):
        return x.join(*formula(x, *x.parts(ops[0]), *x.parts(ops[1])))
    return rule


def _exp(x: Expander, a, b):
    e = x.op("exponential", a)
    im = x.op("multiply", e, x.op("sine", b))
    return (x.op("multiply", e, x.op("cosine", b)),
            x.b.select(x.b.compare(b, x.full(0, b), "EQ"), b, im))


def _log(x: Expander, a, b):
    return x.op("log", modulus(x, a, b)), x.op("atan2", b, a)


def _rsqrt(x: Expander, a, b):
    return divide(x, x.full(1, a), x.full(0, a), *square_root(x, a, b))


expansion("multiply")(_binary(multiply))
expansion("divide")(_binary(divide))
expansion("exponential")(_unary(_exp))
expansion("log")(_unary(_log))
expansion("sqrt")(_unary(square_root))
expansion("rsqrt")(_unary(_rsqrt))


@expansion("add", "subtract", "negate", "copy")
def _on_pairs(x: Expander, inst, ops):
    """Part by part: the same op on the pair arrays."""
    return x.op(inst.opcode, *ops)


@expansion("abs")
def _abs(x: Expander, inst, ops):
    return modulus(x, *x.parts(ops[0]))


@expansion("compare")
def _compare(x: Expander, inst, ops):
    (a, b), (c, d) = x.parts(ops[0]), x.parts(ops[1])
    direction = inst.attrs["direction"]
    combine = {"EQ": "and", "NE": "or"}.get(direction)
    if combine is None:
        raise unsupported(inst, f"complex values have no order ({direction})")
    return x.op(combine, x.b.compare(a, c, direction), x.b.compare(b, d, direction))


@expansion("select")
def _select(x: Expander, inst, ops):
    pred, on_true, on_false = ops
    rank = pred.shape.rank
    wide = x.b.broadcast(pred, on_true.shape.dims, list(range(rank)))
    return x.b.select(wide, on_true, on_false)


@expansion("convert")
def _convert(x: Expander, inst, ops):
    (value,) = ops
    source, target = inst.operands[0].shape.element_type, inst.shape.element_type
    if source.is_complex and target.is_complex:
        return x.b.convert(value, target.component)
    if target.is_complex:  # a real value: imaginary part zero
        re = x.b.convert(value, target.component)
        return x.join(re, x.full(0, re))
    re, im = x.parts(value)
    if target.is_pred:
        zero = x.full(0, re)
        return x.op("or", x.b.compare(re, zero, "NE"), x.b.compare(im, zero, "NE"))
    return x.b.convert(re, target)  # XLA keeps the real part


@expansion("complex")
def _complex(x: Expander, inst, ops):
    return x.join(*ops)


@expansion("real", "imag")
def _part(x: Expander, inst, ops):
    (z,) = ops
    if not inst.operands[0].shape.element_type.is_complex:  # real(r) = r, imag(r) = 0
        return z if inst.opcode == "real" else x.full(0, z)
    return x.parts(z)[inst.opcode == "imag"]


@expansion("dot")
def _dot(x: Expander, inst, ops):
    (a, b), (c, d) = x.parts(ops[0]), x.parts(ops[1])

    def dot(lhs, rhs):
        return x.b.add("dot", [lhs, rhs], inst.attrs)

    return x.join(x.op("subtract", dot(a, c), dot(b, d)), x.op("add", dot(a, d), dot(b, c)))
