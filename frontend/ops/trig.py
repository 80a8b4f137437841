"""Inverse trigonometric and hyperbolic functions, composed from atan2, log1p, expm1 and
sqrt (HLO has none of them), in f64 (numerics.in_working_precision)."""

from __future__ import annotations

import math

from .numerics import in_working_precision
from .registry import lowering, single

#: Past this magnitude x^2 would overflow f64 (asinh/acosh use log(2|x|) there), and
#: exp(-|x|) is below an ulp of exp(|x|) (sinh/cosh use exp(|x| - ln 2)).
_HUGE = 1e150
_LARGE = 20.0


def _asin(m, x):
    # 2 atan2(x, 1 + sqrt(1 - x^2)): accurate near +-1, NaN outside [-1, 1].
    return m.mul(2.0, m.b.binary("atan2", x, m.add(1.0, m.sqrt(m.mul(m.sub(1.0, x),
                                                                      m.add(1.0, x))))))


def _acos(m, x):
    # 2 atan2(sqrt(1 - x^2), 1 + x), except at x = -1 where atan2(0, 0) would give 0.
    root = m.sqrt(m.mul(m.sub(1.0, x), m.add(1.0, x)))
    return m.select(m.eq(x, -1.0), math.pi, m.mul(2.0, m.b.binary("atan2", root, m.add(1.0, x))))


def _atan(m, x):
    return m.b.binary("atan2", x, m.c(1.0))


def _sinh(m, x):
    # (expm1(x) - expm1(-x)) / 2 has no cancellation near 0; far out, e^|x| / 2 is formed
    # without overflowing first.
    near = m.mul(0.5, m.sub(m.u("exponential-minus-one", x),
                            m.u("exponential-minus-one", m.neg(x))))
    far = m.mul(m.u("sign", x), m.exp(m.sub(m.abs(x), math.log(2.0))))
    return m.select(m.lt(m.abs(x), _LARGE), near, far)


def _cosh(m, x):
    near = m.mul(0.5, m.add(m.exp(x), m.exp(m.neg(x))))
    far = m.exp(m.sub(m.abs(x), math.log(2.0)))
    return m.select(m.lt(m.abs(x), _LARGE), near, far)


def _asinh(m, x):
    # sign(x) log1p(|x| + x^2 / (1 + sqrt(1 + x^2))); log(2|x|) once x^2 overflows.
    a = m.abs(x)
    a2 = m.mul(a, a)
    near = m.u("log-plus-one", m.add(a, m.div(a2, m.add(1.0, m.sqrt(m.add(1.0, a2))))))
    far = m.add(m.log(a), math.log(2.0))
    return m.mul(m.u("sign", x), m.select(m.lt(a, _HUGE), near, far))


def _acosh(m, x):
    # log1p(t + sqrt(t (t + 2))) with t = x - 1 keeps precision near 1; NaN below 1.
    t = m.sub(x, 1.0)
    near = m.u("log-plus-one", m.add(t, m.sqrt(m.mul(t, m.add(t, 2.0)))))
    far = m.add(m.log(x), math.log(2.0))
    return m.select(m.lt(x, _HUGE), near, far)


def _atanh(m, x):
    # log1p(2x / (1 - x)) / 2: +-inf at +-1, NaN beyond.
    return m.mul(0.5, m.u("log-plus-one", m.div(m.mul(2.0, x), m.sub(1.0, x))))


#: TF op -> formula over f64 (m: numerics.Math, x: the operand).
FORMULAS = {"Asin": _asin, "Acos": _acos, "Atan": _atan, "Sinh": _sinh, "Cosh": _cosh,
            "Asinh": _asinh, "Acosh": _acosh, "Atanh": _atanh}


def _rule(formula):
    def rule(ctx, node, inputs):
        return in_working_precision(ctx, node, single(inputs), formula)

    rule.__doc__ = f"Lower with {formula.__name__[1:]}'s composition in f64."
    return rule


for _op, _formula in FORMULAS.items():
    lowering(_op)(_rule(_formula))
