"""TF op cases for the ops of the tf2xla inference set added after the first coverage
list (tests/op_coverage_cases.py): each op in three or more configurations, compared with
TensorFlow by tests/test_op_coverage.py (HLO evaluator) and tests/test_op_coverage_cpu.py
(CPU backend).

Tolerances are op_coverage_cases' (F16, F64) and tf_graphs' (EXACT, ELEMENTWISE,
ACCUMULATE); special functions composed in f64 are held to F32_ULPS (a few f32 ulps:
TensorFlow's own f32 kernels are accurate to about that, aotc's to half an ulp).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from op_coverage_cases import F16, F64, V
from tf_graphs import ACCUMULATE, ELEMENTWISE, EXACT, R, c

raw = tf.raw_ops
const = tf.constant
f16, f32, f64 = np.float16, np.float32, np.float64
i8, i16, i32, i64, u8, b1 = np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_
u16, u32, u64 = np.uint16, np.uint32, np.uint64
NAN, INF = np.nan, np.inf

F32_ULPS = 2e-6


def _trig(op, fn, low, high, specials):
    return [
        c(op, "f32", fn, R(3, 4, low=low, high=high), tol=F32_ULPS),
        c(op, "f64", fn, R(7, dtype=f64, low=low, high=high), tol=F64),
        c(op, "f16", fn, R(5, dtype=f16, low=low, high=high), tol=F16),
        c(op, "specials", fn, V(specials), tol=F32_ULPS),
    ]


TRIG = [
    *_trig("Asin", tf.asin, -1, 1, [-1.0, 1.0, 0.0, -0.0, 1.5, NAN, 1e-30, 0.999]),
    *_trig("Acos", tf.acos, -1, 1, [-1.0, 1.0, 0.0, -0.0, -1.5, NAN, 1e-30, -0.999]),
    *_trig("Atan", tf.atan, -20, 20, [INF, -INF, 0.0, -0.0, NAN, 1e30, 1e-30]),
    *_trig("Sinh", tf.sinh, -8, 8, [0.0, -0.0, 1e-8, 30.0, -88.0, 200.0, INF, NAN]),
    *_trig("Cosh", tf.cosh, -8, 8, [0.0, 1e-8, 30.0, -88.0, 200.0, -INF, NAN]),
    *_trig("Asinh", tf.asinh, -50, 50, [0.0, -0.0, 1e-20, -1e30, 3e38, INF, NAN]),
    *_trig("Acosh", tf.acosh, 1, 50, [1.0, 1.0000001, 0.5, 1e30, 3e38, INF, NAN]),
    *_trig("Atanh", tf.atanh, -1, 1, [-1.0, 1.0, 0.0, -0.0, 1e-20, 0.9999, 2.0, NAN]),
]

BITWISE = [
    c("Invert", "i32", lambda x: tf.bitwise.invert(x), R(3, 4, dtype=i32, low=-99, high=99),
      tol=EXACT),
    c("Invert", "u8", lambda x: tf.bitwise.invert(x), R(6, dtype=u8, low=0, high=255), tol=EXACT),
    c("Invert", "i64", lambda x: tf.bitwise.invert(x), V([0, -1, 2**62, -2**63], i64), tol=EXACT),
    c("LeftShift", "i32-bcast", lambda x, y: tf.bitwise.left_shift(x, y),
      R(2, 3, dtype=i32, low=-999, high=999), R(3, dtype=i32, low=0, high=31), tol=EXACT),
    c("LeftShift", "u8", lambda x, y: tf.bitwise.left_shift(x, y), R(6, dtype=u8, low=0, high=255),
      R(6, dtype=u8, low=0, high=7), tol=EXACT),
    c("LeftShift", "i64-scalar", lambda x, y: tf.bitwise.left_shift(x, y),
      R(5, dtype=i64, low=-10**9, high=10**9), V(33, i64), tol=EXACT),
    c("RightShift", "i32-negative", lambda x, y: tf.bitwise.right_shift(x, y),
      R(2, 3, dtype=i32, low=-999, high=999), R(3, dtype=i32, low=0, high=31), tol=EXACT),
    c("RightShift", "u16", lambda x, y: tf.bitwise.right_shift(x, y),
      R(6, dtype=u16, low=0, high=65535), R(6, dtype=u16, low=0, high=15), tol=EXACT),
    c("RightShift", "i8", lambda x, y: tf.bitwise.right_shift(x, y),
      R(6, dtype=i8, low=-128, high=127), R(6, dtype=i8, low=0, high=7), tol=EXACT),
    c("PopulationCount", "i32", lambda x: tf.raw_ops.PopulationCount(x=x),
      V([0, -1, 1, 255, -2**31, 2**31 - 1, 12345], i32), tol=EXACT),
    c("PopulationCount", "u8", lambda x: tf.raw_ops.PopulationCount(x=x),
      R(8, dtype=u8, low=0, high=255), tol=EXACT),
    c("PopulationCount", "i64", lambda x: tf.raw_ops.PopulationCount(x=x),
      V([0, -1, 2**62 + 7, -2**63, 0x0F0F0F0F0F], i64), tol=EXACT),
    c("PopulationCount", "i16", lambda x: tf.raw_ops.PopulationCount(x=x),
      R(2, 3, dtype=i16, low=-32768, high=32767), tol=EXACT),
]

ZERO_SAFE = [
    c("MulNoNan", "f32-bcast", lambda x, y: tf.math.multiply_no_nan(x, y),
      V([[NAN, INF, 2.0]]), V([[0.0], [3.0]]), tol=EXACT),
    c("MulNoNan", "f64", lambda x, y: tf.math.multiply_no_nan(x, y), R(5, dtype=f64),
      V([0.0, 1.0, -0.0, 2.0, 3.0], f64), tol=F64),
    c("MulNoNan", "f16", lambda x, y: tf.math.multiply_no_nan(x, y), R(2, 3, dtype=f16),
      R(3, dtype=f16), tol=F16),
    c("Xdivy", "f32", lambda x, y: tf.math.xdivy(x, y), V([0.0, 0.0, 1.0, -2.0]),
      V([0.0, NAN, 0.0, 4.0]), tol=ELEMENTWISE),
    c("Xdivy", "f64-bcast", lambda x, y: tf.math.xdivy(x, y), R(3, 1, dtype=f64),
      R(4, dtype=f64, low=0.5, high=3), tol=F64),
    c("Xdivy", "f16", lambda x, y: tf.math.xdivy(x, y), R(4, dtype=f16), R(4, dtype=f16, low=1),
      tol=F16),
    c("Xlogy", "f32", lambda x, y: tf.math.xlogy(x, y), V([0.0, 0.0, 1.0, -2.0, 3.0]),
      V([0.0, NAN, 0.0, 4.0, -1.0]), tol=ELEMENTWISE),
    c("Xlogy", "f64-bcast", lambda x, y: tf.math.xlogy(x, y), R(3, 1, dtype=f64),
      R(4, dtype=f64, low=0.1, high=3), tol=F64),
    c("Xlogy", "f16", lambda x, y: tf.math.xlogy(x, y), R(4, dtype=f16), R(4, dtype=f16, low=0.5),
      tol=F16),
    c("Xlog1py", "f32", lambda x, y: tf.math.xlog1py(x, y), V([0.0, 0.0, 1.0, -2.0, 3.0]),
      V([-1.0, NAN, 1e-8, 4.0, -2.0]), tol=ELEMENTWISE),
    c("Xlog1py", "f64-bcast", lambda x, y: tf.math.xlog1py(x, y), R(3, 1, dtype=f64),
      R(4, dtype=f64, low=-0.5, high=3), tol=F64),
    c("Xlog1py", "f16", lambda x, y: tf.math.xlog1py(x, y), R(4, dtype=f16),
      R(4, dtype=f16, low=0), tol=F16),
    c("ApproximateEqual", "default", lambda x, y: raw.ApproximateEqual(x=x, y=y),
      V([1.0, 1.0, 2.0, NAN]), V([1.0, 1.000001, 2.1, NAN]), tol=EXACT),
    c("ApproximateEqual", "f64-tol", lambda x, y: raw.ApproximateEqual(x=x, y=y, tolerance=0.5),
      R(3, 4, dtype=f64), R(3, 4, dtype=f64), tol=EXACT),
    c("ApproximateEqual", "inf", lambda x, y: raw.ApproximateEqual(x=x, y=y, tolerance=2.0),
      V([INF, INF, -INF, 3.0, 1.0]), V([INF, -INF, -INF, 1.0, 2.5]), tol=EXACT),
]


def _scan(op, fn):
    return [
        c(op, "axis0", lambda x: fn(x, 0), R(4, 3, low=0.5, high=1.5), tol=ACCUMULATE),
        c(op, "exclusive", lambda x: fn(x, 1, exclusive=True), R(2, 5, low=0.5, high=1.5),
          tol=ACCUMULATE),
        c(op, "reverse-neg-axis", lambda x: fn(x, -1, reverse=True), R(2, 2, 4, low=0.5, high=1.5),
          tol=ACCUMULATE),
        c(op, "exclusive-reverse-f64", lambda x: fn(x, 0, exclusive=True, reverse=True),
          R(6, dtype=f64, low=0.5, high=1.5), tol=F64),
    ]


SCANS = [
    *_scan("Cumprod", lambda x, axis, **kw: tf.math.cumprod(x, axis, **kw)),
    c("Cumprod", "i32", lambda x: tf.math.cumprod(x, 0), R(5, 2, dtype=i32, low=-3, high=3),
      tol=EXACT),
    *_scan("CumulativeLogsumexp", lambda x, axis, **kw: tf.math.cumulative_logsumexp(x, axis,
                                                                                    **kw)),
    c("CumulativeLogsumexp", "large-inf", lambda x: tf.math.cumulative_logsumexp(x, 0),
      V([-INF, -INF, 100.0, 1e3, -INF]), tol=ELEMENTWISE),
]

MISC = [
    c("ConjugateTranspose", "2d", lambda x: raw.ConjugateTranspose(x=x, perm=[1, 0]), R(2, 3),
      tol=EXACT),
    c("ConjugateTranspose", "3d-i32", lambda x: raw.ConjugateTranspose(x=x, perm=[2, 0, 1]),
      R(2, 3, 4, dtype=i32), tol=EXACT),
    c("ConjugateTranspose", "identity-f64", lambda x: raw.ConjugateTranspose(x=x, perm=[0, 1]),
      R(2, 2, dtype=f64), tol=EXACT),
    c("ToBool", "scalar", lambda x: tf.cast(raw.ToBool(input=x), tf.int32), V(0.0), tol=EXACT),
    c("ToBool", "scalar-i32", lambda x: raw.ToBool(input=x), V(-3, i32), tol=EXACT),
    c("ToBool", "vector", lambda x: raw.ToBool(input=x), R(3), tol=EXACT),
    c("ToBool", "empty", lambda x: raw.ToBool(input=x), R(0, 2), tol=EXACT),
]

ALL_CASES = TRIG + BITWISE + ZERO_SAFE + SCANS + MISC

#: Batches for tests/test_op_coverage_cpu.py: one compiled module each.
TF2XLA_GROUPS = {
    "tf2xla-elementwise": TRIG + BITWISE + ZERO_SAFE + SCANS + MISC,
}

#: The ops this list is about: each needs at least three cases above.
COVERAGE_OPS = sorted({k.op for k in ALL_CASES})

__all__ = ["ALL_CASES", "BITWISE", "COVERAGE_OPS", "MISC", "SCANS", "TF2XLA_GROUPS", "TRIG", "ZERO_SAFE"]
