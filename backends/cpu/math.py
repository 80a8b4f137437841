"""Transcendental functions emitted inline as LLVM IR, so objects never call libm.

Every function here takes and returns f64 values. f16 operands, and f32 operands of the
functions math_f32.py does not have in f32 (the trigonometry, power, fmod, ...), are widened
to f64, computed with shorter polynomials (`Precision.F32`, still ~1e-9 relative before the
final rounding) and rounded once, which makes them within an ulp or so of correctly
rounded; f64 gets full-length polynomials (a few ulp). The code is branch-free (selects, not
branches) so the loop vectorizer can widen it.

Coefficients are derived here from first principles (Taylor series, exact rational
constants) rather than copied from a libm.
"""

from __future__ import annotations

import enum
import math
from fractions import Fraction
from functools import lru_cache

import llvmlite.ir as ir

from .codegen import CodeGen
from .llvm_types import F32, F64, I32, I64

PI = Fraction("3.14159265358979323846264338327950288419716939937510582097494459230781640628620899")
LN2 = Fraction("0.69314718055994530941723212145817656807550013436025525412068000949339362196969471")
SQRT_PI = Fraction("1.77245385090551602729816748334114518279754945612238712821380778985291128459103218")


class Precision(enum.Enum):
    """How accurate the f64 result must be: enough for an f32 result, or for f64."""

    F32 = "f32"
    F64 = "f64"


def split_constant(value: Fraction, bits: int, parts: int) -> list[float]:
    """Write `value` as a sum of doubles, each but the last with at most `bits` significant
    bits, so that n * part is exact for small integers n (Cody-Waite reduction)."""
    out, rest = [], value
    for _ in range(parts - 1):
        mantissa, exponent = math.frexp(float(rest))
        chunk = math.ldexp(math.floor(math.ldexp(mantissa, bits)), exponent - bits)
        out.append(chunk)
        rest -= Fraction(chunk)
    out.append(float(rest))
    return out


LN2_PARTS = split_constant(LN2, 32, 2)
PIO2_PARTS = split_constant(PI / 2, 33, 3)


# Per float type: (same-width integer type, exponent bias, mantissa bits).
_FORMATS = {F64: (I64, 1023, 52), F32: (I32, 127, 23)}


class FloatOps:
    """Terse float arithmetic on a CodeGen's builder (the math reads like formulas); f64
    unless `ty` says F32 (math_f32.py)."""

    def __init__(self, cg: CodeGen, ty: ir.Type = F64):
        self.cg = cg
        self.b = cg.builder
        self.ty = ty
        self.int_ty, self.bias, self.mantissa_bits = _FORMATS[ty]

    def c(self, value: float) -> ir.Constant:
        return ir.Constant(self.ty, float(value))

    def i(self, value: int) -> ir.Constant:
        """An integer constant of the float's width."""
        return ir.Constant(self.int_ty, value)

    def add(self, a, b):
        return self.b.fadd(a, b)

    def sub(self, a, b):
        return self.b.fsub(a, b)

    def mul(self, a, b):
        return self.b.fmul(a, b)

    def div(self, a, b):
        return self.b.fdiv(a, b)

    def lt(self, a, b):
        return self.b.fcmp_ordered("<", a, b)

    def gt(self, a, b):
        return self.b.fcmp_ordered(">", a, b)

    def ge(self, a, b):
        return self.b.fcmp_ordered(">=", a, b)

    def eq(self, a, b):
        return self.b.fcmp_ordered("==", a, b)

    def isnan(self, a):
        return self.b.fcmp_unordered("uno", a, a)

    def isinf(self, a):
        return self.eq(self.fabs(a), self.c(math.inf))

    def isfinite(self, a):
        return self.lt(self.fabs(a), self.c(math.inf))

    def sel(self, cond, a, b):
        return self.b.select(cond, a, b)

    def fabs(self, a):
        return self.cg.call_intrinsic("llvm.fabs", a)

    def sqrt(self, a):
        return self.cg.call_intrinsic("llvm.sqrt", a)

    def copysign(self, magnitude, sign):
        return self.cg.call_intrinsic("llvm.copysign", magnitude, sign)

    def signbit(self, a):
        return self.b.icmp_signed("<", self.b.bitcast(a, self.int_ty), self.i(0))

    def poly(self, x, coefficients):
        """Horner's scheme for sum(coefficients[k] * x**k). Each step may contract into a
        fused multiply-add where the target has one: one rounding instead of two, so the
        stated error bounds hold either way, and half the instructions."""
        acc = self.c(coefficients[-1])
        contract = ("contract",)
        for coefficient in reversed(coefficients[:-1]):
            acc = self.b.fadd(self.b.fmul(acc, x, flags=contract), self.c(coefficient),
                              flags=contract)
        return acc

    def round_to_int(self, t):
        """t rounded to nearest-even, for |t| < 2**51 (2**22 in f32): two adds, no libm,
        vectorizable."""
        magic = self.c(1.5 * 2.0**self.mantissa_bits)
        return self.sub(self.add(t, magic), magic)

    def pow2(self, n):
        """2**n for an integer n (of the float's width) in the normal exponent range."""
        biased = self.b.add(n, self.i(self.bias))
        return self.b.bitcast(self.b.shl(biased, self.i(self.mantissa_bits)), self.ty)

    def clamp(self, x, lo, hi):
        """x limited to [lo, hi]; NaN stays NaN."""
        x = self.sel(self.gt(x, self.c(hi)), self.c(hi), x)
        return self.sel(self.lt(x, self.c(lo)), self.c(lo), x)


def _taylor_exp(degree: int) -> list[float]:
    return [1.0 / math.factorial(k) for k in range(degree + 1)]


def _reduce_ln2(o: FloatOps, x):
    """x = n*ln2 + r with |r| <= ln2/2; returns (n as f64, n as i64, r)."""
    n = o.round_to_int(o.mul(x, o.c(1.0 / math.log(2.0))))
    r = o.sub(o.sub(x, o.mul(n, o.c(LN2_PARTS[0]))), o.mul(n, o.c(LN2_PARTS[1])))
    return n, o.b.fptosi(n, I64), r


def exp(cg: CodeGen, x, precision: Precision):
    o = FloatOps(cg)
    degree = 13 if precision is Precision.F64 else 8
    # Out-of-range inputs are clamped to where the result has already over/underflowed;
    # NaN is replaced by 0 so no poison reaches the integer exponent math.
    xc = o.sel(o.isnan(x), o.c(0.0), o.clamp(x, -746.0, 710.0))
    _, n, r = _reduce_ln2(o, xc)
    p = o.poly(r, _taylor_exp(degree))
    # 2**n in two halves so that neither factor leaves the normal range.
    half = o.b.ashr(n, ir.Constant(I64, 1))
    result = o.mul(o.mul(p, o.pow2(half)), o.pow2(o.b.sub(n, half)))
    return o.sel(o.isnan(x), x, result)


def _expm1_series(o: FloatOps, r, degree: int):
    """r + r**2/2! + ... + r**degree/degree!, accurate in relative terms for small r."""
    return o.mul(r, o.poly(r, [1.0 / math.factorial(k + 1) for k in range(degree)]))


def expm1(cg: CodeGen, x, precision: Precision):
    o = FloatOps(cg)
    degree = 14 if precision is Precision.F64 else 9
    small = _expm1_series(o, x, degree)
    xc = o.sel(o.isnan(x), o.c(0.0), o.clamp(x, -40.0, 710.0))
    _, n, r = _reduce_ln2(o, xc)
    p = _expm1_series(o, r, degree)
    # e**x - 1 = 2**n * (1 + p) - 1 = 2 * (t*p + (t - 1/2)) with t = 2**(n-1): no
    # cancellation, and t stays finite up to the overflow threshold.
    t = o.pow2(o.b.sub(n, ir.Constant(I64, 1)))
    large = o.mul(o.add(o.mul(t, p), o.sub(t, o.c(0.5))), o.c(2.0))
    result = o.sel(o.lt(o.fabs(x), o.c(0.34)), small, large)
    return o.sel(o.isnan(x), x, result)


def log(cg: CodeGen, x, precision: Precision):
    o, b = FloatOps(cg), cg.builder
    terms = 11 if precision is Precision.F64 else 6
    # Subnormals are scaled into the normal range first.
    subnormal = o.lt(x, o.c(2.0**-1022))
    xs = o.sel(subnormal, o.mul(x, o.c(2.0**54)), x)
    bits = b.bitcast(xs, I64)
    exponent = b.sub(b.and_(b.lshr(bits, ir.Constant(I64, 52)), ir.Constant(I64, 0x7FF)),
                     ir.Constant(I64, 1023))
    exponent = b.sub(exponent, b.select(subnormal, ir.Constant(I64, 54), ir.Constant(I64, 0)))
    mantissa_bits = b.or_(b.and_(bits, ir.Constant(I64, (1 << 52) - 1)),
                          ir.Constant(I64, 1023 << 52))
    m = b.bitcast(mantissa_bits, F64)  # in [1, 2)
    # Centre the mantissa on 1: m in [sqrt(1/2), sqrt(2)).
    big = o.gt(m, o.c(math.sqrt(2.0)))
    m = o.sel(big, o.mul(m, o.c(0.5)), m)
    exponent = b.add(exponent, b.zext(big, I64))
    # log(m) = 2 atanh(s) = 2s + 2s^3/3 + ..., s = (m-1)/(m+1), |s| <= 0.172.
    f = o.sub(m, o.c(1.0))
    s = o.div(f, o.add(f, o.c(2.0)))
    z = o.mul(s, s)
    log_m = o.mul(s, o.poly(z, [2.0 / (2 * k + 1) for k in range(terms)]))
    e = b.sitofp(exponent, F64)
    result = o.add(o.mul(e, o.c(LN2_PARTS[0])), o.add(log_m, o.mul(e, o.c(LN2_PARTS[1]))))
    result = o.sel(o.eq(x, o.c(math.inf)), x, result)
    result = o.sel(o.eq(x, o.c(0.0)), o.c(-math.inf), result)
    result = o.sel(o.lt(x, o.c(0.0)), o.c(math.nan), result)
    return o.sel(o.isnan(x), x, result)


def log1p(cg: CodeGen, x, precision: Precision):
    o = FloatOps(cg)
    # log(u) * x / (u - 1) with u = 1 + x cancels the rounding error of forming u.
    u = o.add(x, o.c(1.0))
    d = o.sub(u, o.c(1.0))
    result = o.mul(log(cg, u, precision), o.div(x, d))
    result = o.sel(o.eq(d, o.c(0.0)), x, result)
    return o.sel(o.eq(x, o.c(math.inf)), x, result)


def tanh(cg: CodeGen, x, precision: Precision):
    o = FloatOps(cg)
    # tanh|x| = t / (t + 2) with t = expm1(2|x|); beyond 20 it is 1 in every precision.
    a = o.fabs(x)
    a = o.sel(o.gt(a, o.c(20.0)), o.c(20.0), a)
    t = expm1(cg, o.add(a, a), precision)
    return o.copysign(o.div(t, o.add(t, o.c(2.0))), x)


def logistic(cg: CodeGen, x, precision: Precision):
    o = FloatOps(cg)
    # exp(-|x|) never overflows; the form for negative x does not cancel.
    e = exp(cg, o.sub(o.c(-0.0), o.fabs(x)), precision)
    denominator = o.add(o.c(1.0), e)
    return o.sel(o.ge(x, o.c(0.0)), o.div(o.c(1.0), denominator), o.div(e, denominator))


# -- trigonometry ---------------------------------------------------------------------------


def _reduce_pio2(o: FloatOps, x):
    """x = n*pi/2 + r, |r| <= pi/4 (accurate for |x| up to ~1e6); returns (n & 3, r)."""
    t = o.mul(x, o.c(float(2 / PI)))
    n = o.round_to_int(t)
    r = x
    for part in PIO2_PARTS:
        r = o.sub(r, o.mul(n, o.c(part)))
    # Huge, infinite or NaN inputs would make fptosi poison; their quadrant is irrelevant.
    safe_n = o.sel(o.lt(o.fabs(t), o.c(2.0**50)), n, o.c(0.0))
    quadrant = o.b.and_(o.b.fptosi(safe_n, I64), ir.Constant(I64, 3))
    return quadrant, r


def _sin_cos_kernels(o: FloatOps, r, precision: Precision):
    """sin(r), cos(r) for |r| <= pi/4 by Taylor series in r**2."""
    terms = 10 if precision is Precision.F64 else 6
    z = o.mul(r, r)
    sin_coefficients = [(-1) ** k / math.factorial(2 * k + 1) for k in range(1, terms)]
    cos_coefficients = [(-1) ** k / math.factorial(2 * k) for k in range(terms)]
    sin_r = o.add(r, o.mul(o.mul(r, z), o.poly(z, sin_coefficients)))
    cos_r = o.poly(z, cos_coefficients)
    return sin_r, cos_r


def _by_quadrant(o: FloatOps, quadrant, values):
    b = o.b
    result = values[3]
    for q in (2, 1, 0):
        result = b.select(b.icmp_unsigned("==", quadrant, ir.Constant(I64, q)), values[q], result)
    return result


def _finite_or_nan(o: FloatOps, x, result):
    return o.sel(o.isfinite(x), result, o.sub(x, x))  # inf - inf and NaN - NaN are NaN


def sin(cg: CodeGen, x, precision: Precision):
    o = FloatOps(cg)
    quadrant, r = _reduce_pio2(o, x)
    s, c = _sin_cos_kernels(o, r, precision)
    neg = lambda v: o.sub(o.c(-0.0), v)  # noqa: E731
    return _finite_or_nan(o, x, _by_quadrant(o, quadrant, [s, c, neg(s), neg(c)]))


def cos(cg: CodeGen, x, precision: Precision):
    o = FloatOps(cg)
    quadrant, r = _reduce_pio2(o, x)
    s, c = _sin_cos_kernels(o, r, precision)
    neg = lambda v: o.sub(o.c(-0.0), v)  # noqa: E731
    return _finite_or_nan(o, x, _by_quadrant(o, quadrant, [c, neg(s), neg(c), s]))


def tan(cg: CodeGen, x, precision: Precision):
    o = FloatOps(cg)
    quadrant, r = _reduce_pio2(o, x)
    s, c = _sin_cos_kernels(o, r, precision)
    odd = o.b.trunc(quadrant, ir.IntType(1))
    result = o.sel(odd, o.sub(o.c(-0.0), o.div(c, s)), o.div(s, c))
    return _finite_or_nan(o, x, result)


def _atan_unit(o: FloatOps, t, precision: Precision):
    """atan(t) for t in [0, 1]."""
    terms = 12 if precision is Precision.F64 else 6
    # Above tan(pi/8), atan(t) = pi/4 + atan((t-1)/(t+1)); then halve the angle once:
    # atan(u) = 2 atan(u / (1 + sqrt(1 + u^2))), leaving |v| <= tan(pi/16).
    big = o.gt(t, o.c(math.tan(math.pi / 8)))
    u = o.sel(big, o.div(o.sub(t, o.c(1.0)), o.add(t, o.c(1.0))), t)
    v = o.div(u, o.add(o.c(1.0), o.sqrt(o.add(o.c(1.0), o.mul(u, u)))))
    z = o.mul(v, v)
    coefficients = [(-1) ** k / (2 * k + 1) for k in range(1, terms)]
    atan_v = o.add(v, o.mul(o.mul(v, z), o.poly(z, coefficients)))
    atan_u = o.add(atan_v, atan_v)
    return o.sel(big, o.add(o.c(float(PI / 4)), atan_u), atan_u)


def atan2(cg: CodeGen, y, x, precision: Precision):
    o = FloatOps(cg)
    ax, ay = o.fabs(x), o.fabs(y)
    y_bigger = o.gt(ay, ax)
    big = o.sel(y_bigger, ay, ax)
    small = o.sel(y_bigger, ax, ay)
    t = o.div(small, big)
    t = o.sel(o.eq(big, o.c(0.0)), o.c(0.0), t)  # atan2(+-0, +-0)
    t = o.sel(o.b.and_(o.isinf(x), o.isinf(y)), o.c(1.0), t)  # both infinite: 45 degrees
    angle = _atan_unit(o, t, precision)
    angle = o.sel(y_bigger, o.sub(o.c(float(PI / 2)), angle), angle)
    angle = o.sel(o.signbit(x), o.sub(o.c(float(PI)), angle), angle)
    result = o.copysign(angle, y)
    return o.sel(o.b.or_(o.isnan(x), o.isnan(y)), o.add(x, y), result)


# -- erf ------------------------------------------------------------------------------------

_ERF_STEP = 0.25  # width of each Taylor interval
_ERF_INTERVALS = 24  # covering [0, 6); erf(x) rounds to 1 beyond ~5.92
_ERF_DEGREE = 16


def _hermite(n: int, x: Fraction) -> Fraction:
    """Physicists' Hermite polynomial H_n(x), exactly."""
    previous, current = Fraction(1), 2 * x
    if n == 0:
        return previous
    for k in range(1, n):
        previous, current = current, 2 * x * current - 2 * k * previous
    return current


@lru_cache(maxsize=None)
def erf_taylor_table(intervals: int, degree: int) -> tuple[tuple[float, ...], ...]:
    """Taylor coefficients of erf around the centre of each interval [j, j+1) * _ERF_STEP.

    d^k/dx^k erf(x) = 2/sqrt(pi) * (-1)^(k-1) * H_{k-1}(x) * exp(-x^2) for k >= 1.
    """
    table = []
    for j in range(intervals):
        centre = Fraction(2 * j + 1, 8)
        weight = 2.0 / float(SQRT_PI) * math.exp(-float(centre * centre))
        row = [math.erf(float(centre))]
        for k in range(1, degree + 1):
            derivative = (-1) ** (k - 1) * float(_hermite(k - 1, centre))
            row.append(weight * derivative / math.factorial(k))
        table.append(tuple(row))
    return tuple(table)


def table_global(cg: CodeGen, name: str, ty: ir.Type, rows) -> ir.GlobalVariable:
    """A private constant [rows][columns] array of `ty` in the module (made once per name)."""
    if name in cg.module.globals:
        return cg.module.globals[name]
    row_type = ir.ArrayType(ty, len(rows[0]))
    table_type = ir.ArrayType(row_type, len(rows))
    table = ir.GlobalVariable(cg.module, table_type, name=name)
    table.initializer = ir.Constant(table_type, [ir.Constant(row_type, list(row)) for row in rows])
    table.global_constant = True
    table.linkage = "private"
    table.align = 64
    return table


def table_polynomial(o: FloatOps, table: ir.GlobalVariable, row, h):
    """Horner's scheme in h with the coefficients of table[row] (row: an i64 index)."""
    b = o.b
    columns = table.value_type.element.count
    zero = ir.Constant(ir.IntType(32), 0)
    acc = None
    for k in reversed(range(columns)):
        slot = b.gep(table, [zero, row, ir.Constant(ir.IntType(32), k)], inbounds=True,
                     source_etype=table.value_type)
        coefficient = b.load(slot, typ=o.ty)
        acc = coefficient if acc is None else o.add(o.mul(acc, h), coefficient)
    return acc


def erf(cg: CodeGen, x, precision: Precision):
    o, b = FloatOps(cg), cg.builder
    a = o.fabs(x)
    # Near zero: the odd Maclaurin series (relative accuracy for tiny x).
    terms = 10 if precision is Precision.F64 else 6
    z = o.mul(a, a)
    series = [float(2 / SQRT_PI) * (-1) ** k / (math.factorial(k) * (2 * k + 1)) for k in range(terms)]
    near_zero = o.mul(a, o.poly(z, series))
    # Elsewhere: a Taylor polynomial around the centre of a's interval, from a table.
    scaled = o.sel(o.lt(a, o.c(_ERF_INTERVALS - 0.5)), o.mul(a, o.c(1 / _ERF_STEP)),
                   o.c(_ERF_INTERVALS - 0.5))
    scaled = o.sel(o.lt(scaled, o.c(_ERF_INTERVALS - 0.5)), scaled, o.c(_ERF_INTERVALS - 0.5))
    j = b.fptosi(scaled, I64)
    centre = o.mul(o.add(b.sitofp(j, F64), o.c(0.5)), o.c(_ERF_STEP))
    table = table_global(cg, "aotc.erf_taylor_table", F64,
                         erf_taylor_table(_ERF_INTERVALS, _ERF_DEGREE))
    acc = table_polynomial(o, table, j, o.sub(a, centre))
    result = o.sel(o.lt(a, o.c(_ERF_STEP)), near_zero, acc)
    result = o.sel(o.ge(a, o.c(6.0)), o.c(1.0), result)
    return o.copysign(result, x)  # NaN stays NaN


_ERFC_SPLIT, _ERFC_DEPTH = 2.5, 40


def erfc(cg: CodeGen, x, precision: Precision):
    """1 - erf(x) below 2.5, Laplace's continued fraction above (no cancellation in the upper
    tail): the f64 composition of frontend/ops/special_math.py's erfc, as one function."""
    o = FloatOps(cg)
    near = o.sub(o.c(1.0), erf(cg, x, precision))
    z = o.sel(o.lt(x, o.c(_ERFC_SPLIT)), o.c(_ERFC_SPLIT), x)  # NaN goes to `near`
    fraction = z
    for k in range(_ERFC_DEPTH, 0, -1):
        fraction = o.add(z, o.div(o.c(k / 2), fraction))
    gauss = exp(cg, o.sub(o.c(-0.0), o.mul(z, z)), precision)
    far = o.div(gauss, o.mul(fraction, o.c(float(SQRT_PI))))
    return o.sel(o.lt(x, o.c(_ERFC_SPLIT)), near, o.sel(o.isnan(x), x, far))


# -- powers ---------------------------------------------------------------------------------


def _is_integer(o: FloatOps, y):
    return o.eq(_floor(o, y), y)


def _floor(o: FloatOps, y):
    """floor for any double (exact; no libm)."""
    a = o.fabs(y)
    r = o.copysign(o.sub(o.add(a, o.c(2.0**52)), o.c(2.0**52)), y)
    r = o.sel(o.lt(a, o.c(2.0**52)), r, y)
    return o.sel(o.gt(r, y), o.sub(r, o.c(1.0)), r)


def power(cg: CodeGen, x, y, precision: Precision):
    o, b = FloatOps(cg), cg.builder
    ax = o.fabs(x)
    magnitude = exp(cg, o.mul(y, log(cg, ax, precision)), precision)
    y_integer = _is_integer(o, y)
    half_y = o.mul(y, o.c(0.5))
    y_odd = b.and_(y_integer, b.fcmp_unordered("!=", _floor(o, half_y), half_y))
    result = o.sel(b.and_(o.signbit(x), y_odd), o.sub(o.c(-0.0), magnitude), magnitude)
    negative_finite = b.and_(o.lt(x, o.c(0.0)), o.isfinite(x))
    result = o.sel(b.and_(negative_finite, b.not_(y_integer)), o.c(math.nan), result)
    result = o.sel(b.and_(o.eq(ax, o.c(1.0)), o.isinf(y)), o.c(1.0), result)
    result = o.sel(o.eq(x, o.c(1.0)), o.c(1.0), result)
    return o.sel(o.eq(y, o.c(0.0)), o.c(1.0), result)


def cbrt(cg: CodeGen, x, precision: Precision):
    o = FloatOps(cg)
    a = o.fabs(x)
    r = exp(cg, o.mul(log(cg, a, precision), o.c(1.0 / 3.0)), precision)
    # One Newton step r += (a/r^2 - r)/3 fixes the error of going through log and exp.
    r = o.add(r, o.mul(o.sub(o.div(a, o.mul(r, r)), r), o.c(1.0 / 3.0)))
    special = o.b.or_(o.eq(a, o.c(0.0)), o.b.fcmp_unordered("uno", a, a))
    special = o.b.or_(special, o.eq(a, o.c(math.inf)))
    return o.copysign(o.sel(special, a, r), x)


def _exponent(o: FloatOps, a):
    """The unbiased binary exponent of a positive normal double, as i64."""
    bits = o.b.bitcast(a, I64)
    return o.b.sub(o.b.lshr(bits, ir.Constant(I64, 52)), ir.Constant(I64, 1023))


#: fmod of f32 operands: bits of quotient taken per step (q < 2**29 and 24-bit y make
#: q * y exact in f64), and the steps that cover the largest exponent gap (2**127 / 2**-149).
_FMOD_STEP_BITS, _FMOD_F32_STEPS = 28, 10


def _fmod_f32(o: FloatOps, ax, ay):
    """|x| mod |y| for f32 magnitudes widened to f64, exactly and without a division per
    step: step k subtracts round(r / s) * s with s = |y| * 2**g, g falling by 28 from the
    exponent gap to 0. Each product q * s is exact (q < 2**29, s has 24 bits) and so is
    each difference (the result is a multiple of s's ulp below 2 s); r / s is r times the
    reciprocal of |y| scaled by 2**-g, one rounding off, so q may be one too big: a
    negative r gets s back."""
    b = o.b
    zero, step = ir.Constant(I64, 0), ir.Constant(I64, _FMOD_STEP_BITS)
    inverse = o.div(o.c(1.0), ay)
    gap = b.sub(_exponent(o, ax), _exponent(o, ay))
    r = ax
    for _ in range(_FMOD_F32_STEPS):
        gap = b.sub(gap, step)
        gap = b.select(b.icmp_signed(">", gap, zero), gap, zero)
        scaled = o.mul(ay, o.pow2(gap))
        q = o.round_to_int(o.mul(r, o.mul(inverse, o.pow2(b.sub(zero, gap)))))
        r = o.sub(r, o.mul(q, scaled))
        r = o.sel(o.lt(r, o.c(0.0)), o.add(r, scaled), r)
    return r


def fmod(cg: CodeGen, x, y, precision: Precision):
    """C's fmod (result has the sign of x).

    For f32 operands (widened to f64) it is exact (_fmod_f32). For f64 operands one step
    is taken, exact while |x / y| < 2^53 / ulp-ish (large quotients lose accuracy).
    """
    o = FloatOps(cg)
    ax, ay = o.fabs(x), o.fabs(y)
    if precision is Precision.F32:
        r = _fmod_f32(o, ax, ay)
    else:
        q = _floor(o, o.div(ax, ay))
        r = o.sub(ax, o.mul(q, ay))
        # The division may round q one off either way.
        r = o.sel(o.ge(r, ay), o.sub(r, ay), r)
        r = o.sel(o.lt(r, o.c(0.0)), o.add(r, ay), r)
    result = o.copysign(r, x)
    result = o.sel(o.b.or_(o.isinf(x), o.eq(y, o.c(0.0))), o.c(math.nan), result)
    result = o.sel(o.b.and_(o.isinf(y), o.isfinite(x)), x, result)
    return o.sel(o.b.or_(o.isnan(x), o.isnan(y)), o.add(x, y), result)
