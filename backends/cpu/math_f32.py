"""exp, expm1, log, log1p, tanh, logistic, erf and erfc for f32 operands, computed in f32.

math.py computes in f64 and rounds once; that is accurate but halves the vector width and
adds two conversions per element. These use the same reductions in f32 arithmetic with
polynomials long enough for f32 (Taylor series from exact rationals, or near-minimax ones
fitted here at Chebyshev nodes: exp's, and erf's tail), so a vectorized loop runs twice as
many lanes. Branch-free, like math.py. Polynomials and the ln2 reduction may contract into
fused multiply-adds where the target has them (one rounding instead of two).

Error bounds: ULP_BOUNDS, in ulps of the f32 result against a float64 reference;
tests/test_math_f32.py asserts them on a million log-uniform inputs per function plus the
special values, and tools/f32_math_sweep.py checks them over the 2^32 inputs; its recorded
runs, with the largest error found per function, are in tools/f32_math_sweep.md.
"""

from __future__ import annotations

import math
from functools import lru_cache

import llvmlite.ir as ir
import numpy as np

from .codegen import CodeGen
from .llvm_types import F32, I32
from .math import LN2, SQRT_PI, FloatOps, split_constant

#: Largest error in ulps over every f32 input (tools/f32_math_sweep.py; see docs there).
ULP_BOUNDS = {"exponential": 2, "exponential-minus-one": 2, "log": 1, "log-plus-one": 3,
              "tanh": 4, "logistic": 3, "erf": 2, "erfc": 5}

# ln2 = HI + LO with HI of 16 bits, so n * HI is exact for |n| < 2**8 (all f32 exponents).
LN2_HI, LN2_LO = (float(np.float32(part)) for part in split_constant(LN2, 16, 2))
EXP_DEGREE = 6  # fitted on |r| <= 0.36 (ln2/2 plus a tail): relative error 3e-9
#: chebyshev_fit(math.exp, -0.36, 0.36, EXP_DEGREE), stored (tests/test_math_f32.py checks
#: it): the fit imports numpy.polynomial, which every compile with an exp would pay.
EXP_COEFFICIENTS = tuple(map(float.fromhex, (
    "0x1.ffffffff87680p-1", "0x1.000000cb98a63p+0", "0x1.000000744a550p-1",
    "0x1.5553ccbeb2c00p-3", "0x1.55543d056139ep-5", "0x1.128b6dc7516aap-7",
    "0x1.6dc70b623f2a6p-10")))
EXPM1_DEGREE = 8
LOG_TERMS = 6  # |s| <= 0.172: s**12/13 < 2**-33


@lru_cache(maxsize=None)
def chebyshev_fit(fn, low: float, high: float, degree: int) -> tuple[float, ...]:
    """Monomial coefficients of the degree-`degree` polynomial interpolating `fn` (a
    float64 function of a float) at Chebyshev nodes of [low, high]: near-minimax."""
    nodes = np.cos(np.pi * (np.arange(4 * degree + 8) + 0.5) / (4 * degree + 8))
    x = (high + low) / 2 + (high - low) / 2 * nodes
    fit = np.polynomial.Chebyshev.fit(x, [fn(float(v)) for v in x], degree, domain=[low, high])
    return tuple(float(c) for c in fit.convert(kind=np.polynomial.Polynomial).coef)


def _ops(cg: CodeGen) -> FloatOps:
    return FloatOps(cg, F32)


#: 1.5 * 2**23: adding it rounds |t| < 2**22 to an integer held in the low mantissa bits.
_ROUNDING_MAGIC = 1.5 * 2.0**23
_ROUNDING_MAGIC_BITS = int(np.float32(_ROUNDING_MAGIC).view(np.int32))


def _contracted(o: FloatOps, a, b, c):
    """a * b + c, fused into one multiply-add where the target has one (one rounding)."""
    return o.b.fadd(o.b.fmul(a, b, flags=("contract",)), c, flags=("contract",))


def _reduce_ln2(o: FloatOps, x):
    """x = n*ln2 + r with |r| <= ln2/2 (x finite or NaN, |x| < 2**20); returns (n as i32, r).

    n comes from the bits of x/ln2 + 1.5 * 2**23 rather than through fptosi, whose result
    on NaN would be poison: for NaN x, n is some integer and r is NaN.
    """
    v = _contracted(o, x, o.c(1.0 / math.log(2.0)), o.c(_ROUNDING_MAGIC))
    n = o.sub(v, o.c(_ROUNDING_MAGIC))
    # n * LN2_HI is exact, so contracting into a fused multiply-add changes nothing there.
    r = _contracted(o, n, o.c(-LN2_HI), x)
    r = _contracted(o, n, o.c(-LN2_LO), r)
    return o.b.sub(o.b.bitcast(v, I32), o.i(_ROUNDING_MAGIC_BITS)), r


def exp(cg: CodeGen, x, tail=None):
    """e**x, or e**(x + tail) for a small `tail` that x's rounding lost."""
    o = _ops(cg)
    # Past -104 the result rounds to 0, past 89 to inf (NaN stays NaN through the clamp
    # and the reduction).
    xc = o.clamp(x, -104.0, 89.0)
    n, r = _reduce_ln2(o, xc)
    if tail is not None:
        r = o.add(r, tail)
    p = o.poly(r, list(EXP_COEFFICIENTS))
    # 2**n in two halves so that neither factor leaves the normal range (subnormal results
    # are rounded once, by the last product).
    half = o.b.ashr(n, o.i(1))
    return o.mul(o.mul(p, o.pow2(half)), o.pow2(o.b.sub(n, half)))


def _expm1_series(o: FloatOps, r):
    return o.mul(r, o.poly(r, [1.0 / math.factorial(k + 1) for k in range(EXPM1_DEGREE)]))


def expm1(cg: CodeGen, x):
    o = _ops(cg)
    small = _expm1_series(o, x)
    xc = o.sel(o.isnan(x), o.c(0.0), o.clamp(x, -20.0, 89.0))
    n, r = _reduce_ln2(o, xc)
    p = _expm1_series(o, r)
    # 2**n (1 + p) - 1 = 2 (t p + (t - 1/2)) with t = 2**(n-1): no cancellation.
    t = o.pow2(o.b.sub(n, o.i(1)))
    large = o.mul(o.add(o.mul(t, p), o.sub(t, o.c(0.5))), o.c(2.0))
    result = o.sel(o.lt(o.fabs(x), o.c(0.34)), small, large)
    return o.sel(o.isnan(x), x, result)


def log(cg: CodeGen, x):
    o, b = _ops(cg), cg.builder
    subnormal = o.lt(x, o.c(2.0**-126))
    xs = o.sel(subnormal, o.mul(x, o.c(2.0**24)), x)
    bits = b.bitcast(xs, I32)
    exponent = b.sub(b.and_(b.lshr(bits, o.i(23)), o.i(0xFF)), o.i(127))
    exponent = b.sub(exponent, b.select(subnormal, o.i(24), o.i(0)))
    m = b.bitcast(b.or_(b.and_(bits, o.i((1 << 23) - 1)), o.i(127 << 23)), F32)  # [1, 2)
    big = o.gt(m, o.c(math.sqrt(2.0)))
    m = o.sel(big, o.mul(m, o.c(0.5)), m)  # [sqrt(1/2), sqrt(2))
    exponent = b.add(exponent, b.zext(big, I32))
    # log(m) = log(1 + f) = f - f**2/2 + s (f**2/2 + R(z)): the leading terms exact-ish,
    # the series part 2s (z/3 + z**2/5 + ...) small, s = f / (2 + f), z = s**2.
    f = o.sub(m, o.c(1.0))
    s = o.div(f, o.add(f, o.c(2.0)))
    z = o.mul(s, s)
    half_f2 = o.mul(o.c(0.5), o.mul(f, f))
    series = o.mul(z, o.poly(z, [2.0 / (2 * k + 3) for k in range(LOG_TERMS)]))
    log_m = o.sub(f, o.sub(half_f2, o.mul(s, o.add(half_f2, series))))
    e = b.sitofp(exponent, F32)
    result = o.add(o.mul(e, o.c(LN2_HI)), o.add(log_m, o.mul(e, o.c(LN2_LO))))
    result = o.sel(o.eq(x, o.c(math.inf)), x, result)
    result = o.sel(o.eq(x, o.c(0.0)), o.c(-math.inf), result)
    result = o.sel(o.lt(x, o.c(0.0)), o.c(math.nan), result)
    return o.sel(o.isnan(x), x, result)


def log1p(cg: CodeGen, x):
    o = _ops(cg)
    # log(u) * x / (u - 1) with u = 1 + x cancels the rounding error of forming u.
    u = o.add(x, o.c(1.0))
    d = o.sub(u, o.c(1.0))
    result = o.mul(log(cg, u), o.div(x, d))
    result = o.sel(o.eq(d, o.c(0.0)), x, result)
    return o.sel(o.eq(x, o.c(math.inf)), x, result)


def tanh(cg: CodeGen, x):
    o = _ops(cg)
    # tanh|x| = t / (t + 2) with t = expm1(2|x|); beyond 10 it rounds to 1.
    a = o.fabs(x)
    a = o.sel(o.gt(a, o.c(10.0)), o.c(10.0), a)
    t = expm1(cg, o.add(a, a))
    return o.copysign(o.div(t, o.add(t, o.c(2.0))), x)


def logistic(cg: CodeGen, x):
    o = _ops(cg)
    e = exp(cg, o.sub(o.c(-0.0), o.fabs(x)))  # never overflows
    denominator = o.add(o.c(1.0), e)
    return o.sel(o.ge(x, o.c(0.0)), o.div(o.c(1.0), denominator), o.div(e, denominator))


# erf. Below ERFC_SPLIT its odd Maclaurin series, written a + a (c0 - 1 + c1 a**2 + ...)
# so that the rounding of 2/sqrt(pi) does not show. Above it 1 - erfc(a), with
# erfc(a) = exp(-a**2) erfcx(a) and (1 + 2a) erfcx(a) a polynomial in
# y = (a - K) / (a + K) (the variable of Shepherd and Laframboise's Chebyshev expansion;
# its coefficients are fitted here, at Chebyshev nodes, against math.erfc).
# exp(-a**2) gets a**2 as an exact head plus a tail.
# erfc(10.06) < 2**-150 (0 in f32); 1 - erfc(3.92) rounds to 1 (and clamping there keeps
# exp's result normal: subnormal arithmetic is slow).
ERFC_SPLIT, ERFC_ZERO, ERF_ONE = 0.75, 10.1, 4.0
ERF_SERIES_TERMS, ERFCX_K, ERFCX_DEGREE = 10, 2.0, 10


@lru_cache(maxsize=None)
def erfcx_polynomial() -> tuple[tuple[float, ...], float, float]:
    """(coefficients in u, centre, half width): (1 + 2a) exp(a**2) erfc(a) ~= p(u) with
    u = (y - centre) / half width in [-1, 1], y = (a - K) / (a + K), a in [ERFC_SPLIT,
    ERFC_ZERO]; relative error ~5e-10."""
    low, high = ((end - ERFCX_K) / (end + ERFCX_K) for end in (ERFC_SPLIT, ERFC_ZERO))
    centre, half = (high + low) / 2, (high - low) / 2
    nodes = np.cos(np.pi * (np.arange(200) + 0.5) / 200)
    a = ERFCX_K * (1 + centre + half * nodes) / (1 - centre - half * nodes)
    values = [(1 + 2 * v) * math.erfc(v) * math.exp(v * v) for v in a]
    series = np.polynomial.Chebyshev.fit(nodes, values, ERFCX_DEGREE, domain=[-1, 1])
    return tuple(float(c) for c in series.convert(kind=np.polynomial.Polynomial).coef), centre, half


def _exp_minus_square(cg: CodeGen, a):
    """exp(-a**2) to f32 exp's accuracy: a = h + l with h a's top 12 bits, so that
    -a**2 = -h*h (exact) - l (a + h) (small), whose sum exp reduces together."""
    o, b = _ops(cg), cg.builder
    h = b.bitcast(b.and_(b.bitcast(a, I32), o.i(-(1 << 12))), F32)
    return exp(cg, o.sub(o.c(-0.0), o.mul(h, h)), o.sub(o.c(-0.0), o.mul(o.sub(a, h), o.add(a, h))))


def _erf_series(o: FloatOps, a):
    series = [float(2 / SQRT_PI) * (-1) ** k / (math.factorial(k) * (2 * k + 1))
              for k in range(ERF_SERIES_TERMS)]
    series[0] -= 1.0
    return o.add(a, o.mul(a, o.poly(o.mul(a, a), series)))


def _erfc_tail(cg: CodeGen, a, limit: float):
    """erfc(a) for a >= ERFC_SPLIT (a clamped to `limit`, where the caller's result no
    longer changes; NaN stays)."""
    o = _ops(cg)
    a = o.sel(o.gt(a, o.c(limit)), o.c(limit), a)
    coefficients, centre, half = erfcx_polynomial()
    y = o.div(o.sub(a, o.c(ERFCX_K)), o.add(a, o.c(ERFCX_K)))
    u = o.mul(o.sub(y, o.c(centre)), o.c(1 / half))
    scaled = o.div(o.poly(u, list(coefficients)), o.add(o.c(1.0), o.add(a, a)))
    return o.mul(_exp_minus_square(cg, a), scaled)


def erf(cg: CodeGen, x):
    o = _ops(cg)
    a = o.fabs(x)
    result = o.sel(o.lt(a, o.c(ERFC_SPLIT)), _erf_series(o, a),
                   o.sub(o.c(1.0), _erfc_tail(cg, a, ERF_ONE)))
    return o.copysign(result, x)  # NaN stays NaN


# erfc in one piece, for every x (after N. Juffa's erfcf): erfc(a) = exp(-a**2) erfcx(a) for
# a = |x| up to ERFC_ZERO, with (1 + 2a) erfcx(a) = 1 + p(q) and q = (a - 2) / (a + 2) in
# [-1, 0.67] (no cancellation near 0: the result is ~1 there, and p small). The quotient q
# and the division by 1 + 2a each get one correction step from their residual, computed
# with fused multiply-adds, and a**2 = s + e exactly goes to exp as head and tail, so exp's
# reduction sees the exact argument. erfc(-a) = 2 - erfc(a). No branch: ~55 operations and
# two divisions per element (the f32 composition it replaced computed erf, itself two
# branches, and a second tail: ~140 operations and four divisions).
ERFC_DEGREE = 9


@lru_cache(maxsize=None)
def erfc_polynomial() -> tuple[float, ...]:
    """Coefficients, lowest power first, of p(q) ~= (1 + 2a) exp(a**2) erfc(a) - 1 for a in
    [0, ERFC_ZERO] (q = (a - 2) / (a + 2)); relative error below 1.7e-8 of 1 + p (0.28
    of 2**-24: the fit's share of the ulp bound)."""
    low, high = -1.0, (ERFC_ZERO - 2.0) / (ERFC_ZERO + 2.0)
    q = (high + low) / 2 + (high - low) / 2 * np.cos(np.pi * (np.arange(400) + 0.5) / 400)
    a = 2.0 * (1 + q) / (1 - q)
    values = [(1 + 2 * v) * math.erfc(v) * math.exp(v * v) - 1 for v in a]
    fit = np.polynomial.Chebyshev.fit(q, values, ERFC_DEGREE, domain=[low, high])
    return tuple(float(c) for c in fit.convert(kind=np.polynomial.Polynomial).coef)


def fma(cg: CodeGen, a, b, c):
    """a * b + c rounded once (the residuals below need the exact product): the instruction
    where the target has one; elsewhere in f64, where the product of two f32 is exact and
    rounding the sum twice (to f64, then f32) errs by at most 2**-29 ulp more than once."""
    if cg.target.has_fma:
        return cg.call_intrinsic("llvm.fma", a, b, c)
    b_ = cg.builder
    wide = [b_.fpext(v, ir.DoubleType()) for v in (a, b, c)]
    return b_.fptrunc(b_.fadd(b_.fmul(wide[0], wide[1]), wide[2]), F32)


def erfc(cg: CodeGen, x):
    """erfc(x) within ULP_BOUNDS["erfc"]; 1 at +-0, 0 and 2 at +-inf, NaN for NaN."""
    o = _ops(cg)
    a = o.fabs(x)
    a = o.sel(o.gt(a, o.c(ERFC_ZERO)), o.c(ERFC_ZERO), a)  # NaN stays NaN to the end
    # q = (a - 2) / (a + 2), corrected by r times the residual (a - 2) - q (a + 2), formed
    # as (a - 2 (q + 1)) - q a (exact but for the rounding of q + 1).
    r = o.div(o.c(1.0), o.add(a, o.c(2.0)))
    q = o.mul(o.sub(a, o.c(2.0)), r)
    residual = fma(cg, q, o.sub(o.c(-0.0), a), fma(cg, o.add(q, o.c(1.0)), o.c(-2.0), a))
    q = fma(cg, r, residual, q)
    p = o.poly(q, list(erfc_polynomial()))
    # erfcx(a) = (1 + p) / (1 + 2a), corrected by the residual (1 + p) - ratio (1 + 2a).
    r = o.mul(o.div(o.c(1.0), o.add(a, o.c(0.5))), o.c(0.5))
    ratio = fma(cg, p, r, r)
    residual = o.add(o.sub(p, ratio), fma(cg, o.add(ratio, ratio), o.sub(o.c(-0.0), a), o.c(1.0)))
    ratio = fma(cg, residual, r, ratio)
    s = o.mul(a, a)
    tail = fma(cg, a, a, o.sub(o.c(-0.0), s))  # a**2 - s, exactly
    result = o.mul(exp(cg, o.sub(o.c(-0.0), s), o.sub(o.c(-0.0), tail)), ratio)
    return o.sel(o.lt(x, o.c(0.0)), o.sub(o.c(2.0), result), result)  # NaN came through


#: HLO opcode -> the f32 function.
FUNCTIONS = {"exponential": exp, "exponential-minus-one": expm1, "log": log,
             "log-plus-one": log1p, "tanh": tanh, "logistic": logistic, "erf": erf,
             "erfc": erfc}

__all__ = ["FUNCTIONS", "ULP_BOUNDS"]
