"""The f32 transcendental functions (backends/cpu/math_f32.py) against a float64
reference, on a million log-uniformly spread inputs each (both signs, the whole f32
range, subnormals) plus +-0, +-inf, NaN and the points where the reductions switch
branches: every error within the function's stated ulp bound (ULP_BOUNDS, measured over
all 2^32 inputs by tools/f32_math_sweep.py).

One compiled module holds every function; it runs once on all the inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from compiled import Compiled  # noqa: E402
from f32_math import (  # noqa: E402
    OPCODES, REFERENCES, ULP_BOUNDS, focused, log_uniform, math_module, ulp_errors,
)

N = 1 << 20


@pytest.fixture(scope="module")
def results():
    rng = np.random.default_rng(13)
    x = np.concatenate([log_uniform(N, rng), focused(1 << 16, rng, -2.0, 2.0),
                        focused(1 << 16, rng, -105.0, 90.0),
                        focused(1 << 17, rng, -5.0, 5.0)])
    compiled = Compiled(math_module(x.size))
    return x, dict(zip(OPCODES, compiled(x)))


@pytest.mark.parametrize("opcode", OPCODES)
def test_within_ulp_bound(results, opcode):
    x, got = results
    errors = ulp_errors(got[opcode], x, opcode)
    worst = int(np.argmax(errors))
    assert errors[worst] <= ULP_BOUNDS[opcode], (
        f"{opcode}({x[worst]!r}) = {got[opcode][worst]!r}: {errors[worst]:.2f} ulp")


@pytest.mark.parametrize("opcode", OPCODES)
def test_special_values(results, opcode):
    x, got = results
    got = got[opcode]
    for value in (0.0, -0.0, np.inf, -np.inf, np.nan):
        k = int(np.flatnonzero((x == value) & (np.signbit(x) == np.signbit(value)) |
                               (np.isnan(x) & np.isnan(value)))[0])
        with np.errstate(all="ignore"):
            expected = np.float32(REFERENCES[opcode](np.array([value], np.float64))[0])
        assert np.array_equal(got[k], expected, equal_nan=True), (opcode, value, got[k])
        assert np.signbit(got[k]) == np.signbit(expected) or np.isnan(expected), (opcode, value)


def test_remainder_is_exact():
    """f32 remainder (C's fmod; backends/cpu/math.py, exact by construction) equals
    np.fmod bit for bit on a million random bit patterns (every sign, exponent gap and
    subnormal) and on every pair of special values."""
    from aotc.hlo import Builder, Shape

    rng = np.random.default_rng(7)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.17549435e-38,
                         3.4028235e38, -3.4028235e38, 1.0, -1.0, 0.3, 1.7], np.float32)
    x = rng.integers(0, 2**32, N, dtype=np.uint64).astype(np.uint32).view(np.float32)
    y = rng.integers(0, 2**32, N, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = np.concatenate([np.repeat(specials, specials.size), x])
    y = np.concatenate([np.tile(specials, specials.size), y])
    b = Builder("main")
    operands = [b.parameter(Shape.array("f32", [x.size]), name) for name in ("x", "y")]
    (got,) = Compiled(b.module(b.tuple([b.binary("remainder", *operands)]), name="fmod"))(x, y)
    with np.errstate(all="ignore"):
        expected = np.fmod(x, y)
    same = (got.view(np.uint32) == expected.view(np.uint32)) | (np.isnan(got) & np.isnan(expected))
    assert same.all(), list(zip(x[~same][:5], y[~same][:5], got[~same][:5], expected[~same][:5]))


def test_erfc_within_ulp_bound():
    """TensorFlow's Erfc of f32 operands (lowered to the `erfc` opcode, computed in f32 by
    math_f32.erfc) through the whole pipeline, on a million log-uniform inputs plus a
    million uniform in [-12, 12] (the range where the result is not 0 or 2, and the
    underflow), and the specials."""
    from aotc.passes.pipeline import default_pipeline
    from tf_graphs import lower_case, run_tf

    import tensorflow as tf

    rng = np.random.default_rng(11)
    x = np.concatenate([log_uniform(N, rng), focused(N, rng, -12.0, 12.0)])
    module = lower_case(run_tf(lambda p: tf.math.erfc(p), [x]))
    default_pipeline().run(module)
    (got,) = Compiled(module)(x)
    errors = ulp_errors(got, x, "erfc")
    worst = int(np.argmax(errors))
    assert errors[worst] <= ULP_BOUNDS["erfc"], (
        f"erfc({x[worst]!r}) = {got[worst]!r}: {errors[worst]:.2f} ulp")
    specials = {0.0: 1.0, -0.0: 1.0, np.inf: 0.0, -np.inf: 2.0}
    for value, expected in specials.items():
        assert got[int(np.flatnonzero(x == value)[0])] == expected, value
    assert np.isnan(got[int(np.flatnonzero(np.isnan(x))[0])])


def test_stored_exp_coefficients_are_the_fit():
    """math_f32 stores exp's polynomial instead of fitting it per compile: the stored
    coefficients must be exactly what the fit gives."""
    import math

    from aotc.backends.cpu.math_f32 import (EXP_COEFFICIENTS, EXP_DEGREE,
                                            chebyshev_fit)

    assert EXP_COEFFICIENTS == chebyshev_fit(math.exp, -0.36, 0.36, EXP_DEGREE)
