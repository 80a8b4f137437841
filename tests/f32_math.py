"""The f32 math functions' error measurement, shared by tests/test_math_f32.py (a million
log-uniform inputs per function) and tools/f32_math_sweep.py (every f32).

One module applies every function of backends/cpu/math_f32.py to one f32 vector; its
results are compared with a float64 NumPy reference, the error counted in ulps of the f32
result (subnormal results in ulps of the smallest subnormal).
"""

from __future__ import annotations

import math

import numpy as np

from aotc.backends.cpu.math_f32 import FUNCTIONS, ULP_BOUNDS
from aotc.hlo import Builder, Shape


def _logistic(x):
    with np.errstate(over="ignore"):
        return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


def _erf(x):
    """math.erf where it is needed: 2x/sqrt(pi) (1 - x**2/3) below 2**-20 (the next term is
    below 2**-42 relative), +-1 from 6 on (1 - erf(6) < 2**-55), NaN for NaN."""
    result = np.where(np.abs(x) < 6.0, x * (2 / math.sqrt(math.pi)) * (1 - x * x / 3),
                      np.sign(x))
    middle = (np.abs(x) >= 2.0**-20) & (np.abs(x) < 6.0)
    if middle.any():
        result[middle] = np.vectorize(math.erf, otypes=[np.float64])(x[middle])
    return result


def _erfc(x):
    """math.erfc where it is needed: 1 - 2x/sqrt(pi) below 2**-26 (the next term is below
    2**-52), 0 from 27 on (erfc(27) < 1e-318, far below f32's subnormals), 2 below -6
    (2 - erfc(6) rounds to 2 in f64), NaN for NaN."""
    result = np.where(x < 0, 2.0, 0.0)
    result = np.where(np.abs(x) < 2.0**-26, 1 - x * (2 / math.sqrt(math.pi)), result)
    result = np.where(np.isnan(x), x, result)
    middle = (np.abs(x) >= 2.0**-26) & (x < 27.0) & (x > -6.0)
    if middle.any():
        result[middle] = np.vectorize(math.erfc, otypes=[np.float64])(x[middle])
    return result


#: opcode -> float64 reference
REFERENCES = {"exponential": np.exp, "exponential-minus-one": np.expm1, "log": np.log,
              "log-plus-one": np.log1p, "tanh": np.tanh, "logistic": _logistic,
              "erf": _erf, "erfc": _erfc}
OPCODES = list(FUNCTIONS)
assert set(OPCODES) == set(REFERENCES) == set(ULP_BOUNDS)


def math_module(n: int):
    """One f32[n] parameter; the result tuple holds every function of it, in OPCODES order."""
    b = Builder("main")
    x = b.parameter(Shape.array("f32", [n]), "x")
    return b.module(b.tuple([b.unary(opcode, x) for opcode in OPCODES]), name="f32_math")


def ulp_errors(got: np.ndarray, x: np.ndarray, opcode: str, reference=None) -> np.ndarray:
    """|got - exact| in ulps of the f32 result, per element (0 where both are the same
    NaN/inf; inf where one is NaN or inf and the other is not). `reference` (a float64
    function) replaces REFERENCES[opcode]."""
    with np.errstate(all="ignore"):
        exact = (reference or REFERENCES[opcode])(x.astype(np.float64))
        # The ulp of |exact|'s f32 binade, 2**(e - 23), at least 2**-149: built from the
        # double's exponent field (the clamp also covers 0; inf and NaN are redone below).
        field = (exact.view(np.uint64) >> np.uint64(52)) & np.uint64(0x7FF)
        ulp = (np.maximum(field, np.uint64(1023 - 149 + 23)) - np.uint64(23)) << np.uint64(52)
        error = np.abs(got.astype(np.float64) - exact)
        error /= ulp.view(np.float64)
        rounded = exact.astype(np.float32)
    special = ~(np.isfinite(rounded) & np.isfinite(got))
    if special.any():
        same = (np.isnan(rounded[special]) & np.isnan(got[special])) | (
            rounded[special] == got[special])
        error[special] = np.where(same, 0.0, np.inf)
    return error


def log_uniform(n: int, rng) -> np.ndarray:
    """n f32 values of both signs, magnitudes log-uniform over the whole f32 range
    (subnormals included), plus the special values."""
    exponents = rng.uniform(-149, 128, n)
    x = (np.exp2(exponents) * rng.choice([-1.0, 1.0], n)).astype(np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1e-40, -1e-40,
                         1.17549435e-38, -1.17549435e-38, 3.4028235e38, -3.4028235e38,
                         1.0, -1.0, 88.7, 89.0, -87.3, -103.9, -104.0, 0.34, -0.34],
                        np.float32)
    return np.concatenate([specials, x])


def focused(n: int, rng, low: float, high: float) -> np.ndarray:
    """n f32 values uniform in [low, high] (where each function's reductions switch)."""
    return rng.uniform(low, high, n).astype(np.float32)
