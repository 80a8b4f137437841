"""Elementwise operations on one element: a registry with one emission rule per opcode.

A rule gets the CodeGen, the operands' element type and the operand values (in registers:
i1 for pred, the compute type for floats) and returns the result value. f16 operands are
widened to f32 by `emit_elementwise` before the rule runs and the result narrowed after,
so rules only ever see f32/f64 floats. Semantics follow XLA (and the NumPy evaluator):
integer division by zero gives -1 (all ones), maximum/minimum propagate NaN, shifts by
too much give 0 (or the sign fill), float-to-int conversion saturates with NaN -> 0.
"""

from __future__ import annotations

import math as pymath
from typing import Callable

import llvmlite.ir as ir

from aotc.hlo.dtypes import DTYPES, DType
from aotc.hlo.registry import Registry

from . import math, math_f32
from .codegen import CodeGen
from .half import float_to_half, half_to_float
from .llvm_types import F32, F64, I1, register_type

Rule = Callable[..., ir.Value]
#: opcode -> fn(codegen, dtype, *operand values) -> the scalar result.
SCALAR_RULES: Registry[Rule] = Registry("CPU scalar rule")


def elementwise(*opcodes: str):
    """Register the decorated function as the scalar code of elementwise `opcodes`."""
    return SCALAR_RULES.register(*opcodes)


def emit_elementwise(cg: CodeGen, opcode: str, dtype: DType, values: list[ir.Value]) -> ir.Value:
    """The result of unary/binary elementwise `opcode` on operands of element type `dtype`."""
    try:
        rule = SCALAR_RULES[opcode]
    except KeyError:
        raise NotImplementedError(f"CPU backend: no elementwise rule for {opcode}") from None
    if dtype.name != "f16":
        return rule(cg, dtype, *values)
    wide = [half_to_float(cg, v) for v in values]
    result = rule(cg, DTYPES["f32"], *wide)
    return float_to_half(cg, result) if result.type == F32 else result


def _const(ty: ir.Type, value) -> ir.Constant:
    return ir.Constant(ty, value)


def _all_ones(ty: ir.IntType) -> ir.Constant:
    return ir.Constant(ty, (1 << ty.width) - 1)


# -- arithmetic -----------------------------------------------------------------------------


@elementwise("add")
def _add(cg, t, x, y):
    b = cg.builder
    return b.fadd(x, y) if t.is_float else b.or_(x, y) if t.is_pred else b.add(x, y)


@elementwise("subtract")
def _subtract(cg, t, x, y):
    b = cg.builder
    return b.fsub(x, y) if t.is_float else b.xor(x, y) if t.is_pred else b.sub(x, y)


@elementwise("multiply")
def _multiply(cg, t, x, y):
    b = cg.builder
    return b.fmul(x, y) if t.is_float else b.and_(x, y) if t.is_pred else b.mul(x, y)


def _safe_divisor(cg, t, x, y):
    """y with the trapping divisors (0, and -1 under INT_MIN) replaced by 1; and y == 0."""
    b = cg.builder
    zero = b.icmp_unsigned("==", y, _const(y.type, 0))
    bad = zero
    if t.is_signed:
        int_min = _const(x.type, -(1 << (t.bits - 1)))
        overflow = b.and_(b.icmp_signed("==", x, int_min), b.icmp_signed("==", y, _all_ones(y.type)))
        bad = b.or_(zero, overflow)
    return b.select(bad, _const(y.type, 1), y), zero


@elementwise("divide")
def _divide(cg, t, x, y):
    b = cg.builder
    if t.is_float:
        return b.fdiv(x, y)
    safe, zero = _safe_divisor(cg, t, x, y)
    quotient = b.sdiv(x, safe) if t.is_signed else b.udiv(x, safe)
    return b.select(zero, _all_ones(x.type), quotient)  # INT_MIN / -1 became INT_MIN / 1


@elementwise("remainder")
def _remainder(cg, t, x, y):
    b = cg.builder
    if t.is_float:
        return _via_f64(cg, t, lambda a, c, p: math.fmod(cg, a, c, p), x, y, precision=True)
    safe, zero = _safe_divisor(cg, t, x, y)
    rest = b.srem(x, safe) if t.is_signed else b.urem(x, safe)
    return b.select(zero, x, rest)


def _nan_propagating(cg, t, x, y, float_pick: str, signed_pick: str):
    b = cg.builder
    if t.is_float:
        picked = b.select(b.fcmp_ordered(float_pick, x, y), x, y)  # NaN y falls through to y
        return b.select(b.fcmp_unordered("uno", x, x), x, picked)
    compare = b.icmp_signed if t.is_signed and not t.is_pred else b.icmp_unsigned
    return b.select(compare(signed_pick, x, y), x, y)


@elementwise("maximum")
def _maximum(cg, t, x, y):
    return _nan_propagating(cg, t, x, y, ">", ">")


@elementwise("minimum")
def _minimum(cg, t, x, y):
    return _nan_propagating(cg, t, x, y, "<", "<")


@elementwise("power")
def _power(cg, t, x, y):
    b = cg.builder
    if t.is_float:
        return _via_f64(cg, t, lambda a, c, p: math.power(cg, a, c, p), x, y, precision=True)
    if t.is_pred:
        return b.or_(x, b.not_(y))  # x ** 0 == 1, otherwise x
    # Exponentiation by squaring over every exponent bit (branch-free, so it vectorizes).
    result, base, exponent = _const(x.type, 1), x, y
    negative = b.icmp_signed("<", y, _const(y.type, 0)) if t.is_signed else cg.bool_const(False)
    one = _const(y.type, 1)
    for _ in range(t.bits):
        bit = b.trunc(b.and_(exponent, one), I1)
        result = b.select(bit, b.mul(result, base), result)
        base = b.mul(base, base)
        exponent = b.lshr(exponent, one)
    x_is_one = b.zext(b.icmp_signed("==", x, _const(x.type, 1)), x.type)
    return b.select(negative, x_is_one, result)  # XLA: x ** -n is 0 unless x == 1


@elementwise("atan2")
def _atan2(cg, t, y, x):
    return _via_f64(cg, t, lambda a, c, p: math.atan2(cg, a, c, p), y, x, precision=True)


# -- bitwise --------------------------------------------------------------------------------


@elementwise("and")
def _and(cg, t, x, y):
    return cg.builder.and_(x, y)


@elementwise("or")
def _or(cg, t, x, y):
    return cg.builder.or_(x, y)


@elementwise("xor")
def _xor(cg, t, x, y):
    return cg.builder.xor(x, y)


@elementwise("not")
def _not(cg, t, x):
    return cg.builder.xor(x, _all_ones(x.type))


def _shift(cg, t, x, y, shift, oversized):
    """Shift with XLA's rule for amounts >= the width (read as unsigned): `oversized(x)`."""
    b = cg.builder
    too_big = b.icmp_unsigned(">=", y, _const(y.type, t.bits))
    shifted = shift(x, b.select(too_big, _const(y.type, 0), y))
    return b.select(too_big, oversized(x), shifted)


@elementwise("shift-left")
def _shift_left(cg, t, x, y):
    return _shift(cg, t, x, y, cg.builder.shl, lambda x: _const(x.type, 0))


@elementwise("shift-right-logical")
def _shift_right_logical(cg, t, x, y):
    return _shift(cg, t, x, y, cg.builder.lshr, lambda x: _const(x.type, 0))


@elementwise("shift-right-arithmetic")
def _shift_right_arithmetic(cg, t, x, y):
    fill = lambda x: cg.builder.ashr(x, _const(x.type, t.bits - 1))  # noqa: E731
    return _shift(cg, t, x, y, cg.builder.ashr, fill)


# -- unary ----------------------------------------------------------------------------------


@elementwise("copy")
def _copy(cg, t, x):
    return x


@elementwise("negate")
def _negate(cg, t, x):
    return cg.builder.fneg(x) if t.is_float else cg.builder.sub(_const(x.type, 0), x)


@elementwise("abs")
def _abs(cg, t, x):
    b = cg.builder
    if t.is_float:
        return cg.call_intrinsic("llvm.fabs", x)
    if not t.is_signed:
        return x
    return b.select(b.icmp_signed("<", x, _const(x.type, 0)), b.sub(_const(x.type, 0), x), x)


@elementwise("sign")
def _sign(cg, t, x):
    b = cg.builder
    if t.is_float:
        keep = b.or_(b.fcmp_ordered("==", x, _const(x.type, 0.0)), b.fcmp_unordered("uno", x, x))
        return b.select(keep, x, cg.call_intrinsic("llvm.copysign", _const(x.type, 1.0), x))
    zero = _const(x.type, 0)
    positive = b.zext(b.icmp_unsigned("!=", x, zero) if not t.is_signed
                      else b.icmp_signed(">", x, zero), x.type)
    if not t.is_signed:
        return positive
    return b.sub(positive, b.zext(b.icmp_signed("<", x, zero), x.type))


@elementwise("sqrt")
def _sqrt(cg, t, x):
    return cg.call_intrinsic("llvm.sqrt", x)


@elementwise("rsqrt")
def _rsqrt(cg, t, x):
    return cg.builder.fdiv(_const(x.type, 1.0), cg.call_intrinsic("llvm.sqrt", x))


def _magic_round_even(cg, x):
    """Round to nearest-even without libm: (|x| + 2^p) - 2^p, for |x| < 2^p."""
    b = cg.builder
    p = 2.0 ** (52 if x.type == F64 else 23)
    a = cg.call_intrinsic("llvm.fabs", x)
    rounded = b.fsub(b.fadd(a, _const(x.type, p)), _const(x.type, p))
    rounded = cg.call_intrinsic("llvm.copysign", rounded, x)
    return b.select(b.fcmp_ordered("<", a, _const(x.type, p)), rounded, x)  # NaN kept


def _floor_value(cg, x):
    if cg.target.has_native_rounding:
        return cg.call_intrinsic("llvm.floor", x)
    r = _magic_round_even(cg, x)
    return cg.builder.select(cg.builder.fcmp_ordered(">", r, x), cg.builder.fsub(r, _const(x.type, 1.0)), r)


def _ceil_value(cg, x):
    if cg.target.has_native_rounding:
        return cg.call_intrinsic("llvm.ceil", x)
    r = _magic_round_even(cg, x)
    return cg.builder.select(cg.builder.fcmp_ordered("<", r, x), cg.builder.fadd(r, _const(x.type, 1.0)), r)


def _trunc_value(cg, x):
    if cg.target.has_native_rounding:
        return cg.call_intrinsic("llvm.trunc", x)
    negative = cg.builder.fcmp_ordered("<", x, _const(x.type, 0.0))
    return cg.builder.select(negative, _ceil_value(cg, x), _floor_value(cg, x))


@elementwise("floor")
def _floor(cg, t, x):
    return _floor_value(cg, x)


@elementwise("ceil")
def _ceil(cg, t, x):
    return _ceil_value(cg, x)


@elementwise("round-nearest-even")
def _round_even(cg, t, x):
    if cg.target.has_native_rounding:
        return cg.call_intrinsic("llvm.roundeven", x)
    return _magic_round_even(cg, x)


@elementwise("round-nearest-afz")
def _round_afz(cg, t, x):
    b = cg.builder
    whole = _trunc_value(cg, x)
    fraction = cg.call_intrinsic("llvm.fabs", b.fsub(x, whole))  # exact
    away = b.fadd(whole, cg.call_intrinsic("llvm.copysign", _const(x.type, 1.0), x))
    return b.select(b.fcmp_ordered(">=", fraction, _const(x.type, 0.5)), away, whole)


@elementwise("is-finite")
def _is_finite(cg, t, x):
    return cg.builder.fcmp_ordered("<", cg.call_intrinsic("llvm.fabs", x), _const(x.type, pymath.inf))


# -- transcendental (f32: math_f32.py where it has the function; else math.py, in f64) -------


def _via_f64(cg, t, fn, *values, precision: bool = False):
    """Apply an f64 math function to f32/f64 values and round back once."""
    b = cg.builder
    wide = [v if v.type == F64 else b.fpext(v, F64) for v in values]
    args = [*wide, math.Precision.F64 if t.bits == 64 else math.Precision.F32] if precision else wide
    result = fn(*args)
    return result if t.bits == 64 else b.fptrunc(result, F32)


def _register_transcendental(opcode: str, fn) -> None:
    in_f32 = math_f32.FUNCTIONS.get(opcode)

    def rule(cg, t, x):
        if in_f32 is not None and t.bits == 32:
            return in_f32(cg, x)
        return _via_f64(cg, t, lambda v, p: fn(cg, v, p), x, precision=True)

    SCALAR_RULES.add(opcode, rule)


for _opcode, _fn in {
    "exponential": math.exp, "exponential-minus-one": math.expm1, "log": math.log,
    "log-plus-one": math.log1p, "tanh": math.tanh, "logistic": math.logistic,
    "sine": math.sin, "cosine": math.cos, "tan": math.tan, "erf": math.erf, "erfc": math.erfc,
    "cbrt": math.cbrt,
}.items():
    _register_transcendental(_opcode, _fn)


# -- compare and convert ----------------------------------------------------------------------

_SIGNED = {"EQ": "==", "NE": "!=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}


def emit_compare(cg: CodeGen, dtype: DType, direction: str, x, y) -> ir.Value:
    """compare with XLA semantics: ordered float compares except NE (NaN != anything)."""
    b = cg.builder
    op = _SIGNED[direction]
    if dtype.name == "f16":
        x, y = half_to_float(cg, x), half_to_float(cg, y)
    if dtype.is_float:
        return b.fcmp_unordered(op, x, y) if direction == "NE" else b.fcmp_ordered(op, x, y)
    if dtype.is_signed:
        return b.icmp_signed(op, x, y)
    return b.icmp_unsigned(op, x, y)


def emit_convert(cg: CodeGen, source: DType, target: DType, x) -> ir.Value:
    """convert: int<->int wraps, to pred is != 0, float->int saturates (NaN -> 0)."""
    b = cg.builder
    if source == target:
        return x
    to_type = register_type(target)
    if source.name == "f16":
        x, source = half_to_float(cg, x), DTYPES["f32"]
        if target == source:
            return x
    if target.is_pred:
        zero = _const(x.type, 0.0 if source.is_float else 0)
        return b.fcmp_unordered("!=", x, zero) if source.is_float else b.icmp_unsigned("!=", x, zero)
    if target.name == "f16":
        # Through f32: exact for every integer that does not overflow f16 anyway.
        return float_to_half(cg, emit_convert(cg, source, DTYPES["f32"], x))
    if source.is_float and target.is_float:
        return b.fpext(x, to_type) if target.bits > source.bits else b.fptrunc(x, to_type)
    if source.is_float:
        name = "llvm.fptosi.sat" if target.is_signed else "llvm.fptoui.sat"
        fn = cg.intrinsic(name, to_type, [x.type], overloads=[to_type, x.type])
        return b.call(fn, [x])
    unsigned_source = source.is_pred or not source.is_signed
    if target.is_float:
        return b.uitofp(x, to_type) if unsigned_source else b.sitofp(x, to_type)
    if target.bits < x.type.width:
        return b.trunc(x, to_type)
    if target.bits == x.type.width:
        return x
    return b.zext(x, to_type) if unsigned_source else b.sext(x, to_type)
