"""Special functions in f64, composed from HLO elementwise ops (numerics.Math): the
building blocks of the special-function rules in special.py.

Each function takes a Math `m` over f64 instructions and returns an f64 instruction. The
methods are the classical ones: Lanczos' approximation (lgamma), recurrence plus
asymptotic series (digamma), Laplace's continued fraction (erfc), Newton's method from
a rough start (erfinv, ndtri), power and asymptotic series (Bessel I0e/I1e), Euler-
Maclaurin summation (Hurwitz zeta), and series/continued fractions run as HLO while loops
(incomplete gamma and beta).
"""

from __future__ import annotations

import math
from fractions import Fraction

from .loops import fori_loop
from .numerics import Math

# -- gamma family ------------------------------------------------------------------------

#: Lanczos' approximation with g = 7 and 9 terms (relative error ~1e-15).
_LANCZOS_G = 7.0
_LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028,
            771.32342877765313, -176.61502916214059, 12.507343278686905,
            -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7]


def _is_nonpositive_integer(m: Math, x):
    return m.b.binary("and", m.le(x, 0.0), m.eq(m.floor(x), x))


def _sin_pi_abs_log(m: Math, x):
    """log|sin(pi x)|, with x reduced to [-1/2, 1/2] first so large |x| keep precision."""
    r = m.sub(x, m.u("round-nearest-even", x))
    return m.log(m.abs(m.u("sine", m.mul(math.pi, r))))


def _lgamma_right(m: Math, x):
    """lgamma for x >= 1/2 (Lanczos)."""
    z = m.sub(x, 1.0)
    series = m.c(_LANCZOS[0])
    for i, p in enumerate(_LANCZOS[1:], 1):
        series = m.add(series, m.div(p, m.add(z, float(i))))
    t = m.add(z, _LANCZOS_G + 0.5)
    return m.add(m.add(0.5 * math.log(2 * math.pi), m.sub(m.mul(m.add(z, 0.5), m.log(t)), t)),
                 m.log(series))


def lgamma(m: Math, x):
    """log|Gamma(x)|: Lanczos right of 1/2, the reflection formula left of it; +inf at the
    poles (0, -1, -2, ...) and at +-inf."""
    left = m.lt(x, 0.5)
    # Both branches run on arguments where they are finite; select picks one.
    right_arg = m.select(left, m.sub(1.0, x), x)
    right = _lgamma_right(m, right_arg)
    reflected = m.sub(m.sub(math.log(math.pi), _sin_pi_abs_log(m, x)), right)
    result = m.select(left, reflected, right)
    result = m.select(_is_nonpositive_integer(m, x), math.inf, result)
    return m.select(m.eq(m.abs(x), math.inf), math.inf, result)


#: digamma(y) ~ log y - 1/(2y) - sum B_2k / (2k y^2k) for y >= _DIGAMMA_SHIFT.
_DIGAMMA_SHIFT = 10


def _bernoulli(n: int) -> list[Fraction]:
    """B_0 .. B_n (B_1 = -1/2), exactly."""
    b = [Fraction(0)] * (n + 1)
    for k in range(n + 1):
        b[k] = Fraction(1) if k == 0 else -sum(math.comb(k + 1, j) * b[j]
                                                 for j in range(k)) / (k + 1)
    return b


_B = _bernoulli(30)


def digamma(m: Math, x):
    """psi(x): reflection left of 1/2, recurrence up to x + 10, then the asymptotic series;
    NaN at the poles and at -inf, as TensorFlow gives."""
    left = m.lt(x, 0.5)
    y = m.select(left, m.sub(1.0, x), x)
    shift = m.c(0.0)
    for k in range(_DIGAMMA_SHIFT):
        shift = m.add(shift, m.div(1.0, m.add(y, float(k))))
    w = m.add(y, float(_DIGAMMA_SHIFT))
    inv2 = m.div(1.0, m.mul(w, w))
    tail = m.poly(inv2, [float(_B[2 * k] / (2 * k)) for k in range(8, 0, -1)] + [0.0])
    right = m.sub(m.sub(m.sub(m.log(w), m.div(0.5, w)), tail), shift)
    r = m.sub(x, m.u("round-nearest-even", x))
    reflected = m.sub(right, m.div(math.pi, m.u("tan", m.mul(math.pi, r))))
    result = m.select(left, reflected, right)
    result = m.select(_is_nonpositive_integer(m, x), math.nan, result)
    return m.select(m.eq(x, -math.inf), math.nan, result)


# -- error function family ---------------------------------------------------------------

_ERFC_SPLIT, _ERFC_DEPTH = 2.5, 40


def erfc(m: Math, x):
    """erfc(x): 1 - erf(x) below 2.5, Laplace's continued fraction above (no cancellation
    in the upper tail)."""
    near = m.sub(1.0, m.u("erf", x))
    z = m.max(x, _ERFC_SPLIT)
    fraction = z
    for k in range(_ERFC_DEPTH, 0, -1):
        fraction = m.add(z, m.div(k / 2, fraction))
    gauss = m.exp(m.neg(m.mul(z, z)))
    far = m.div(gauss, m.mul(fraction, math.sqrt(math.pi)))
    return m.select(m.lt(x, _ERFC_SPLIT), near, far)


def _log_ndtr_nonpositive(m: Math, z):
    """log Phi(z) for z <= 0 (Phi(z) = erfc(-z / sqrt 2) / 2)."""
    return m.log(m.mul(0.5, erfc(m, m.div(m.neg(z), math.sqrt(2.0)))))


def _ndtri_lower(m: Math, q):
    """z <= 0 with Phi(z) = q, for 0 < q <= 1/2: Abramowitz & Stegun 26.2.23 (error below
    4.5e-4), then Newton's method on log Phi, which stays well-conditioned in the tail."""
    t = m.sqrt(m.mul(-2.0, m.log(q)))
    num = m.poly(t, [0.010328, 0.802853, 2.515517])
    den = m.poly(t, [0.001308, 0.189269, 1.432788, 1.0])
    z = m.neg(m.sub(t, m.div(num, den)))

    def newton(scope, i, state):
        # A loop, not unrolled: each step uses z several times, and unrolled steps would
        # make one expression DAG that fusion duplicates step by step.
        z, log_q = state
        s = Math(scope, z)
        log_phi = _log_ndtr_nonpositive(s, z)
        # d/dz log Phi = phi / Phi = exp(log phi - log Phi)
        log_density = s.sub(s.mul(-0.5, s.mul(z, z)), 0.5 * math.log(2 * math.pi))
        z = s.sub(z, s.div(s.sub(log_phi, log_q), s.exp(s.sub(log_density, log_phi))))
        return [s.min(z, 0.0), log_q]

    return fori_loop(m.ctx, "ndtri_newton", 5, [z, m.log(q)], newton)[0]


def ndtri(m: Math, p):
    """The standard normal quantile: -inf at 0, +inf at 1, NaN outside [0, 1]."""
    upper = m.gt(p, 0.5)
    q = m.select(upper, m.sub(1.0, p), p)  # exact for p >= 1/2
    safe = m.select(m.gt(q, 0.0), q, 0.25)
    z = _ndtri_lower(m, safe)
    z = m.select(m.eq(q, 0.0), -math.inf, z)
    z = m.select(upper, m.neg(z), z)
    z = m.select(m.eq(p, 0.5), 0.0, z)
    outside = m.b.unary("not", m.b.binary("and", m.ge(p, 0.0), m.le(p, 1.0)))  # NaN too
    return m.select(outside, math.nan, z)


#: Giles' single-precision erfinv ("Approximating the erfinv function", GPU Computing
#: Gems, 2011): the starting point of Newton's method below.
_GILES_CENTRAL = [2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                  0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941]
_GILES_TAIL = [-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
               0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682]


def erfinv(m: Math, y):
    """erf^-1(y): Giles' approximation refined by Newton's method on erf for |y| < 1/2;
    -ndtri((1 - |y|) / 2) / sqrt 2 beyond (1 - |y| is exact there)."""
    a = m.abs(y)
    w = m.neg(m.log(m.mul(m.sub(1.0, a), m.add(1.0, a))))
    central = m.poly(m.sub(w, 2.5), _GILES_CENTRAL)

    def newton(scope, i, state):
        z, a = state
        s = Math(scope, z)
        slope = s.mul(2.0 / math.sqrt(math.pi), s.exp(s.neg(s.mul(z, z))))
        return [s.sub(z, s.div(s.sub(s.u("erf", z), a), slope)), a]

    z = fori_loop(m.ctx, "erfinv_newton", 3, [m.mul(central, a), a], newton)[0]
    tail_q = m.select(m.lt(a, 0.5), 0.25, m.mul(0.5, m.sub(1.0, a)))
    tail = m.div(m.neg(ndtri(m, tail_q)), math.sqrt(2.0))
    result = m.select(m.lt(a, 0.5), z, tail)
    result = m.mul(m.u("sign", y), result)
    return m.select(m.gt(a, 1.0), math.nan, result)


# -- Bessel functions --------------------------------------------------------------------

#: Power series up to |x| = 30 (all terms positive: no cancellation), the asymptotic
#: series (30 terms, error below 1e-20) beyond.
_BESSEL_SPLIT, _BESSEL_SERIES, _BESSEL_ASYMPTOTIC = 30.0, 64, 30


def _bessel_ie(m: Math, x, order: int):
    """exp(-|x|) I_order(x) for order 0 or 1."""
    a = m.abs(x)
    small = m.min(a, _BESSEL_SPLIT)
    t = m.mul(0.25, m.mul(small, small))
    coefficients = [1.0 / (math.factorial(k) * math.factorial(k + order))
                    for k in range(_BESSEL_SERIES - 1, -1, -1)]
    series = m.poly(t, coefficients)
    if order:
        series = m.mul(series, m.mul(0.5, small))
    near = m.mul(series, m.exp(m.neg(small)))
    big = m.max(a, _BESSEL_SPLIT)
    mu = 4 * order * order
    terms, coefficient = [], 1.0
    for k in range(_BESSEL_ASYMPTOTIC):
        terms.append(coefficient)
        coefficient *= -(mu - (2 * k + 1) ** 2) / ((k + 1) * 8)
    # sum_k terms[k] / big^k, as a polynomial in 1/big.
    tail = m.poly(m.div(1.0, big), terms[::-1])
    far = m.div(tail, m.sqrt(m.mul(2 * math.pi, big)))
    result = m.select(m.le(a, _BESSEL_SPLIT), near, far)
    return m.mul(m.u("sign", x), result) if order else result


def bessel_i0e(m: Math, x):
    return _bessel_ie(m, x, 0)


def bessel_i1e(m: Math, x):
    return _bessel_ie(m, x, 1)


# -- zeta and polygamma ------------------------------------------------------------------

_ZETA_TERMS = 9
#: B_2j / (2j)! for the Euler-Maclaurin tail.
_ZETA_TAIL = [float(_B[2 * j] / math.factorial(2 * j)) for j in range(1, 13)]


def zeta(m: Math, x, q):
    """Hurwitz zeta sum_k (k + q)^-x (Euler-Maclaurin after 9 terms); +inf at x = 1 and at
    non-positive integer q, NaN for x < 1 or for negative q with non-integer x."""
    total = m.c(0.0)
    for k in range(_ZETA_TERMS):
        total = m.add(total, m.pow(m.add(q, float(k)), m.neg(x)))
    w = m.add(q, float(_ZETA_TERMS))
    total = m.add(total, m.div(m.pow(w, m.sub(1.0, x)), m.sub(x, 1.0)))
    w_pow = m.pow(w, m.neg(x))
    total = m.add(total, m.mul(0.5, w_pow))
    rising = x  # x (x + 1) ... (x + 2j - 2)
    inv_w = m.div(1.0, w)
    term = m.mul(w_pow, inv_w)  # w^(-x - 2j + 1), j = 1
    for j, coefficient in enumerate(_ZETA_TAIL, 1):
        total = m.add(total, m.mul(coefficient, m.mul(rising, term)))
        rising = m.mul(rising, m.mul(m.add(x, float(2 * j - 1)), m.add(x, float(2 * j))))
        term = m.mul(term, m.mul(inv_w, inv_w))
    result = m.select(m.eq(x, 1.0), math.inf, total)
    result = m.select(m.lt(x, 1.0), math.nan, result)
    bad_q = m.b.binary("and", m.lt(q, 0.0), m.b.unary("not", m.eq(m.floor(x), x)))
    result = m.select(bad_q, math.nan, result)
    return m.select(_is_nonpositive_integer(m, q), math.inf, result)


def polygamma(m: Math, n, x):
    """psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x); digamma for n = 0; NaN for n that is
    negative or not an integer, and at the poles (as TensorFlow gives)."""
    factorial = m.exp(lgamma(m, m.add(n, 1.0)))
    sign = m.sub(1.0, m.mul(2.0, m.sub(m.add(n, 1.0), m.mul(2.0, m.floor(m.mul(m.add(n, 1.0),
                                                                             0.5))))))
    higher = m.mul(m.mul(sign, factorial), zeta(m, m.add(n, 1.0), x))
    result = m.select(m.eq(n, 0.0), digamma(m, x), higher)
    bad = m.b.binary("or", m.lt(n, 0.0), m.b.unary("not", m.eq(m.floor(n), n)))
    bad = m.b.binary("or", bad, _is_nonpositive_integer(m, x))
    return m.select(bad, math.nan, result)


# -- incomplete gamma and beta (loops) ---------------------------------------------------

_ITERATIONS = 300
_TINY = 1e-300


def _lentz_step(m: Math, an, bn, c, d):
    """One step of the modified Lentz method: (c, d, factor)."""
    d = m.add(m.mul(an, d), bn)
    d = m.select(m.lt(m.abs(d), _TINY), _TINY, d)
    c = m.add(bn, m.div(an, c))
    c = m.select(m.lt(m.abs(c), _TINY), _TINY, c)
    d = m.div(1.0, d)
    return c, d, m.mul(c, d)


def igamma(ctx, a, x, upper: bool):
    """The regularized incomplete gamma P(a, x) (or Q = 1 - P when `upper`): the series
    for x < a + 1, the continued fraction for Q beyond (both in one while loop)."""
    m = Math(ctx, a)
    log_prefix = m.sub(m.sub(m.mul(a, m.log(x)), x), lgamma(m, a))
    b0 = m.add(m.sub(x, a), 1.0)
    b0 = m.select(m.lt(m.abs(b0), _TINY), _TINY, b0)

    def body(scope, i, state):
        s = Math(scope, state[0])
        term, total, bn, c, d, h, x_, a_ = state
        n = s.add(s.b.convert(s.b.broadcast(i, s.dims, ()), s.t), 1.0)
        term = s.mul(term, s.div(x_, s.add(a_, n)))
        total = s.add(total, term)
        an = s.neg(s.mul(n, s.sub(n, a_)))
        bn = s.add(bn, 2.0)
        c, d, factor = _lentz_step(s, an, bn, c, d)
        return [term, total, bn, c, d, s.mul(h, factor), x_, a_]

    one = m.c(1.0)
    init = [one, one, b0, m.c(1.0 / _TINY), m.div(1.0, b0), m.div(1.0, b0), x, a]
    term, total, _, _, _, h, _, _ = fori_loop(ctx, "igamma", _ITERATIONS, init, body)
    # Series: P = x^a e^-x / Gamma(a + 1) * total = exp(log_prefix) * total / a.
    p_series = m.div(m.mul(m.exp(log_prefix), total), a)
    q_fraction = m.mul(m.exp(log_prefix), h)
    use_series = m.lt(x, m.add(a, 1.0))
    p = m.select(use_series, p_series, m.sub(1.0, q_fraction))
    q = m.select(use_series, m.sub(1.0, p_series), q_fraction)
    result = q if upper else p
    result = m.select(m.eq(x, 0.0), 1.0 if upper else 0.0, result)
    result = m.select(m.eq(x, math.inf), 0.0 if upper else 1.0, result)
    invalid = m.b.binary("or", m.le(a, 0.0), m.lt(x, 0.0))
    return m.select(invalid, math.nan, result)


def betainc(ctx, a, b, x):
    """The regularized incomplete beta I_x(a, b): the continued fraction (Numerical
    Recipes' betacf) on x or, past the mean, on 1 - x with a and b swapped."""
    m = Math(ctx, a)
    flip = m.gt(x, m.div(m.add(a, 1.0), m.add(m.add(a, b), 2.0)))
    aa = m.select(flip, b, a)
    bb = m.select(flip, a, b)
    xx = m.select(flip, m.sub(1.0, x), x)
    qab, qap = m.add(aa, bb), m.add(aa, 1.0)
    d0 = m.sub(1.0, m.div(m.mul(qab, xx), qap))
    d0 = m.div(1.0, m.select(m.lt(m.abs(d0), _TINY), _TINY, d0))

    def body(scope, i, state):
        s = Math(scope, state[0])
        c, d, h, a_, b_, x_ = state
        k = s.add(s.b.convert(s.b.broadcast(i, s.dims, ()), s.t), 1.0)
        qab_, qap_, qam_ = s.add(a_, b_), s.add(a_, 1.0), s.sub(a_, 1.0)
        two_k = s.mul(2.0, k)
        even = s.div(s.mul(s.mul(k, s.sub(b_, k)), x_), s.mul(s.add(qam_, two_k),
                                                              s.add(a_, two_k)))
        c, d, f1 = _lentz_step(s, even, s.c(1.0), c, d)
        odd = s.neg(s.div(s.mul(s.mul(s.add(a_, k), s.add(qab_, k)), x_),
                          s.mul(s.add(a_, two_k), s.add(qap_, two_k))))
        c, d, f2 = _lentz_step(s, odd, s.c(1.0), c, d)
        return [c, d, s.mul(h, s.mul(f1, f2)), a_, b_, x_]

    init = [m.c(1.0), d0, d0, aa, bb, xx]
    _, _, h, _, _, _ = fori_loop(ctx, "betainc", _ITERATIONS, init, body)
    log_front = m.add(m.sub(m.sub(lgamma(m, qab), lgamma(m, aa)), lgamma(m, bb)),
                      m.add(m.mul(aa, m.log(xx)), m.mul(bb, m.u("log-plus-one", m.neg(xx)))))
    value = m.div(m.mul(m.exp(log_front), h), aa)
    result = m.select(flip, m.sub(1.0, value), value)
    result = m.select(m.eq(x, 0.0), 0.0, result)
    result = m.select(m.eq(x, 1.0), 1.0, result)
    invalid = m.b.binary("or", m.b.binary("or", m.le(a, 0.0), m.le(b, 0.0)),
                         m.b.binary("or", m.lt(x, 0.0), m.gt(x, 1.0)))
    return m.select(invalid, math.nan, result)
