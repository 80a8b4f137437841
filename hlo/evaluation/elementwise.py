"""Evaluator rules for the elementwise ops: unary and binary arithmetic, `compare`,
`select`, `clamp` and `convert`, with XLA's integer corner cases (see the package's
docstring) and f16 computed in f32 and rounded once.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .interpreter import EVALUATORS, rule


def _f16_in_f32(fn):
    """Wrap a NumPy function so f16 operands are computed in f32 and rounded once."""

    def apply(*xs):
        if xs[0].dtype == np.float16:
            return fn(*(x.astype(np.float32) for x in xs)).astype(np.float16)
        return fn(*xs)

    return apply


def _by_kind(float_fn, int_fn, pred_fn=None):
    """Dispatch on the first operand's kind (float / integer / pred)."""

    def apply(*xs):
        kind = xs[0].dtype.kind
        if kind in "fc":
            return float_fn(*xs)
        if kind == "b" and pred_fn is not None:
            return pred_fn(*xs)
        return int_fn(*xs)

    return apply


def _all_ones(dtype) -> np.ndarray:
    """-1 for signed types, the maximum for unsigned ones (XLA's x / 0)."""
    return np.invert(np.zeros((), dtype))


def _safe_divisor(x, y):
    """y with the trapping cases (y == 0, and INT_MIN / -1) replaced by 1, plus their masks."""
    zero = y == 0
    overflow = np.zeros(np.shape(y), bool)
    if x.dtype.kind == "i":
        overflow = (x == np.iinfo(x.dtype).min) & (y == -1)
    return np.where(zero | overflow, np.ones((), y.dtype), y), zero


def _int_divide(x, y):
    safe, zero = _safe_divisor(x, y)
    # x - fmod(x, y) is an exact multiple of y, so floor division of it truncates toward zero.
    q = (x - np.fmod(x, safe)) // safe
    return np.where(zero, _all_ones(x.dtype), q)  # INT_MIN / 1 already gave INT_MIN


def _int_remainder(x, y):
    safe, zero = _safe_divisor(x, y)
    return np.where(zero, x, np.fmod(x, safe))  # fmod has the dividend's sign, like C


def _int_power(x, y):
    """Exponentiation by squaring, wrapping like the hardware; a negative exponent gives
    x == 1 ? 1 : 0, as XLA defines it."""
    result = np.ones(np.broadcast_shapes(x.shape, y.shape), x.dtype)
    base = x.copy()
    negative = y < 0
    e = np.where(negative, np.zeros((), y.dtype), y)
    while np.any(e > 0):
        result = np.where((e & 1).astype(bool), result * base, result)
        base = base * base
        e = e >> 1
    return np.where(negative, (x == 1).astype(x.dtype), result)


def _shift_amount(x, y):
    """Shift amounts as unsigned (so negative ones count as huge) and the out-of-range mask."""
    unsigned = np.dtype(f"u{x.dtype.itemsize}")
    amount = y.view(unsigned) if y.dtype.kind == "i" else y
    too_big = amount >= x.dtype.itemsize * 8
    return np.where(too_big, 0, amount).astype(x.dtype), too_big


def _shift_left(x, y):
    amount, too_big = _shift_amount(x, y)
    return np.where(too_big, np.zeros((), x.dtype), np.left_shift(x, amount))


def _shift_right_logical(x, y):
    amount, too_big = _shift_amount(x, y)
    unsigned = np.dtype(f"u{x.dtype.itemsize}")
    shifted = np.right_shift(x.view(unsigned), amount.view(unsigned)).view(x.dtype)
    return np.where(too_big, np.zeros((), x.dtype), shifted)


def _shift_right_arithmetic(x, y):
    amount, too_big = _shift_amount(x, y)
    signed = np.dtype(f"i{x.dtype.itemsize}")
    sx = x.view(signed)
    # Shifting by width - 1 is the sign fill that XLA defines for oversized amounts.
    amount = np.where(too_big, x.dtype.itemsize * 8 - 1, amount.view(signed)).astype(signed)
    return np.right_shift(sx, amount).view(x.dtype)


def _sign(x):
    if x.dtype.kind == "f":
        return np.where(x == 0, x, np.sign(x))  # keeps -0.0 and NaN
    return np.sign(x)


def _round_afz(x):
    """Round half away from zero without the x + 0.5 double-rounding trap."""
    a = np.abs(x)
    whole = np.floor(a)
    up = (a - whole >= x.dtype.type(0.5)).astype(x.dtype)  # a - floor(a) is exact
    return np.copysign(whole + up, x)


def _logistic(x):
    # exp(-|x|) never overflows; pick the algebraically equal form that does not cancel.
    e = np.exp(-np.abs(x))
    one = x.dtype.type(1)
    return np.where(x >= 0, one / (one + e), e / (one + e))


def _erf(x):
    values = np.vectorize(math.erf, otypes=[np.float64])(x.astype(np.float64))
    return values.astype(x.dtype)


def _erfc(x):
    values = np.vectorize(math.erfc, otypes=[np.float64])(x.astype(np.float64))
    return values.astype(x.dtype)


def _rsqrt(x):
    return np.reciprocal(np.sqrt(x))


def _pred_power(x, y):
    return x | ~y  # x ** 0 == 1, and otherwise x


_UNARY: dict[str, Callable] = {
    "abs": np.abs,
    "negate": np.negative,
    "exponential": _f16_in_f32(np.exp),
    "exponential-minus-one": _f16_in_f32(np.expm1),
    "log": _f16_in_f32(np.log),
    "log-plus-one": _f16_in_f32(np.log1p),
    "tanh": _f16_in_f32(np.tanh),
    "logistic": _f16_in_f32(_logistic),
    "sqrt": _f16_in_f32(np.sqrt),
    "rsqrt": _f16_in_f32(_rsqrt),
    "cbrt": _f16_in_f32(np.cbrt),
    "floor": np.floor,
    "ceil": np.ceil,
    "round-nearest-afz": _round_afz,
    "round-nearest-even": np.rint,
    "sign": _sign,
    "sine": _f16_in_f32(np.sin),
    "cosine": _f16_in_f32(np.cos),
    "tan": _f16_in_f32(np.tan),
    "erf": _erf,
    "erfc": _erfc,
    "not": _by_kind(np.invert, np.invert, np.logical_not),
    "copy": np.copy,
    "is-finite": np.isfinite,
}

_BINARY: dict[str, Callable] = {
    "add": _f16_in_f32(np.add),  # on pred: or
    "subtract": _f16_in_f32(np.subtract),
    "multiply": _f16_in_f32(np.multiply),  # on pred: and
    "divide": _by_kind(_f16_in_f32(np.divide), _int_divide),
    "remainder": _by_kind(_f16_in_f32(np.fmod), _int_remainder),
    "maximum": np.maximum,  # propagates NaN, as XLA does
    "minimum": np.minimum,
    "power": _by_kind(_f16_in_f32(np.power), _int_power, _pred_power),
    "atan2": _f16_in_f32(np.arctan2),
    "and": np.bitwise_and,  # logical on pred
    "or": np.bitwise_or,
    "xor": np.bitwise_xor,
    "shift-left": _shift_left,
    "shift-right-arithmetic": _shift_right_arithmetic,
    "shift-right-logical": _shift_right_logical,
}

_COMPARISONS: dict[str, Callable] = {
    "EQ": np.equal, "NE": np.not_equal, "LT": np.less,
    "LE": np.less_equal, "GT": np.greater, "GE": np.greater_equal,
}

for _name, _fn in _UNARY.items():
    EVALUATORS.add(_name, lambda inst, ops, fn=_fn: fn(ops[0]))
for _name, _fn in _BINARY.items():
    EVALUATORS.add(_name, lambda inst, ops, fn=_fn: fn(ops[0], ops[1]))


@rule("compare")
def _compare(inst, ops):
    return _COMPARISONS[inst.attrs["direction"]](ops[0], ops[1])  # IEEE: NaN is unordered


@rule("select")
def _select(inst, ops):
    pred, on_true, on_false = ops
    return np.where(pred, on_true, on_false)


@rule("clamp")
def _clamp(inst, ops):
    low, x, high = ops
    return np.minimum(np.maximum(x, low), high)


@rule("convert")
def _convert(inst, ops):
    (x,) = ops
    target = inst.shape.element_type.np_dtype
    if target == np.bool_:
        return x != 0
    if x.dtype.kind == "c" and target.kind != "c":
        x = np.real(x)  # XLA converts a complex value to a real type by its real part
    if x.dtype.kind == "f" and target.kind in "iu":
        return _float_to_int(x, target)
    return x.astype(target)  # int -> int wraps; to float rounds to nearest


def _float_to_int(x, target):
    """Saturating conversion: NaN -> 0, out-of-range -> the type's min/max, else truncate."""
    info = np.iinfo(target)
    t = np.trunc(x.astype(np.float64))  # exact for f16/f32/f64; powers of two below too
    over = t >= 2.0 ** (info.bits - (target.kind == "i"))
    under = t < float(info.min)
    nan = np.isnan(t)
    result = np.where(over | under | nan, 0.0, t).astype(target)
    result = np.where(over, np.array(info.max, target), result)
    return np.where(under, np.array(info.min, target), result)
