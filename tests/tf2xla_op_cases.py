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

BITS = [
    c("Bitcast", "f32-to-i32", lambda x: tf.bitcast(x, tf.int32),
      V([[1.0, -0.0, INF], [NAN, 1e-45, -3.25]]), tol=EXACT),
    c("Bitcast", "f32-to-u8-adds-dim", lambda x: tf.bitcast(x, tf.uint8), R(2, 4), tol=EXACT),
    c("Bitcast", "u8-to-f32-drops-dim", lambda x: tf.bitcast(x, tf.float32),
      R(3, 4, dtype=u8, low=0, high=255), tol=EXACT),
    c("Bitcast", "f64-to-i16", lambda x: tf.bitcast(x, tf.int16), R(3, dtype=f64), tol=EXACT),
    c("Bitcast", "i16-to-f16-scalar", lambda x: tf.bitcast(x, tf.float16), V(15360, i16),
      tol=EXACT),
    c("NextAfter", "specials", lambda x, y: tf.math.nextafter(x, y),
      V([0.0, -0.0, 0.0, 1.0, 1.0, -1.0, NAN, 2.0, INF, -INF, 3.4028235e38, 1.1754944e-38, -1.1754944e-38, 5.0]),
      V([-0.0, 0.0, -1.0, 2.0, 0.0, -2.0, 1.0, NAN, 0.0, INF, INF, 0.0, 0.0, 5.0]), tol=EXACT),
    c("NextAfter", "f32-bcast", lambda x, y: tf.math.nextafter(x, y), R(3, 4), R(4), tol=EXACT),
    # TensorFlow's CPU kernels read subnormal inputs as zero (flush-to-zero); aotc keeps
    # them, so subnormals appear here only as results.
    c("NextAfter", "f64", lambda x, y: tf.math.nextafter(x, y),
      V([0.0, 1.0, -2.5, 1e-300, 1e308], f64), V([1.0, -1.0, -2.5, 0.0, INF], f64), tol=EXACT),
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


MATRIX = [
    c("MatrixBandPart", "causal", lambda x: tf.linalg.band_part(x, -1, 0), R(4, 4), tol=EXACT),
    c("MatrixBandPart", "batch-rect", lambda x: tf.linalg.band_part(x, 1, 2), R(2, 3, 5),
      tol=EXACT),
    c("MatrixBandPart", "runtime-bounds-i64",
      lambda x, lo, hi: tf.linalg.band_part(x, lo, hi), R(5, 3, dtype=i32),
      V(0, i64), V(-1, i64), tol=EXACT),
    c("MatrixBandPart", "nan", lambda x: tf.linalg.band_part(x, 0, 0), V([[NAN, INF], [1, 2]]),
      tol=EXACT),
    c("MatrixDiag", "vector", lambda d: raw.MatrixDiag(diagonal=d), R(4), tol=EXACT),
    c("MatrixDiag", "batch-i32", lambda d: raw.MatrixDiag(diagonal=d), R(2, 3, dtype=i32),
      tol=EXACT),
    c("MatrixDiag", "size1", lambda d: raw.MatrixDiag(diagonal=d), R(3, 1), tol=EXACT),
    c("MatrixDiagV2", "band", lambda d: raw.MatrixDiagV2(diagonal=d, k=[-1, 1], num_rows=-1,
                                                         num_cols=-1, padding_value=9.0),
      R(2, 3, 3), tol=EXACT),
    c("MatrixDiagV2", "rect", lambda d: raw.MatrixDiagV2(diagonal=d, k=1, num_rows=3,
                                                         num_cols=5, padding_value=0.0),
      R(3), tol=EXACT),
    c("MatrixDiagV2", "sub", lambda d: raw.MatrixDiagV2(diagonal=d, k=-2, num_rows=-1,
                                                        num_cols=-1, padding_value=-1),
      R(2, 3, dtype=i32), tol=EXACT),
    c("MatrixDiagV3", "right-left", lambda d: raw.MatrixDiagV3(
        diagonal=d, k=[-1, 2], num_rows=4, num_cols=5, padding_value=7.0), R(2, 4, 4), tol=EXACT),
    c("MatrixDiagV3", "left-right", lambda d: raw.MatrixDiagV3(
        diagonal=d, k=[-2, 0], num_rows=-1, num_cols=-1, padding_value=0.0, align="LEFT_RIGHT"),
      R(3, 3), tol=EXACT),
    c("MatrixDiagV3", "single", lambda d: raw.MatrixDiagV3(
        diagonal=d, k=0, num_rows=-1, num_cols=-1, padding_value=0.0), R(2, 4, dtype=f64),
      tol=EXACT),
    c("MatrixDiagPart", "square", lambda x: raw.MatrixDiagPart(input=x), R(4, 4), tol=EXACT),
    c("MatrixDiagPart", "batch-wide", lambda x: raw.MatrixDiagPart(input=x),
      R(2, 3, 5, dtype=i32), tol=EXACT),
    c("MatrixDiagPart", "tall", lambda x: raw.MatrixDiagPart(input=x), R(5, 2), tol=EXACT),
    c("MatrixDiagPartV2", "band", lambda x: raw.MatrixDiagPartV2(input=x, k=[-1, 2],
                                                                 padding_value=5.0),
      R(2, 4, 3), tol=EXACT),
    c("MatrixDiagPartV2", "single", lambda x: raw.MatrixDiagPartV2(input=x, k=1, padding_value=0),
      R(3, 4, dtype=i32), tol=EXACT),
    c("MatrixDiagPartV2", "sub", lambda x: raw.MatrixDiagPartV2(input=x, k=[-3, -1],
                                                                padding_value=0.0),
      R(5, 4), tol=EXACT),
    c("MatrixDiagPartV3", "right-left", lambda x: raw.MatrixDiagPartV3(
        input=x, k=[-1, 2], padding_value=9.0), R(2, 4, 5), tol=EXACT),
    c("MatrixDiagPartV3", "left-right", lambda x: raw.MatrixDiagPartV3(
        input=x, k=[-2, 1], padding_value=0.0, align="LEFT_RIGHT"), R(4, 3), tol=EXACT),
    c("MatrixDiagPartV3", "main", lambda x: tf.linalg.diag_part(x), R(3, 3, dtype=f64),
      tol=EXACT),
    c("MatrixSetDiag", "square", lambda x, d: raw.MatrixSetDiag(input=x, diagonal=d), R(3, 3),
      R(3), tol=EXACT),
    c("MatrixSetDiag", "batch-wide", lambda x, d: raw.MatrixSetDiag(input=x, diagonal=d),
      R(2, 2, 4, dtype=i32), R(2, 2, dtype=i32), tol=EXACT),
    c("MatrixSetDiag", "tall", lambda x, d: raw.MatrixSetDiag(input=x, diagonal=d), R(4, 2),
      R(2), tol=EXACT),
    c("MatrixSetDiagV2", "band", lambda x, d: raw.MatrixSetDiagV2(input=x, diagonal=d,
                                                                  k=[-1, 1]),
      R(2, 3, 4), R(2, 3, 3), tol=EXACT),
    c("MatrixSetDiagV2", "super", lambda x, d: raw.MatrixSetDiagV2(input=x, diagonal=d, k=2),
      R(4, 4), R(2), tol=EXACT),
    c("MatrixSetDiagV2", "sub-i32", lambda x, d: raw.MatrixSetDiagV2(input=x, diagonal=d, k=-1),
      R(3, 3, dtype=i32), R(2, dtype=i32), tol=EXACT),
    c("MatrixSetDiagV3", "right-left", lambda x, d: raw.MatrixSetDiagV3(
        input=x, diagonal=d, k=[-1, 2]), R(4, 5), R(4, 4), tol=EXACT),
    c("MatrixSetDiagV3", "left-right", lambda x, d: raw.MatrixSetDiagV3(
        input=x, diagonal=d, k=[-2, 0], align="LEFT_RIGHT"), R(2, 3, 3), R(2, 3, 3), tol=EXACT),
    c("MatrixSetDiagV3", "main", lambda x, d: tf.linalg.set_diag(x, d), R(3, 2, dtype=f64),
      R(2, dtype=f64), tol=EXACT),
    c("Diag", "vector", lambda x: tf.linalg.tensor_diag(x), R(4), tol=EXACT),
    c("Diag", "matrix-i32", lambda x: tf.linalg.tensor_diag(x), R(2, 3, dtype=i32), tol=EXACT),
    c("Diag", "size1-f64", lambda x: tf.linalg.tensor_diag(x), R(1, 1, dtype=f64), tol=EXACT),
    c("DiagPart", "matrix", lambda x: tf.linalg.tensor_diag_part(x), R(4, 4), tol=EXACT),
    c("DiagPart", "rank4-i32", lambda x: tf.linalg.tensor_diag_part(x), R(2, 3, 2, 3, dtype=i32),
      tol=EXACT),
    c("DiagPart", "size1", lambda x: tf.linalg.tensor_diag_part(x), R(1, 1), tol=EXACT),
    c("Cross", "vector", lambda a, b: tf.linalg.cross(a, b), R(3), R(3)),
    c("Cross", "batch-f64", lambda a, b: tf.linalg.cross(a, b), R(2, 4, 3, dtype=f64),
      R(2, 4, 3, dtype=f64), tol=F64),
    c("Cross", "i32", lambda a, b: tf.linalg.cross(a, b), R(5, 3, dtype=i32),
      R(5, 3, dtype=i32), tol=EXACT),
]

BATCH_SPACE = [
    c("SpaceToBatchND", "1d-dilated", lambda x: tf.space_to_batch_nd(x, [2], [[1, 3]]),
      R(2, 6, 3), tol=EXACT),
    c("SpaceToBatchND", "2d", lambda x: tf.space_to_batch_nd(x, [2, 3], [[0, 0], [1, 2]]),
      R(1, 4, 3, 2), tol=EXACT),
    c("SpaceToBatchND", "no-rest-i32", lambda x: tf.space_to_batch_nd(x, [2], [[0, 0]]),
      R(3, 4, dtype=i32), tol=EXACT),
    c("BatchToSpaceND", "1d-cropped", lambda x: tf.batch_to_space(x, [2], [[1, 1]]), R(4, 3, 2),
      tol=EXACT),
    c("BatchToSpaceND", "2d", lambda x: tf.batch_to_space(x, [2, 2], [[0, 1], [1, 0]]),
      R(8, 2, 3, 1), tol=EXACT),
    c("BatchToSpaceND", "i32", lambda x: tf.batch_to_space(x, [3], [[0, 0]]),
      R(6, 2, dtype=i32), tol=EXACT),
    c("SpaceToBatch", "basic", lambda x: raw.SpaceToBatch(input=x, paddings=[[0, 0], [1, 1]],
                                                         block_size=2), R(1, 4, 2, 3), tol=EXACT),
    c("SpaceToBatch", "padded", lambda x: raw.SpaceToBatch(input=x, paddings=[[1, 1], [2, 0]],
                                                          block_size=3), R(2, 4, 4, 1), tol=EXACT),
    c("SpaceToBatch", "f64", lambda x: raw.SpaceToBatch(input=x, paddings=[[0, 0], [0, 0]],
                                                       block_size=2), R(1, 2, 2, 2, dtype=f64),
      tol=EXACT),
    c("BatchToSpace", "basic", lambda x: raw.BatchToSpace(input=x, crops=[[0, 0], [1, 1]],
                                                         block_size=2), R(4, 2, 2, 3), tol=EXACT),
    c("BatchToSpace", "cropped", lambda x: raw.BatchToSpace(input=x, crops=[[1, 2], [0, 1]],
                                                           block_size=3), R(9, 2, 2, 1),
      tol=EXACT),
    c("BatchToSpace", "i32", lambda x: raw.BatchToSpace(input=x, crops=[[0, 0], [0, 0]],
                                                       block_size=2), R(8, 1, 1, 2, dtype=i32),
      tol=EXACT),
    c("SpaceToBatchND", "3d-f64", lambda x: tf.space_to_batch_nd(x, [1, 2, 2],
                                                                 [[0, 0], [1, 0], [0, 2]]),
      R(2, 2, 3, 2, 1, dtype=f64), tol=EXACT),
]

REORDER = [
    c("Roll", "1d", lambda x: tf.roll(x, 2, 0), R(5), tol=EXACT),
    c("Roll", "2d-negative", lambda x: tf.roll(x, [-1, 7], [0, 1]), R(3, 4, dtype=i32),
      tol=EXACT),
    c("Roll", "repeated-axis-runtime", lambda x, s: tf.roll(x, s, [1, 1]), R(2, 5),
      V([3, 4], i32), tol=EXACT),
    c("Reverse", "dims", lambda x: raw.Reverse(tensor=x, dims=[True, False, True]), R(2, 3, 4),
      tol=EXACT),
    c("Reverse", "none-i32", lambda x: raw.Reverse(tensor=x, dims=[False]), R(4, dtype=i32),
      tol=EXACT),
    c("Reverse", "all", lambda x: raw.Reverse(tensor=x, dims=[True, True]), R(3, 2), tol=EXACT),
    c("ReverseSequence", "batch0", lambda x: tf.reverse_sequence(x, [1, 3, 0], seq_axis=1,
                                                                 batch_axis=0), R(3, 4, 2),
      tol=EXACT),
    c("ReverseSequence", "batch-after-seq", lambda x, n: tf.reverse_sequence(
        x, n, seq_axis=0, batch_axis=2), R(4, 2, 3), V([4, 2, 1], i64), tol=EXACT),
    c("ReverseSequence", "i32", lambda x: tf.reverse_sequence(x, [2, 2], seq_axis=1,
                                                              batch_axis=0), R(2, 3, dtype=i32),
      tol=EXACT),
    c("InvertPermutation", "i32", lambda x: tf.math.invert_permutation(x),
      V([3, 0, 4, 1, 2], i32), tol=EXACT),
    c("InvertPermutation", "i64", lambda x: tf.math.invert_permutation(x), V([1, 0], i64),
      tol=EXACT),
    c("InvertPermutation", "const", lambda x: x + tf.math.invert_permutation([2, 0, 1]),
      V([0, 0, 0], i32), tol=EXACT),
]

SEARCH = [
    c("Bucketize", "f32", lambda x: raw.Bucketize(input=x, boundaries=[-1.0, 0.0, 0.5, 1.5]),
      V([-2.0, -1.0, 0.0, 0.2, 0.5, 3.0, NAN]), tol=EXACT),
    c("Bucketize", "i32-matrix", lambda x: raw.Bucketize(input=x, boundaries=[0.0, 2.5, 10.0]),
      R(3, 4, dtype=i32, low=-5, high=12), tol=EXACT),
    c("Bucketize", "f64-empty-bounds", lambda x: raw.Bucketize(input=x, boundaries=[]),
      R(3, dtype=f64), tol=EXACT),
    c("LowerBound", "i32", lambda s, v: tf.searchsorted(s, v, side="left"),
      V([[1, 3, 3, 5]], i32), V([[0, 3, 4, 9, 5]], i32), tol=EXACT),
    c("LowerBound", "f32-batch-i64", lambda s, v: tf.searchsorted(s, v, "left", tf.int64),
      V([[0.0, 1.0, 2.0], [-1.0, -1.0, 4.0]]), R(2, 4, low=-2, high=5), tol=EXACT),
    c("LowerBound", "empty-sorted", lambda s, v: raw.LowerBound(sorted_inputs=s, values=v),
      R(2, 0), R(2, 3), tol=EXACT),
    c("UpperBound", "i32", lambda s, v: tf.searchsorted(s, v, side="right"),
      V([[1, 3, 3, 5]], i32), V([[0, 3, 4, 9, 5]], i32), tol=EXACT),
    c("UpperBound", "f32-batch", lambda s, v: tf.searchsorted(s, v, "right"),
      V([[0.0, 1.0, 2.0], [-1.0, -1.0, 4.0]]), R(2, 4, low=-2, high=5), tol=EXACT),
    c("UpperBound", "f64", lambda s, v: tf.searchsorted(s, v, "right"),
      V([[0.5, 0.5, 0.5]], f64), V([[0.5, 0.4, 0.6]], f64), tol=EXACT),
    c("InTopKV2", "k2", lambda p, t: tf.math.in_top_k(t, p, 2), R(4, 5), V([0, 1, 2, 4], i32),
      tol=EXACT),
    c("InTopKV2", "ties-nonfinite", lambda p, t: tf.math.in_top_k(t, p, 1),
      V([[1.0, 1.0, 0.0], [2.0, NAN, 1.0], [0.0, INF, 1.0], [3.0, 2.0, 1.0]]),
      V([1, 0, 2, 0], i32), tol=EXACT),
    c("InTopKV2", "i64-runtime-k", lambda p, t, k: raw.InTopKV2(predictions=p, targets=t, k=k),
      R(3, 4), V([3, 2, 0], i64), V(3, i64), tol=EXACT),
    c("Bincount", "i32-weights", lambda x, w: raw.Bincount(arr=x, size=6, weights=w),
      R(10, dtype=i32, low=0, high=7), R(10, dtype=i32, low=-3, high=3), tol=EXACT),
    c("Bincount", "weights", lambda x, w: raw.Bincount(arr=x, size=4, weights=w),
      R(3, 2, dtype=i32, low=0, high=3), R(3, 2), tol=ELEMENTWISE),
    c("Bincount", "f64-empty-weights", lambda x: raw.Bincount(
        arr=x, size=3, weights=tf.zeros([0], tf.float64)), R(5, dtype=i32, low=0, high=4),
      tol=EXACT),
    c("DenseBincount", "1d", lambda x: raw.DenseBincount(
        input=x, size=5, weights=tf.zeros([0], tf.int32)), R(8, dtype=i32, low=0, high=4),
      tol=EXACT),
    c("DenseBincount", "2d-weights", lambda x, w: raw.DenseBincount(input=x, size=4, weights=w),
      R(2, 5, dtype=i64, low=0, high=3), R(2, 5), tol=ELEMENTWISE),
    c("DenseBincount", "binary", lambda x: raw.DenseBincount(
        input=x, size=4, weights=tf.zeros([0], tf.float32), binary_output=True),
      R(3, 6, dtype=i32, low=0, high=3), tol=EXACT),
]

SHAPES = [
    c("BroadcastArgs", "basic", lambda x: x + tf.cast(raw.BroadcastArgs(
        s0=const([2, 1, 3]), s1=const([4, 1])), tf.float32)[0], R(2), tol=EXACT),
    c("BroadcastArgs", "i64", lambda x: tf.reshape(x, raw.BroadcastArgs(
        s0=const([1, 6], tf.int64), s1=const([6], tf.int64))), R(6), tol=EXACT),
    c("BroadcastArgs", "scalar", lambda x: x * tf.cast(tf.size(raw.BroadcastArgs(
        s0=const([], tf.int32), s1=const([5], tf.int32))), tf.float32), R(2), tol=EXACT),
    c("ConcatOffset", "axis1", lambda x: [x + o for o in raw.ConcatOffset(
        concat_dim=1, shape=[const([2, 3]), const([2, 5]), const([2, 1])])], V([0, 0], i32),
      tol=EXACT),
    c("ConcatOffset", "axis0", lambda x: [x + o for o in raw.ConcatOffset(
        concat_dim=0, shape=[const([4]), const([1])])], V([1], i32), tol=EXACT),
    c("ConcatOffset", "neg-axis", lambda x: [x + o for o in raw.ConcatOffset(
        concat_dim=-1, shape=[const([1, 2, 3]), const([1, 2, 3])])], V([0, 0, 0], i32),
      tol=EXACT),
    c("DataFormatDimMap", "default", lambda x: tf.raw_ops.DataFormatDimMap(x=x),
      V([0, 1, 2, 3, -1, -4], i32), tol=EXACT),
    c("DataFormatDimMap", "nchw-to-nhwc", lambda x: tf.raw_ops.DataFormatDimMap(
        x=x, src_format="NCHW", dst_format="NHWC"), V([[0, 1], [2, 3]], i64), tol=EXACT),
    c("DataFormatDimMap", "5d", lambda x: tf.raw_ops.DataFormatDimMap(
        x=x, src_format="NDHWC", dst_format="NCDHW"), V([0, 1, 2, 3, 4, -2], i32), tol=EXACT),
    c("DataFormatVecPermute", "vector", lambda x: tf.raw_ops.DataFormatVecPermute(x=x),
      V([1, 2, 3, 4], i32), tol=EXACT),
    c("DataFormatVecPermute", "matrix", lambda x: tf.raw_ops.DataFormatVecPermute(
        x=x, src_format="NCHW", dst_format="NHWC"), V([[1, 2], [3, 4], [5, 6], [7, 8]], i64),
      tol=EXACT),
    c("DataFormatVecPermute", "spatial", lambda x: tf.raw_ops.DataFormatVecPermute(
        x=x, src_format="NHWC", dst_format="NWHC"), V([7, 9], i32), tol=EXACT),
    c("LinSpace", "f32", lambda a, b: raw.LinSpace(start=a, stop=b, num=7), V(-1.0), V(2.5), tol=ELEMENTWISE),
    c("LinSpace", "f64-one", lambda a, b: tf.raw_ops.LinSpace(start=a, stop=b, num=1),
      V(3.0, f64), V(4.0, f64), tol=EXACT),
    c("LinSpace", "descending-i64-num", lambda a: tf.raw_ops.LinSpace(
        start=a, stop=const(-3.0), num=const(5, tf.int64)), V(10.0), tol=ELEMENTWISE),
]

VALUE_SHAPED = [
    c("Where", "bool", lambda x: x + tf.cast(tf.size(tf.where(const([[True, False], [True, True]]
                                                                   ))), tf.float32), R(2),
      tol=EXACT),
    c("Where", "coords", lambda x: tf.cast(tf.where(const([0, 3, 0, -1])), tf.float32) + x,
      R(1), tol=EXACT),
    c("Where", "none-3d", lambda x: tf.cast(tf.shape(tf.where(tf.zeros([2, 2, 2]) > 1)),
                                             tf.float32) + x, R(2), tol=EXACT),
    c("Unique", "i32", lambda x: [o + x for o in tf.unique(const([4, 1, 4, 2, 1]))],
      V(0, i32), tol=EXACT),
    c("Unique", "f32-i64-idx", lambda x: [tf.unique(const([2.0, 2.0, -1.0]), tf.int64)[0] + x,
                                          tf.unique(const([2.0, 2.0, -1.0]), tf.int64)[1]],
      V(0.5), tol=EXACT),
    c("Unique", "gather-runtime", lambda x: tf.gather(x, tf.unique(const([3, 3, 0]))[0]), R(4),
      tol=EXACT),
    c("UniqueV2", "axis0", lambda x: [raw.UniqueV2(x=const([[1, 2], [3, 4], [1, 2]]),
                                                   axis=const([0]))[0] + x,
                                      raw.UniqueV2(x=const([[1, 2], [3, 4], [1, 2]]),
                                                   axis=const([0]))[1]], V(0, i32), tol=EXACT),
    c("UniqueV2", "axis1", lambda x: raw.UniqueV2(x=const([[1, 1, 2], [3, 3, 4]]),
                                                  axis=const([1], tf.int64))[0] + x, V(0, i32),
      tol=EXACT),
    c("UniqueV2", "empty-axis", lambda x: raw.UniqueV2(x=const([5, 5, 6]), axis=const(
        [], tf.int32))[1] + x, V(0, i32), tol=EXACT),
    c("ListDiff", "i32", lambda x: [o + x for o in tf.compat.v1.setdiff1d(
        const([1, 2, 3, 4, 2]), const([2, 5]))], V(0, i32), tol=EXACT),
    c("ListDiff", "f32", lambda x: tf.compat.v1.setdiff1d(const([1.0, 2.0]), const([2.0]))[0] + x,
      V(0.0), tol=EXACT),
    c("ListDiff", "all-removed-i64", lambda x: tf.cast(tf.size(tf.compat.v1.setdiff1d(
        const([1, 1]), const([1]), tf.int64)[1]), tf.int32) + x, V(0, i32), tol=EXACT),
    c("DynamicPartition", "rows", lambda x: tf.dynamic_partition(x, [0, 1, 0, 2], 3),
      R(4, 2), tol=EXACT),
    c("DynamicPartition", "matrix-ids-i32", lambda x: tf.dynamic_partition(
        x, [[1, 1], [0, 1]], 2), R(2, 2, 3, dtype=i32), tol=EXACT),
    c("DynamicPartition", "empty-part", lambda x: tf.dynamic_partition(x, [1, 1, 1], 3), R(3),
      tol=EXACT),
    c("DynamicStitch", "basic", lambda a, b: tf.dynamic_stitch([[0, 2], [1, 3]], [a, b]),
      R(2, 3), R(2, 3), tol=EXACT),
    c("DynamicStitch", "overwrite-i32", lambda a, b: tf.dynamic_stitch(
        [[0, 1], [[1], [2]]], [a, b]), R(2, dtype=i32), R(2, 1, dtype=i32), tol=EXACT),
    c("DynamicStitch", "scalar-index", lambda a, b: tf.dynamic_stitch(
        [const(1), const([0, 2])], [a, b]), R(2), R(2, 2), tol=EXACT),
    c("ParallelDynamicStitch", "basic", lambda a, b: raw.ParallelDynamicStitch(
        indices=[const([0, 2]), const([1, 3])], data=[a, b]), R(2, 3), R(2, 3), tol=EXACT),
    c("ParallelDynamicStitch", "matrix-ids", lambda a, b: raw.ParallelDynamicStitch(
        indices=[const([[3, 0]]), const([2, 1])], data=[a, b]), R(1, 2, dtype=i32),
      R(2, dtype=i32), tol=EXACT),
    c("ParallelDynamicStitch", "f64", lambda a: raw.ParallelDynamicStitch(
        indices=[const([1, 0])], data=[a]), R(2, 2, dtype=f64), tol=EXACT),
    c("SparseToDense", "2d", lambda v: tf.sparse.to_dense(tf.sparse.SparseTensor(
        [[0, 1], [2, 3]], v, [3, 4])), R(2), tol=EXACT),
    c("SparseToDense", "1d-default", lambda i, v: raw.SparseToDense(
        sparse_indices=i, output_shape=[5], sparse_values=v, default_value=const(-1)),
      V([0, 4], i32), V([7, 8], i32), tol=EXACT),
    c("SparseToDense", "scalar-value", lambda i: raw.SparseToDense(
        sparse_indices=i, output_shape=const([2, 2], tf.int64), sparse_values=const(1.5),
        default_value=const(0.0)), V([[0, 0], [1, 1]], i64), tol=EXACT),
]

# -- stateless random ops: TensorFlow's CPU stream, value for value -----------------------------

#: Normal samples: TF's f32 log/sin/cos and aotc's differ by an ulp or two, which Box-Muller
#: amplifies where u1 is tiny.
NORMAL = 1e-5
SEED = V([7, -3], i32)


def _v2(op, **kw):
    """A V2 stateless op fed by StatelessRandomGetKeyCounter of the seed input."""
    def build(seed):
        key, counter = raw.StatelessRandomGetKeyCounter(seed=seed)
        return getattr(raw, op)(key=key, counter=counter, alg=1, **kw)
    return build


STATELESS = [
    c("StatelessRandomUniform", "f32", lambda s: raw.StatelessRandomUniform(
        shape=[3, 5], seed=s), SEED, tol=EXACT),
    c("StatelessRandomUniform", "f64-i64-seed", lambda s: raw.StatelessRandomUniform(
        shape=[7], seed=s, dtype=tf.float64), V([2**40, 5], i64), tol=EXACT),
    c("StatelessRandomUniform", "f16", lambda s: raw.StatelessRandomUniform(
        shape=[2, 3], seed=s, dtype=tf.float16), V([0, 0], i32), tol=EXACT),
    c("StatelessRandomNormal", "f32", lambda s: raw.StatelessRandomNormal(shape=[4, 3], seed=s),
      SEED, tol=NORMAL),
    c("StatelessRandomNormal", "f64", lambda s: raw.StatelessRandomNormal(
        shape=[5], seed=s, dtype=tf.float64), V([1, 2], i64), tol=F64),
    c("StatelessRandomNormal", "f16", lambda s: raw.StatelessRandomNormal(
        shape=[9], seed=s, dtype=tf.float16), SEED, tol=F16),
    c("StatelessTruncatedNormal", "f32", lambda s: raw.StatelessTruncatedNormal(
        shape=[6, 7], seed=s), SEED, tol=NORMAL),
    c("StatelessTruncatedNormal", "f64", lambda s: raw.StatelessTruncatedNormal(
        shape=[5], seed=s, dtype=tf.float64), V([3, 9], i64), tol=F64),
    c("StatelessTruncatedNormal", "f16", lambda s: raw.StatelessTruncatedNormal(
        shape=[2, 2], seed=s, dtype=tf.float16), V([11, 0], i32), tol=F16),
    c("StatelessRandomUniformInt", "i32", lambda s: raw.StatelessRandomUniformInt(
        shape=[10], seed=s, minval=-5, maxval=1000), SEED, tol=EXACT),
    c("StatelessRandomUniformInt", "i64", lambda s: raw.StatelessRandomUniformInt(
        shape=[3, 3], seed=s, minval=const(-2**40, tf.int64), maxval=const(2**41, tf.int64)),
      SEED, tol=EXACT),
    c("StatelessRandomUniformInt", "runtime-bounds", lambda s, lo, hi:
      raw.StatelessRandomUniformInt(shape=[6], seed=s, minval=lo, maxval=hi), SEED,
      V(3, i32), V(9, i32), tol=EXACT),
    c("StatelessRandomUniformFullInt", "u32", lambda s: raw.StatelessRandomUniformFullInt(
        shape=[9], seed=s, dtype=tf.uint32), SEED, tol=EXACT),
    c("StatelessRandomUniformFullInt", "i64", lambda s: raw.StatelessRandomUniformFullInt(
        shape=[2, 3], seed=s, dtype=tf.int64), V([4, 4], i64), tol=EXACT),
    c("StatelessRandomUniformFullInt", "i32", lambda s: raw.StatelessRandomUniformFullInt(
        shape=[5], seed=s, dtype=tf.int32), SEED, tol=EXACT),
    c("StatelessRandomUniformV2", "f32", _v2("StatelessRandomUniformV2", shape=[4, 5]), SEED,
      tol=EXACT),
    c("StatelessRandomUniformV2", "f64", _v2("StatelessRandomUniformV2", shape=[3],
                                             dtype=tf.float64), V([1, 1], i64), tol=EXACT),
    c("StatelessRandomUniformV2", "keras-style", lambda x: x + tf.random.stateless_uniform(
        [2, 3], seed=[1, 2]), R(2, 3), tol=EXACT),
    c("StatelessRandomNormalV2", "f32", _v2("StatelessRandomNormalV2", shape=[10]), SEED,
      tol=NORMAL),
    c("StatelessRandomNormalV2", "f64", _v2("StatelessRandomNormalV2", shape=[2, 2],
                                            dtype=tf.float64), SEED, tol=F64),
    c("StatelessRandomNormalV2", "api", lambda s: tf.random.stateless_normal([3, 3], s,
                                                                           mean=1.0, stddev=2.0),
      SEED, tol=NORMAL),
    c("StatelessTruncatedNormalV2", "f32", _v2("StatelessTruncatedNormalV2", shape=[20]),
      SEED, tol=NORMAL),
    c("StatelessTruncatedNormalV2", "f64", _v2("StatelessTruncatedNormalV2", shape=[3],
                                               dtype=tf.float64), SEED, tol=F64),
    c("StatelessTruncatedNormalV2", "api", lambda s: tf.random.stateless_truncated_normal(
        [4, 2], s), V([0, 1], i64), tol=NORMAL),
    c("StatelessRandomUniformIntV2", "i32", _v2("StatelessRandomUniformIntV2", shape=[7],
                                                minval=0, maxval=10), SEED, tol=EXACT),
    c("StatelessRandomUniformIntV2", "i64", _v2(
        "StatelessRandomUniformIntV2", shape=[4], minval=np.int64(-9),
        maxval=np.int64(2**33)), SEED, tol=EXACT),
    c("StatelessRandomUniformIntV2", "api", lambda s: tf.random.stateless_uniform(
        [5], s, minval=-3, maxval=3, dtype=tf.int32), SEED, tol=EXACT),
    c("StatelessRandomUniformFullIntV2", "u64", _v2(
        "StatelessRandomUniformFullIntV2", shape=[3], dtype=tf.uint64), SEED, tol=EXACT),
    c("StatelessRandomUniformFullIntV2", "i32", _v2(
        "StatelessRandomUniformFullIntV2", shape=[2, 2], dtype=tf.int32), SEED, tol=EXACT),
    c("StatelessRandomUniformFullIntV2", "api", lambda s: tf.random.stateless_uniform(
        [3], s, minval=None, maxval=None, dtype=tf.int64), SEED, tol=EXACT),
    c("StatelessRandomGetKeyCounter", "i32", lambda s: list(
        raw.StatelessRandomGetKeyCounter(seed=s)), SEED, tol=EXACT),
    c("StatelessRandomGetKeyCounter", "i64", lambda s: list(
        raw.StatelessRandomGetKeyCounter(seed=s)), V([-1, 2**62], i64), tol=EXACT),
    c("StatelessRandomGetKeyCounter", "const", lambda x: raw.StatelessRandomGetKeyCounter(
        seed=const([5, 6]))[1] + x, V([1, 1], u64), tol=EXACT),
    c("StatelessRandomGetKeyCounterAlg", "i32", lambda s: list(
        raw.StatelessRandomGetKeyCounterAlg(seed=s)), SEED, tol=EXACT),
    c("StatelessRandomGetKeyCounterAlg", "i64", lambda s: list(
        raw.StatelessRandomGetKeyCounterAlg(seed=s)), V([0, 0], i64), tol=EXACT),
    c("StatelessRandomGetKeyCounterAlg", "alg-only", lambda x: x + raw.StatelessRandomGetKeyCounterAlg(
        seed=const([5, 6]))[2], V(1, i32), tol=EXACT),
    c("StatelessRandomGetAlg", "value", lambda x: x + raw.StatelessRandomGetAlg(), V(1, i32),
      tol=EXACT),
    c("StatelessRandomGetAlg", "feeds-v2", lambda s: raw.StatelessRandomUniformV2(
        shape=[3], key=raw.StatelessRandomGetKeyCounter(seed=s)[0],
        counter=raw.StatelessRandomGetKeyCounter(seed=s)[1], alg=raw.StatelessRandomGetAlg()),
      SEED, tol=EXACT),
    c("StatelessRandomGetAlg", "vector", lambda x: x * tf.stack([raw.StatelessRandomGetAlg()] * 2),
      V([2, 3], i32), tol=EXACT),
]

UPDATES = [
    c("TensorStridedSliceUpdate", "rows", lambda x, v: raw.TensorStridedSliceUpdate(input=x, begin=[1], end=[3], strides=[1],
                                                 value=v), R(4, 3), R(2, 3), tol=EXACT),
    c("TensorStridedSliceUpdate", "reverse-step-i32", lambda x, v: raw.TensorStridedSliceUpdate(
        input=x, begin=[-1, 0], end=[0, 3], strides=[-2, 2], value=v), R(5, 3, dtype=i32),
      R(2, 2, dtype=i32), tol=EXACT),
    c("TensorStridedSliceUpdate", "shrink-broadcast", lambda x, v: raw.TensorStridedSliceUpdate(
        input=x, begin=[0, 1], end=[0, 2], strides=[1, 1], value=v, begin_mask=1, end_mask=1,
        shrink_axis_mask=2), R(3, 4), V(7.0), tol=EXACT),
]

#: Segment*V2: XLA-only ops (no CPU kernel), computed by TensorFlow's XLA.
SEGMENTS_V2 = [
    c(f"Segment{kind}V2", case, lambda x, ids, kind=kind, n=n: getattr(raw, f"Segment{kind}V2")(
        data=x, segment_ids=ids, num_segments=n), x, ids, tol=ACCUMULATE, xla=True)
    for kind in ("Sum", "Prod", "Max", "Min")
    for case, x, ids, n in [
        ("rows", R(5, 2), V([0, 0, 1, 3, 3], i32), 4),
        ("vector-i64-ids", R(6, dtype=i32, low=-5, high=5), V([0, 1, 1, 1, 2, 2], i64), 3),
        ("trailing-empty", R(3, 2, 2, dtype=f64), V([1, 1, 1], i32), 3),
    ]
]

# -- random sampling: exact where TensorFlow's CPU stream is reproducible, else statistics --
# Statistics of thousands of samples, computed in the graph by both; STATISTICAL is at
# least four standard errors of the difference of two such estimates (frequencies and
# roundings of 4000 samples, moments of 12000 samples of deviation <= 1.5), before the
# relative part of the tolerance.

STATISTICAL = 0.06
with np.errstate(divide="ignore"):  # the last row's -inf logits: classes never drawn
    LOGITS = V(np.log([[0.1, 0.2, 0.3, 0.4], [0.5, 0.25, 0.125, 0.125],
                       [0.5, 0.0, 0.5, 0.0]]).astype(f32))


def _frequencies(samples, classes):
    """Per row, the fraction of samples of each class."""
    return tf.reduce_mean(tf.one_hot(samples, classes), axis=1)


def _moments(x, low, high):
    """Per row: mean, standard deviation, and 1.0 when every sample is within bounds."""
    x = tf.cast(x, tf.float32)
    inside = tf.reduce_all((x >= low) & (x <= high))
    return [tf.reduce_mean(x, axis=-1), tf.math.reduce_std(x, axis=-1),
            tf.cast(inside, tf.float32)]


def _stochastic_cast(x, out=tf.int32, key=5):
    """StochasticCastToInt (no Python wrapper in TensorFlow) with a Philox key."""
    from tensorflow.core.framework.attr_value_pb2 import AttrValue

    op = tf.compat.v1.get_default_graph().create_op(
        "StochasticCastToInt", [x, const([key], tf.uint64), const([0, 0], tf.uint64), const(1)],
        [out], attrs={"Tin": AttrValue(type=x.dtype.as_datatype_enum),
                      "Tout": AttrValue(type=out.as_datatype_enum)})
    return op.outputs[0]


def _rounding_means(out, n=4000):
    """The mean over n stochastic roundings of each input element."""
    return lambda x: tf.reduce_mean(tf.cast(_stochastic_cast(
        tf.tile(x[None], [n] + [1] * x.shape.rank), out), tf.float32), axis=0)


SAMPLING = [
    c("StatelessMultinomial", "f32-nonfinite", lambda l, s: raw.StatelessMultinomial(
        logits=l, num_samples=5, seed=s), V([[-1.0, 0.5, -INF, 2.0], [NAN, 1.0, 1.0, INF],
                                              [-INF, -INF, -INF, -INF]]), SEED, tol=EXACT),
    c("StatelessMultinomial", "f64-i64-seed-i32", lambda l, s: raw.StatelessMultinomial(
        logits=l, num_samples=9, seed=s, output_dtype=tf.int32), R(2, 7, dtype=f64),
      V([2**40, 5], i64), tol=EXACT),
    c("StatelessMultinomial", "f16", lambda l, s: raw.StatelessMultinomial(
        logits=l, num_samples=4, seed=s), R(3, 3, dtype=f16), SEED, tol=EXACT),
    c("StatelessMultinomial", "one-row-many", lambda s: raw.StatelessMultinomial(
        logits=const([[0.0, 1.0, 2.0, -1.0, 0.5]]), num_samples=3000, seed=s), SEED, tol=EXACT),
    c("Multinomial", "frequencies", lambda l: _frequencies(raw.Multinomial(
        logits=l, num_samples=4000, seed=3, seed2=4), 4), LOGITS, tol=STATISTICAL),
    c("Multinomial", "f64-i32", lambda l: _frequencies(raw.Multinomial(
        logits=tf.cast(l, tf.float64), num_samples=4000, seed=1, output_dtype=tf.int32), 4),
      LOGITS, tol=STATISTICAL),
    c("Multinomial", "seed2-impossible-class", lambda l: _frequencies(raw.Multinomial(
        logits=l, num_samples=4000, seed2=7), 3), V([[0.0, -INF, 1.0], [2.0, 2.0, -INF]]),
      tol=STATISTICAL),
    c("ParameterizedTruncatedNormal", "f32-per-batch", lambda m, d, lo, hi: _moments(
        raw.ParameterizedTruncatedNormal(shape=[3, 12000], means=m, stdevs=d, minvals=lo,
                                         maxvals=hi, seed=1, seed2=2), lo[:, None], hi[:, None]),
      V([0.0, 1.0, -2.0]), V([1.0, 0.5, 1.5]), V([-1.0, 0.5, -3.0]), V([1.0, 3.0, 5.0]),
      tol=STATISTICAL),
    c("ParameterizedTruncatedNormal", "f64-upper-tail", lambda: _moments(
        raw.ParameterizedTruncatedNormal(shape=[2, 12000], means=const(0.0, tf.float64),
                                         stdevs=const(1.0, tf.float64),
                                         minvals=const(2.5, tf.float64),
                                         maxvals=const(4.0, tf.float64), seed=5), 2.5, 4.0),
      tol=STATISTICAL),
    c("ParameterizedTruncatedNormal", "f16-half-normal", lambda: _moments(
        raw.ParameterizedTruncatedNormal(shape=[1, 12000], means=const([0.0], tf.float16),
                                         stdevs=const([1.5], tf.float16),
                                         minvals=const([0.0], tf.float16),
                                         maxvals=const([INF], tf.float16), seed=9), 0.0, INF),
      tol=STATISTICAL),
    c("StatelessParameterizedTruncatedNormal", "f32-bcast", lambda s, lo, hi: _moments(
        tf.transpose(raw.StatelessParameterizedTruncatedNormal(
            shape=[12000, 2], seed=s, means=const([0.0, 3.0]), stddevs=const(1.0), minvals=lo,
            maxvals=hi)), lo[:, None], hi[:, None]), SEED, V([-0.5, 1.0]), V([2.0, 3.5]),
      tol=STATISTICAL),
    c("StatelessParameterizedTruncatedNormal", "f64-lower-tail", lambda s: _moments(
        raw.StatelessParameterizedTruncatedNormal(
            shape=[12000], seed=s, means=const(1.0, tf.float64), stddevs=const(0.5, tf.float64),
            minvals=const(-1.0, tf.float64), maxvals=const(0.0, tf.float64)), -1.0, 0.0),
      V([1, 2], i64), tol=STATISTICAL),
    c("StatelessParameterizedTruncatedNormal", "f16-wide", lambda s: _moments(
        raw.StatelessParameterizedTruncatedNormal(
            shape=[12000], seed=s, means=const(0.5, tf.float16), stddevs=const(2.0, tf.float16),
            minvals=const(-1.0, tf.float16), maxvals=const(1.5, tf.float16)), -1.0, 1.5),
      SEED, tol=STATISTICAL),
    c("StochasticCastToInt", "exact-cases-i8", lambda x: _stochastic_cast(x, tf.int8),
      V([NAN, 3.0, -2.0, 300.0, -1e10, 0.0, -0.0, 127.0, INF, -INF]), tol=EXACT),
    c("StochasticCastToInt", "means-f32", _rounding_means(tf.int32),
      V([0.3, -0.7, 2.5, -3.25, 1e-3, 7.9]), tol=STATISTICAL),
    c("StochasticCastToInt", "means-f64-i16", _rounding_means(tf.int16),
      V([[0.5, -0.5], [100.125, -1000.75]], f64), tol=STATISTICAL),
    c("StochasticCastToInt", "means-f16-i8", _rounding_means(tf.int8),
      V([0.25, -0.375, 5.5, -126.5], f16), tol=STATISTICAL),
]

# -- special functions: TF's kernels (Eigen, Cephes) are accurate to a few ulps ----------------

#: f32 special functions: TF's f32 kernels are accurate to a few ulps; aotc's (computed in
#: f64) to half an ulp. f64: both within ~1e-13 relative except near zeros of the result.
SPECIAL32, SPECIAL64 = 1e-5, 1e-11

SPECIAL = [
    c("Lgamma", "f32", tf.math.lgamma, R(3, 4, low=0.1, high=30), tol=SPECIAL32),
    c("Lgamma", "f64-negative", tf.math.lgamma, R(8, dtype=f64, low=-20, high=3), tol=SPECIAL64),
    c("Lgamma", "f16", tf.math.lgamma, R(6, dtype=f16, low=0.5, high=8), tol=F16),
    c("Lgamma", "specials", tf.math.lgamma, V([0.0, -1.0, -2.0, 1.0, 2.0, INF, -INF, NAN, 1e-30,
                                               1e30, -2.5, 171.5]), tol=SPECIAL32),
    c("Digamma", "f32", tf.math.digamma, R(3, 4, low=0.1, high=30), tol=SPECIAL32),
    c("Digamma", "f64-negative", tf.math.digamma, R(8, dtype=f64, low=-9.9, high=3), tol=1e-9),
    c("Digamma", "f16", tf.math.digamma, R(6, dtype=f16, low=0.5, high=8), tol=F16),
    c("Digamma", "specials", tf.math.digamma, V([0.0, -1.0, 1.0, INF, -INF, NAN, 1e-6, 1e6,
                                                 -2.5]), tol=SPECIAL32),
    c("Erfinv", "f32", tf.math.erfinv, R(3, 4, low=-0.999, high=0.999), tol=SPECIAL32),
    c("Erfinv", "f64", tf.math.erfinv, R(9, dtype=f64, low=-0.9999, high=0.9999),
      tol=SPECIAL64),
    # f16 has no CPU kernel: TensorFlow's XLA computes the expected values.
    c("Erfinv", "f16", tf.math.erfinv, R(6, dtype=f16, low=-0.99, high=0.99), tol=F16, xla=True),
    c("Erfinv", "specials", tf.math.erfinv, V([1.0, -1.0, 0.0, 1.5, NAN, 1e-3, 0.5, -0.5,
                                               0.9999]), tol=SPECIAL32),
    c("Ndtri", "f32", tf.math.ndtri, R(3, 4, low=0.001, high=0.999), tol=SPECIAL32),
    c("Ndtri", "f64-tails", tf.math.ndtri, V([1e-300, 1e-50, 1e-10, 0.3, 0.5, 0.7, 1 - 1e-10],
                                             f64), tol=SPECIAL64),
    c("Ndtri", "f16", tf.math.ndtri, R(6, dtype=f16, low=0.05, high=0.95), tol=F16, xla=True),
    c("Ndtri", "specials", tf.math.ndtri, V([0.0, 1.0, -0.5, 1.5, NAN, 1e-30]), tol=SPECIAL32),
    c("BesselI0e", "f32", tf.math.special.bessel_i0e, R(3, 4, low=-40, high=40), tol=SPECIAL32),
    c("BesselI0e", "f64", tf.math.special.bessel_i0e, R(9, dtype=f64, low=-60, high=60),
      tol=SPECIAL64),
    c("BesselI0e", "f16", tf.math.special.bessel_i0e, R(6, dtype=f16, low=-9, high=9), tol=F16),
    c("BesselI0e", "specials", tf.math.special.bessel_i0e, V([0.0, 30.0, -30.0, 1e30, INF, NAN]),
      tol=SPECIAL32),
    c("BesselI1e", "f32", tf.math.special.bessel_i1e, R(3, 4, low=-40, high=40), tol=SPECIAL32),
    c("BesselI1e", "f64", tf.math.special.bessel_i1e, R(9, dtype=f64, low=-60, high=60),
      tol=SPECIAL64),
    c("BesselI1e", "f16", tf.math.special.bessel_i1e, R(6, dtype=f16, low=-9, high=9), tol=F16),
    c("BesselI1e", "specials", tf.math.special.bessel_i1e, V([0.0, -0.0, 30.0, -1e30, INF, NAN]),
      tol=SPECIAL32),
    c("Igamma", "f32", tf.math.igamma, R(3, 4, low=0.1, high=20), R(3, 4, low=0, high=30),
      tol=SPECIAL32),
    c("Igamma", "f64-bcast", tf.math.igamma, R(3, 1, dtype=f64, low=0.5, high=50),
      R(5, dtype=f64, low=0.0, high=60), tol=1e-10),
    c("Igamma", "specials", tf.math.igamma, V([0.0, 1.0, -1.0, 2.0, 2.0, 1.0, 3.0]),
      V([1.0, 0.0, 1.0, INF, -1.0, NAN, 1e-3]), tol=SPECIAL32),
    c("Igammac", "f32", tf.math.igammac, R(3, 4, low=0.1, high=20), R(3, 4, low=0, high=30),
      tol=SPECIAL32),
    c("Igammac", "f64-bcast", tf.math.igammac, R(3, 1, dtype=f64, low=0.5, high=50),
      R(5, dtype=f64, low=0.0, high=60), tol=1e-10),
    c("Igammac", "specials", tf.math.igammac, V([0.0, 1.0, -1.0, 2.0, 2.0, 1.0, 3.0]),
      V([1.0, 0.0, 1.0, INF, -1.0, NAN, 1e-3]), tol=SPECIAL32),
    c("Betainc", "f32", tf.math.betainc, R(3, 4, low=0.2, high=10), R(3, 4, low=0.2, high=10),
      R(3, 4, low=0, high=1), tol=SPECIAL32),
    c("Betainc", "f64", tf.math.betainc, R(7, dtype=f64, low=0.5, high=30),
      R(7, dtype=f64, low=0.5, high=30), R(7, dtype=f64, low=0, high=1), tol=1e-10),
    c("Betainc", "specials-scalar-a", tf.math.betainc, V(2.0), V([1.0, 1.0, 0.0, 2.0, 3.0]),
      V([0.0, 1.0, 0.5, 1.5, NAN]), tol=SPECIAL32),
    c("Zeta", "f32", tf.math.zeta, R(3, 4, low=1.1, high=10), R(3, 4, low=0.1, high=10),
      tol=SPECIAL32),
    c("Zeta", "f64", tf.math.zeta, R(7, dtype=f64, low=1.01, high=40),
      R(7, dtype=f64, low=0.01, high=5), tol=SPECIAL64),
    c("Zeta", "specials", tf.math.zeta, V([1.0, 0.5, 2.0, 2.0, 3.0, 2.0]),
      V([1.0, 1.0, 0.0, -1.0, -1.5, INF]), tol=SPECIAL32),
    c("Polygamma", "f32", tf.math.polygamma, V([0.0, 1.0, 2.0, 3.0, 1.0, 4.0]),
      R(6, low=0.2, high=10), tol=SPECIAL32),
    c("Polygamma", "f64-bcast", tf.math.polygamma, V([[1.0], [2.0], [5.0]], f64),
      R(4, dtype=f64, low=0.5, high=20), tol=SPECIAL64),
    c("Polygamma", "specials", tf.math.polygamma, V([1.5, -1.0, 2.0, 1.0, 0.0]),
      V([2.0, 2.0, 0.0, NAN, -3.0]), tol=SPECIAL32),
]

# -- images, quantization, products -------------------------------------------------------------

def _rgb(*shape, dtype=f32):
    """RGB values in [0, 1] with ties (equal channels) among them."""
    return lambda: np.round(np.random.default_rng(sum(shape)).uniform(0, 1, shape) * 4) \
        .astype(dtype) / dtype(4)


IMAGES = [
    c("RGBToHSV", "f32", tf.image.rgb_to_hsv, R(4, 5, 3, low=0, high=1), tol=ELEMENTWISE),
    c("RGBToHSV", "ties-f64", tf.image.rgb_to_hsv, _rgb(2, 6, 3, dtype=f64), tol=F64),
    c("RGBToHSV", "f16", tf.image.rgb_to_hsv, R(7, 3, dtype=f16, low=0, high=1), tol=F16),
    c("HSVToRGB", "f32", tf.image.hsv_to_rgb, R(4, 5, 3, low=0, high=1), tol=ELEMENTWISE),
    c("HSVToRGB", "f64", tf.image.hsv_to_rgb, R(2, 6, 3, dtype=f64, low=0, high=1), tol=F64),
    c("HSVToRGB", "edges", tf.image.hsv_to_rgb, V([[0, 0, 0], [1, 1, 1], [0.5, 0, 1],
                                                   [1 / 6, 1, 0.5], [0.999, 0.5, 0.25]]),
      tol=ELEMENTWISE),
    c("AdjustSaturation", "f32", lambda x: tf.image.adjust_saturation(x, 1.7),
      R(2, 3, 4, 3, low=0, high=1), tol=1e-5),
    c("AdjustSaturation", "ties-runtime-scale", lambda x, k: tf.image.adjust_saturation(x, k),
      _rgb(3, 4, 3), V(0.4), tol=1e-5),
    c("AdjustSaturation", "f16", lambda x: tf.image.adjust_saturation(x, 0.5),
      R(1, 4, 3, dtype=f16, low=0, high=1), tol=F16, xla=True),
    c("AdjustHue", "f32", lambda x: tf.image.adjust_hue(x, 0.3), R(2, 3, 4, 3, low=0, high=1),
      tol=1e-5),
    c("AdjustHue", "negative-runtime", lambda x, d: tf.image.adjust_hue(x, d), _rgb(3, 4, 3),
      V(-0.45), tol=1e-5),
    c("AdjustHue", "f16", lambda x: tf.image.adjust_hue(x, 0.9),
      R(1, 4, 3, dtype=f16, low=0, high=1), tol=F16, xla=True),
    c("AdjustContrastv2", "f32", lambda x: tf.image.adjust_contrast(x, 1.8),
      R(2, 4, 5, 3, low=0, high=1), tol=ACCUMULATE),
    c("AdjustContrastv2", "single-runtime", lambda x, f: tf.image.adjust_contrast(x, f),
      R(3, 3, 1), V(-0.5), tol=ACCUMULATE),
    c("AdjustContrastv2", "f16", lambda x: tf.image.adjust_contrast(x, 0.3),
      R(1, 2, 3, 2, dtype=f16, low=0, high=1), tol=F16, xla=True),
    c("LRN", "default", lambda x: tf.nn.local_response_normalization(x), R(2, 3, 3, 12),
      tol=ACCUMULATE),
    c("LRN", "attrs", lambda x: tf.nn.local_response_normalization(x, 2, 0.5, 0.1, 0.75),
      R(1, 2, 2, 5), tol=ACCUMULATE),
    c("LRN", "f16", lambda x: tf.nn.local_response_normalization(x, 1, 2.0, 1.0, 1.0),
      R(1, 1, 3, 4, dtype=f16), tol=F16),
    c("ExtractImagePatches", "valid", lambda x: tf.image.extract_patches(
        x, [1, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID"), R(2, 4, 5, 3), tol=EXACT),
    c("ExtractImagePatches", "same-strided-dilated", lambda x: tf.image.extract_patches(
        x, [1, 3, 2, 1], [1, 2, 3, 1], [1, 2, 1, 1], "SAME"), R(1, 7, 8, 2), tol=EXACT),
    c("ExtractImagePatches", "i32-1x1", lambda x: tf.image.extract_patches(
        x, [1, 1, 1, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID"), R(1, 5, 5, 2, dtype=i32),
      tol=EXACT),
]

QUANT = [
    c("FakeQuantWithMinMaxArgs", "default", lambda x: tf.quantization.fake_quant_with_min_max_args(
        x), R(3, 4, low=-8, high=8), tol=ELEMENTWISE),
    c("FakeQuantWithMinMaxArgs", "nudged-narrow", lambda x: tf.quantization
      .fake_quant_with_min_max_args(x, -0.3, 1.7, num_bits=4, narrow_range=True),
      R(20, low=-1, high=2), tol=ELEMENTWISE),
    c("FakeQuantWithMinMaxArgs", "positive-range", lambda x: tf.quantization
      .fake_quant_with_min_max_args(x, 0.5, 3.0, num_bits=6), R(10, low=0, high=4), tol=ELEMENTWISE),
    c("FakeQuantWithMinMaxVars", "const", lambda x: tf.quantization.fake_quant_with_min_max_vars(
        x, const(-1.0), const(1.5)), R(4, 4), tol=ELEMENTWISE),
    c("FakeQuantWithMinMaxVars", "runtime", lambda x, lo, hi: tf.quantization
      .fake_quant_with_min_max_vars(x, lo, hi, num_bits=5), R(12), V(-0.7), V(2.2), tol=ELEMENTWISE),
    c("FakeQuantWithMinMaxVars", "narrow", lambda x: tf.quantization.fake_quant_with_min_max_vars(
        x, const(-2.0), const(-0.5), narrow_range=True), R(8), tol=ELEMENTWISE),
    c("FakeQuantWithMinMaxVarsPerChannel", "const", lambda x: tf.quantization
      .fake_quant_with_min_max_vars_per_channel(x, const([-1.0, 0.0, -3.0]),
                                                const([1.0, 2.0, 0.5])), R(4, 3), tol=ELEMENTWISE),
    c("FakeQuantWithMinMaxVarsPerChannel", "runtime-4d", lambda x, lo, hi: tf.quantization
      .fake_quant_with_min_max_vars_per_channel(x, lo, hi, num_bits=3), R(2, 2, 2, 2),
      V([-1.0, -0.2]), V([0.5, 1.9]), tol=ELEMENTWISE),
    c("FakeQuantWithMinMaxVarsPerChannel", "narrow-1d", lambda x: tf.quantization
      .fake_quant_with_min_max_vars_per_channel(x, const([-0.4] * 5), const([0.9] * 5),
                                                narrow_range=True), R(5), tol=ELEMENTWISE),
    c("SparseMatMul", "f32", lambda a, b: raw.SparseMatMul(a=a, b=b), R(3, 4), R(4, 5),
      tol=ACCUMULATE),
    c("SparseMatMul", "transposed", lambda a, b: raw.SparseMatMul(
        a=a, b=b, transpose_a=True, transpose_b=True, a_is_sparse=True), R(4, 3), R(2, 4),
      tol=ACCUMULATE),
    c("SparseMatMul", "vector", lambda a, b: raw.SparseMatMul(a=a, b=b, b_is_sparse=True),
      R(1, 6), R(6, 1), tol=ACCUMULATE),
    c("Conv", "2d-same", lambda x, w: raw.Conv(input=x, filter=w, strides=[1, 1, 1, 1],
                                               padding="SAME"), R(1, 5, 5, 2), R(3, 3, 2, 4),
      tol=ACCUMULATE),
    c("Conv", "2d-strided-f64", lambda x, w: raw.Conv(
        input=x, filter=w, strides=[1, 2, 3, 1], padding="VALID"),
      R(2, 7, 9, 3, dtype=f64), R(2, 3, 3, 2, dtype=f64), tol=F64),
    c("Conv", "3d", lambda x, w: raw.Conv(input=x, filter=w, strides=[1, 1, 1, 1, 1],
                                          padding="SAME"),
      R(1, 3, 4, 3, 2), R(2, 2, 2, 2, 3), tol=ACCUMULATE),
    c("ApproxTopK", "max", lambda x: list(tf.math.approx_max_k(x, 3)), R(4, 10), tol=EXACT,
      xla=True),
    c("ApproxTopK", "min-axis0", lambda x: list(tf.math.approx_min_k(x, 2, reduction_dimension=0)),
      R(6, 3), tol=EXACT, xla=True),
    c("ApproxTopK", "f16-1d", lambda x: list(tf.math.approx_max_k(x, 4)),
      R(9, dtype=f16), tol=EXACT, xla=True),
]

# -- linear algebra -----------------------------------------------------------------------------


def _spd(*shape, dtype=f32):
    """Symmetric positive definite matrices (well conditioned)."""
    def draw():
        a = np.random.default_rng(sum(shape)).uniform(-1, 1, shape)
        n = shape[-1]
        return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)
    return draw


def _well_conditioned(*shape, dtype=f32):
    def draw():
        a = np.random.default_rng(sum(shape) + 1).uniform(-1, 1, shape)
        return (a + shape[-1] * np.eye(shape[-1]) * np.sign(a[..., :1, :1] + 0.1)).astype(dtype)
    return draw


def rand_diag(n, offset, dtype=f32):
    """A diagonal of n values, shifted from 0 by `offset` (a dominant main diagonal)."""
    return (np.random.default_rng(n + offset).uniform(-1, 1, n) + offset).astype(dtype)


LINALG = [
    c("Cholesky", "f32", tf.linalg.cholesky, _spd(4, 4), tol=1e-5),
    c("Cholesky", "batch-f64", tf.linalg.cholesky, _spd(2, 3, 5, 5, dtype=f64), tol=1e-12),
    c("Cholesky", "upper-ignored", lambda a: tf.linalg.cholesky(a + tf.linalg.band_part(
        tf.ones_like(a), 0, -1) - tf.linalg.band_part(tf.ones_like(a), 0, 0)), _spd(3, 3),
      tol=1e-5),
    c("MatrixTriangularSolve", "lower", lambda a, b: tf.linalg.triangular_solve(a, b),
      _well_conditioned(4, 4), R(4, 2), tol=1e-5),
    c("MatrixTriangularSolve", "upper-adjoint-f64", lambda a, b: tf.linalg.triangular_solve(
        a, b, lower=False, adjoint=True), _well_conditioned(2, 3, 3, dtype=f64),
      R(2, 3, 4, dtype=f64), tol=1e-12),
    c("MatrixTriangularSolve", "upper-bcast", lambda a, b: tf.linalg.triangular_solve(
        a, b, lower=False), _well_conditioned(5, 5), R(2, 5, 1), tol=1e-5),
    c("MatrixSolve", "f32", lambda a, b: tf.linalg.solve(a, b), _well_conditioned(4, 4),
      R(4, 3), tol=1e-5),
    c("MatrixSolve", "batch-adjoint-f64", lambda a, b: tf.linalg.solve(a, b, adjoint=True),
      _well_conditioned(2, 3, 3, dtype=f64), R(2, 3, 2, dtype=f64), tol=1e-12),
    c("MatrixSolve", "needs-pivoting", lambda a, b: tf.linalg.solve(a, b),
      V([[0.0, 2.0, 1.0], [1.0, 0.0, 3.0], [4.0, 1.0, 0.0]]), R(3, 1), tol=1e-5),
    c("MatrixInverse", "f32", tf.linalg.inv, _well_conditioned(4, 4), tol=1e-5),
    c("MatrixInverse", "batch-f64", tf.linalg.inv, _well_conditioned(3, 2, 2, dtype=f64),
      tol=1e-12),
    c("MatrixInverse", "permutation-adjoint", lambda a: raw.MatrixInverse(input=a, adjoint=True),
      V([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0], [3.0, 0.0, 0.0]]), tol=1e-6),
    c("Qr", "square", lambda a: list(tf.linalg.qr(a)), R(4, 4), tol=1e-5),
    c("Qr", "tall-full-f64", lambda a: list(tf.linalg.qr(a, full_matrices=True)),
      R(2, 5, 3, dtype=f64), tol=1e-12),
    c("Qr", "wide-zero-column", lambda a: list(tf.linalg.qr(a)),
      V([[0.0, 1.0, 2.0, 3.0], [0.0, 4.0, 5.0, 6.0], [0.0, 7.0, 8.0, 10.0]]), tol=1e-5),
    c("TridiagonalMatMul", "f32", lambda u, m, l, x: raw.TridiagonalMatMul(
        superdiag=u, maindiag=m, subdiag=l, rhs=x), R(1, 5), R(1, 5), R(1, 5), R(5, 3),
      tol=ACCUMULATE),
    c("TridiagonalMatMul", "batch-f64", lambda u, m, l, x: raw.TridiagonalMatMul(
        superdiag=u, maindiag=m, subdiag=l, rhs=x), R(2, 1, 4, dtype=f64), R(2, 1, 4, dtype=f64),
      R(2, 1, 4, dtype=f64), R(2, 4, 2, dtype=f64), tol=F64),
    c("TridiagonalMatMul", "size1", lambda u, m, l, x: raw.TridiagonalMatMul(
        superdiag=u, maindiag=m, subdiag=l, rhs=x), R(1, 1), R(1, 1), R(1, 1), R(1, 2),
      tol=ELEMENTWISE),
    c("TridiagonalSolve", "f32", lambda d, x: tf.linalg.tridiagonal_solve(d, x),
      lambda: np.stack([rand_diag(5, 1), rand_diag(5, 5), rand_diag(5, 2)]), R(5, 2), tol=1e-5),
    c("TridiagonalSolve", "batch-f64", lambda d, x: tf.linalg.tridiagonal_solve(d, x),
      lambda: np.stack([np.stack([rand_diag(4, 1, f64), rand_diag(4, 4, f64),
                                  rand_diag(4, 2, f64)])] * 2), R(2, 4, 1, dtype=f64),
      tol=1e-12),
    c("TridiagonalSolve", "pivoting", lambda d, x: tf.linalg.tridiagonal_solve(d, x),
      V([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0], [0.0, 3.0, 1.0]]), R(3, 1), tol=1e-5),
]

# -- detection ----------------------------------------------------------------------------------


def _boxes(n, seed, dtype=f32):
    """n boxes in three overlapping clusters, about half with their corners swapped."""
    def draw():
        rng = np.random.default_rng(seed)
        centers = rng.uniform(0, 4, (3, 2))[rng.integers(0, 3, n)] + rng.normal(0, 0.3, (n, 2))
        half = rng.uniform(0.3, 1.0, (n, 2))
        low, high = centers - half, centers + half
        boxes = np.concatenate([low, high], 1)
        flip = rng.random(n) < 0.5
        boxes[flip] = boxes[flip][:, [2, 3, 0, 1]]
        return boxes.astype(dtype)
    return draw


def _scores(n, seed, ties=False, dtype=f32):
    def draw():
        rng = np.random.default_rng(seed)
        values = rng.integers(0, 4, n) / 4 if ties else rng.uniform(0, 1, n)
        return values.astype(dtype)
    return draw


def _padded(selected, size):
    """TensorFlow's selection padded with zeros to `size` entries, as aotc returns it."""
    return tf.pad(selected, [[0, size - tf.size(selected)]])


def _nms_v3(size, iou, score=-INF, **kw):
    return lambda b, s: _padded(raw.NonMaxSuppressionV3(
        boxes=b, scores=s, max_output_size=size, iou_threshold=iou, score_threshold=score, **kw),
        size)


DETECTION = [
    c("NonMaxSuppressionV3", "flipped-corners", _nms_v3(12, 0.5), _boxes(20, 1), _scores(20, 2),
      tol=EXACT),
    c("NonMaxSuppressionV3", "score-ties", _nms_v3(8, 0.3), _boxes(16, 3),
      _scores(16, 4, ties=True), tol=EXACT),
    c("NonMaxSuppressionV3", "runtime-thresholds-few", lambda b, s, i, t: _padded(
        raw.NonMaxSuppressionV3(boxes=b, scores=s, max_output_size=3, iou_threshold=i,
                                score_threshold=t), 3),
      _boxes(10, 5), _scores(10, 6), V(0.7), V(0.25), tol=EXACT),
    c("NonMaxSuppressionV3", "identical-boxes-zero-area", _nms_v3(6, 0.5),
      V([[0, 0, 1, 1], [1, 1, 0, 0], [0, 0, 1, 1], [2, 2, 2, 3], [2, 2, 2, 3], [0, 0, 1, 2]]),
      V([0.5, 0.5, 0.9, 0.9, 0.9, 0.5]), tol=EXACT),
    c("NonMaxSuppressionV4", "padded", lambda b, s: list(raw.NonMaxSuppressionV4(
        boxes=b, scores=s, max_output_size=25, iou_threshold=0.4, score_threshold=0.2,
        pad_to_max_output_size=True)), _boxes(20, 7), _scores(20, 8), tol=EXACT),
    c("NonMaxSuppressionV4", "unpadded-ties", lambda b, s: (lambda r: [_padded(r[0], 10), r[1]])(
        raw.NonMaxSuppressionV4(boxes=b, scores=s, max_output_size=10, iou_threshold=0.6,
                                score_threshold=0.0)),
      _boxes(30, 9), _scores(30, 10, ties=True), tol=EXACT),
    c("NonMaxSuppressionV4", "f16-zero-size", lambda b, s: list(raw.NonMaxSuppressionV4(
        boxes=b, scores=s, max_output_size=0, iou_threshold=0.5, score_threshold=0.0,
        pad_to_max_output_size=True)), _boxes(5, 11, f16), _scores(5, 12, dtype=f16),
      tol=EXACT),
    c("NonMaxSuppressionV4", "f16", lambda b, s: list(raw.NonMaxSuppressionV4(
        boxes=b, scores=s, max_output_size=6, iou_threshold=0.5, score_threshold=0.1,
        pad_to_max_output_size=True)), _boxes(12, 13, f16), _scores(12, 14, dtype=f16),
      tol=EXACT),
]

def _symmetric(*shape, dtype=f32):
    def draw():
        a = np.random.default_rng(sum(shape) + 2).uniform(-1, 1, shape)
        return (a + np.swapaxes(a, -1, -2)).astype(dtype)
    return draw


def _eig_checks(a, **kw):
    """Eigenvalues (ascending, unique), V diag(e) V^T (= a) and V^T V (= I): the same for
    any choice of eigenvector signs."""
    e, v = tf.linalg.eigh(a, **kw) if kw else tf.linalg.eigh(a)
    return [e, tf.matmul(v * e[..., None, :], v, adjoint_b=True), tf.matmul(v, v, adjoint_a=True)]


def _svd_checks(full):
    """Singular values (descending), U diag(s) V^T (= a), U^T U and V^T V (= I)."""
    def build(a):
        s, u, v = tf.linalg.svd(a, full_matrices=full)
        k = s.shape[-1]
        core = tf.matmul(u[..., :k] * s[..., None, :], v[..., :k], adjoint_b=True)
        return [s, core, tf.matmul(u, u, adjoint_a=True), tf.matmul(v, v, adjoint_a=True)]
    return build


EIGEN = [
    c("SelfAdjointEigV2", "f32", _eig_checks, _symmetric(4, 4), tol=1e-5),
    c("SelfAdjointEigV2", "batch-f64", _eig_checks, _symmetric(2, 3, 5, 5, dtype=f64),
      tol=1e-12),
    c("SelfAdjointEigV2", "values-only-diagonal", lambda a: tf.linalg.eigvalsh(a),
      V([[3.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 2.0]]), tol=1e-6),
    c("SelfAdjointEigV2", "values-only-f64", lambda a: tf.linalg.eigvalsh(a),
      _symmetric(6, 6, dtype=f64), tol=1e-12),
    c("Svd", "square-f32", _svd_checks(False), R(4, 4), tol=1e-5),
    c("Svd", "tall-batch-f64", _svd_checks(False), R(2, 5, 3, dtype=f64), tol=1e-12),
    c("Svd", "wide-full", _svd_checks(True), R(3, 5), tol=1e-5),
    c("Svd", "tall-full-f64", _svd_checks(True), R(6, 4, dtype=f64), tol=1e-12),
    c("Svd", "values-only", lambda a: tf.linalg.svd(a, compute_uv=False), R(2, 4, 3),
      tol=1e-5),
]

# -- TensorLists outside loops ------------------------------------------------------------------


def _pushed(*xs, shape=None):
    """A list built by EmptyTensorList and pushes."""
    handle = raw.EmptyTensorList(element_shape=shape if shape is not None else xs[0].shape,
                                 max_num_elements=-1, element_dtype=xs[0].dtype)
    for x in xs:
        handle = raw.TensorListPushBack(input_handle=handle, tensor=x)
    return handle


def _stacked(handle, like):
    return raw.TensorListStack(input_handle=handle, element_shape=like.shape,
                               element_dtype=like.dtype)


LISTS = [
    c("EmptyTensorList", "pushed", lambda x, y: _stacked(_pushed(x, y), x), R(2, 3), R(2, 3),
      tol=EXACT),
    c("EmptyTensorList", "unknown-shape-i32", lambda x: _stacked(_pushed(x, shape=const(-1)), x),
      R(4, dtype=i32), tol=EXACT),
    c("EmptyTensorList", "length", lambda x: raw.TensorListLength(input_handle=_pushed(x, x, x)),
      R(2), tol=EXACT),
    c("TensorListPushBack", "three", lambda x, y, z: _stacked(_pushed(x, y, z), x), R(3), R(3),
      R(3), tol=EXACT),
    c("TensorListPushBack", "onto-reserved", lambda x: _stacked(raw.TensorListPushBack(
        input_handle=raw.TensorListReserve(element_shape=[2], num_elements=2,
                                           element_dtype=tf.float32), tensor=x), x), R(2),
      tol=EXACT),
    c("TensorListPushBack", "scalars-f64", lambda x, y: _stacked(_pushed(x, y), x),
      R(dtype=f64), R(dtype=f64), tol=EXACT),
    c("TensorListPopBack", "last", lambda x, y: list(raw.TensorListPopBack(
        input_handle=_pushed(x, y), element_shape=x.shape, element_dtype=x.dtype))[1], R(2, 2),
      R(2, 2), tol=EXACT),
    c("TensorListPopBack", "rest", lambda x, y: _stacked(raw.TensorListPopBack(
        input_handle=_pushed(x, y), element_shape=x.shape, element_dtype=x.dtype)[0], x),
      R(3), R(3), tol=EXACT),
    c("TensorListPopBack", "from-tensor-i32", lambda t: raw.TensorListPopBack(
        input_handle=raw.TensorListFromTensor(tensor=t, element_shape=[2]), element_shape=[2],
        element_dtype=tf.int32)[1], R(4, 2, dtype=i32), tol=EXACT),
    c("TensorListGather", "indices", lambda t: raw.TensorListGather(
        input_handle=raw.TensorListFromTensor(tensor=t, element_shape=[3]), indices=[2, 0, 2],
        element_shape=[3], element_dtype=tf.float32), R(4, 3), tol=EXACT),
    c("TensorListGather", "runtime-indices", lambda t, i: raw.TensorListGather(
        input_handle=raw.TensorListFromTensor(tensor=t, element_shape=const([], tf.int32)),
        indices=i, element_shape=const([], tf.int32), element_dtype=tf.int32), R(5, dtype=i32), V([4, 1, 0, 0], i32),
      tol=EXACT),
    c("TensorListGather", "pushed", lambda x, y: raw.TensorListGather(
        input_handle=_pushed(x, y), indices=[1], element_shape=[2], element_dtype=tf.float32),
      R(2), R(2), tol=EXACT),
    c("TensorListConcatV2", "rows", lambda t: list(raw.TensorListConcatV2(
        input_handle=raw.TensorListFromTensor(tensor=t, element_shape=[2, 3]),
        element_shape=[2, 3], leading_dims=const([], tf.int64), element_dtype=tf.float32)),
      R(3, 2, 3), tol=EXACT),
    c("TensorListConcatV2", "pushed-i32", lambda x, y: raw.TensorListConcatV2(
        input_handle=_pushed(x, y), element_shape=[2], leading_dims=const([], tf.int64),
        element_dtype=tf.int32)[0], R(2, dtype=i32), R(2, dtype=i32), tol=EXACT),
    c("TensorListConcatV2", "vectors", lambda t: raw.TensorListConcatV2(
        input_handle=raw.TensorListFromTensor(tensor=t, element_shape=[4]),
        element_shape=[4], leading_dims=const([], tf.int64), element_dtype=tf.float64)[0],
      R(2, 4, dtype=f64), tol=EXACT),
    c("TensorListSplit", "equal", lambda t: _stacked(raw.TensorListSplit(
        tensor=t, element_shape=[2, 3], lengths=const([2, 2], tf.int64)), tf.zeros([2, 3])),
      R(4, 3), tol=EXACT),
    c("TensorListSplit", "get-item-i32", lambda t: raw.TensorListGetItem(
        input_handle=raw.TensorListSplit(tensor=t, element_shape=[-1],
                                         lengths=const([3, 3, 3], tf.int64)),
        index=2, element_shape=[3], element_dtype=tf.int32), R(9, dtype=i32), tol=EXACT),
    c("TensorListSplit", "one", lambda t: raw.TensorListLength(input_handle=raw.TensorListSplit(
        tensor=t, element_shape=[5, 1], lengths=const([5], tf.int64))), R(5, 1), tol=EXACT),
]

c64, c128 = np.complex64, np.complex128

#: FFTs: TensorFlow (pocketfft) and aotc (DFT matrix products) each round the n terms of
#: an output bin in f32, so each is within about n * 2^-24 of the exact value per unit of
#: input magnitude; inputs have parts in [-1, 1] (magnitude <= 2^0.5), and fft_tol(n)
#: allows 4 n 2^-24 twice over (both sides), relative and absolute; fft_tol64 the same
#: in f64.
def fft_tol(n):
    return 4 * n * 2.0 ** -24 * 2


def fft_tol64(n):
    return 4 * n * 2.0 ** -53 * 2


def C(*shape, dtype=c64, low=-1.0, high=1.0):
    """A lazily drawn complex input, both parts uniform in [low, high)."""
    return R(*shape, dtype=dtype, low=low, high=high)


#: Values on the axes and at the origin, where Angle and ComplexAbs have their edges.
AXES = [0, -0.0, 1, -1, 1j, -1j, -2 + 0j, complex(-2, -0.0), 3e-39 + 4e-39j, 3e38 + 3e38j]

COMPLEX_OPS = [
    c("Complex", "f32-bcast", lambda x, y: raw.Complex(real=x, imag=y, Tout=tf.complex64),
      R(2, 3), R(3), tol=EXACT),
    c("Complex", "f64", lambda x, y: raw.Complex(real=x, imag=y, Tout=tf.complex128),
      R(4, dtype=f64), R(4, dtype=f64), tol=EXACT),
    c("Complex", "scalar-nan", lambda x, y: raw.Complex(real=x, imag=y, Tout=tf.complex64),
      V([NAN, INF, -0.0]), V(2.5), tol=EXACT),
    c("Real", "c64", lambda z: raw.Real(input=z, Tout=tf.float32), C(2, 3), tol=EXACT),
    c("Real", "c128", lambda z: raw.Real(input=z, Tout=tf.float64), C(5, dtype=c128), tol=EXACT),
    c("Real", "scalar", lambda z: raw.Real(input=z, Tout=tf.float32), V(3 - 4j, c64), tol=EXACT),
    c("Imag", "c64", lambda z: raw.Imag(input=z, Tout=tf.float32), C(2, 3), tol=EXACT),
    c("Imag", "c128", lambda z: raw.Imag(input=z, Tout=tf.float64), C(5, dtype=c128), tol=EXACT),
    c("Imag", "empty", lambda z: raw.Imag(input=z, Tout=tf.float32), C(0, 4), tol=EXACT),
    c("Conj", "c64", lambda z: raw.Conj(input=z), C(3, 2), tol=EXACT),
    c("Conj", "c128", lambda z: raw.Conj(input=z), C(4, dtype=c128), tol=EXACT),
    c("Conj", "axes", lambda z: raw.Conj(input=z), V(AXES, c64), tol=EXACT),
    c("Angle", "c64", lambda z: raw.Angle(input=z, Tout=tf.float32), C(3, 4), tol=F32_ULPS),
    c("Angle", "c128", lambda z: raw.Angle(input=z, Tout=tf.float64), C(6, dtype=c128), tol=F64),
    # Not on subnormal parts: TensorFlow's kernel gives NaN there (flushed to zero?).
    c("Angle", "axes", lambda z: raw.Angle(input=z, Tout=tf.float32), V(AXES[:-2] + [3e-30 - 4e-30j], c64),
      tol=F32_ULPS),
    c("ComplexAbs", "c64", lambda z: raw.ComplexAbs(x=z, Tout=tf.float32), C(3, 4),
      tol=F32_ULPS),
    c("ComplexAbs", "c128", lambda z: raw.ComplexAbs(x=z, Tout=tf.float64), C(6, dtype=c128),
      tol=F64),
    c("ComplexAbs", "axes-huge-tiny", lambda z: raw.ComplexAbs(x=z, Tout=tf.float32),
      V(AXES, c64), tol=F32_ULPS),
    c("ConjugateTranspose", "c64", lambda x: raw.ConjugateTranspose(x=x, perm=[1, 0]), C(2, 3),
      tol=EXACT),
    c("ConjugateTranspose", "c128-3d", lambda x: raw.ConjugateTranspose(x=x, perm=[2, 0, 1]),
      C(2, 3, 2, dtype=c128), tol=EXACT),
]


def _fft_cases(op, fn, shapes, dtype, lengths=None):
    """`op` on inputs of each shape (RFFT/IRFFT: with one fft_length per shape; inputs
    longer than it are cropped)."""
    rank = int(op[-2]) if op.endswith("D") else 1
    cases = []
    for k, shape in enumerate(shapes):
        n = int(np.prod(shape[-rank:] if lengths is None else lengths[k]))
        tol = fft_tol64(n) if dtype in (c128, f64) else fft_tol(n)
        draw = C(*shape, dtype=dtype) if np.dtype(dtype).kind == "c" else \
            R(*shape, dtype=dtype, low=-1, high=1)
        name = "x".join(map(str, shape)) + "-" + np.dtype(dtype).name
        if lengths is None:
            cases.append(c(op, name, fn, draw, tol=tol))
        else:
            name += "-to-" + "x".join(map(str, lengths[k]))
            cases.append(c(op, name, lambda x, L=lengths[k]: fn(x, L), draw, tol=tol))
    return cases


FFTS = [
    *_fft_cases("FFT", lambda z: raw.FFT(input=z), [(8,), (3, 6)], c64),
    *_fft_cases("FFT", lambda z: raw.FFT(input=z), [(2, 5)], c128),
    *_fft_cases("IFFT", lambda z: raw.IFFT(input=z), [(16,), (2, 3, 7)], c64),
    *_fft_cases("IFFT", lambda z: raw.IFFT(input=z), [(4,)], c128),
    *_fft_cases("FFT2D", lambda z: raw.FFT2D(input=z), [(4, 4), (2, 3, 6)], c64),
    *_fft_cases("FFT2D", lambda z: raw.FFT2D(input=z), [(5, 2)], c128),
    *_fft_cases("IFFT2D", lambda z: raw.IFFT2D(input=z), [(4, 8), (2, 5, 3)], c64),
    *_fft_cases("IFFT2D", lambda z: raw.IFFT2D(input=z), [(3, 3)], c128),
    *_fft_cases("FFT3D", lambda z: raw.FFT3D(input=z), [(2, 3, 4), (2, 2, 2, 4)], c64),
    *_fft_cases("FFT3D", lambda z: raw.FFT3D(input=z), [(3, 2, 2)], c128),
    *_fft_cases("IFFT3D", lambda z: raw.IFFT3D(input=z), [(4, 2, 3), (2, 1, 3, 4)], c64),
    *_fft_cases("IFFT3D", lambda z: raw.IFFT3D(input=z), [(2, 2, 5)], c128),
    *_fft_cases("RFFT", lambda x, n: raw.RFFT(input=x, fft_length=n, Tcomplex=tf.complex64),
                [(8,), (3, 7), (2, 6)], f32, [[8], [7], [4]]),
    *_fft_cases("RFFT", lambda x, n: raw.RFFT(input=x, fft_length=n, Tcomplex=tf.complex128),
                [(2, 6)], f64, [[6]]),
    *_fft_cases("IRFFT", lambda z, n: raw.IRFFT(input=z, fft_length=n, Treal=tf.float32),
                [(5,), (3, 4), (2, 6), (4,)], c64, [[8], [7], [6], [7]]),
    *_fft_cases("IRFFT", lambda z, n: raw.IRFFT(input=z, fft_length=n, Treal=tf.float64),
                [(4,)], c128, [[6]]),
    *_fft_cases("RFFT2D", lambda x, n: raw.RFFT2D(input=x, fft_length=n,
                                                  Tcomplex=tf.complex64),
                [(4, 6), (2, 3, 5), (4, 7)], f32, [[4, 6], [3, 5], [3, 6]]),
    *_fft_cases("IRFFT2D", lambda z, n: raw.IRFFT2D(input=z, fft_length=n, Treal=tf.float32),
                [(4, 4), (2, 3, 3), (5, 5)], c64, [[4, 6], [3, 5], [4, 4]]),
    *_fft_cases("RFFT3D", lambda x, n: raw.RFFT3D(input=x, fft_length=n,
                                                  Tcomplex=tf.complex64),
                [(2, 3, 4), (2, 2, 3, 5), (3, 4, 5)], f32, [[2, 3, 4], [2, 3, 5], [2, 4, 4]]),
    *_fft_cases("IRFFT3D", lambda z, n: raw.IRFFT3D(input=z, fft_length=n, Treal=tf.float32),
                [(2, 3, 3), (2, 2, 2, 3), (2, 3, 4)], c64, [[2, 3, 4], [2, 2, 5], [2, 3, 4]]),
]


#: Ordinary ops on complex64 (and some on complex128), lowered by their usual rules.
ON_COMPLEX = [
    c("AddV2", "c64-bcast", lambda x, y: x + y, C(2, 3), C(3), tol=EXACT),
    c("Sub", "c128", lambda x, y: x - y, C(4, dtype=c128), C(4, dtype=c128), tol=EXACT),
    c("Mul", "c64", lambda x, y: x * y, C(2, 3), C(2, 3), tol=F32_ULPS),
    # Complex Const tensors: tensor_content, and a splatted scomplex_val/dcomplex_val.
    c("Mul", "c64-const", lambda x: x * const([1 + 2j, -3 + 0.5j], tf.complex64), C(3, 2),
      tol=F32_ULPS),
    c("AddV2", "c128-splat-const", lambda x: x + const(0.5 - 1j, tf.complex128, shape=[4]),
      C(4, dtype=c128), tol=EXACT),
    c("RealDiv", "c64", lambda x, y: raw.RealDiv(x=x, y=y), C(2, 3), C(2, 3, low=0.5),
      tol=F32_ULPS),
    c("Div", "c128", lambda x, y: raw.Div(x=x, y=y), C(4, dtype=c128),
      V([1e-3 + 3e3j, 2 - 1j, -4j, 5], c128), tol=F64),
    c("Neg", "c64", lambda x: -x, C(5), tol=EXACT),
    c("AddN", "c64", lambda x, y, z: tf.math.add_n([x, y, z]), C(3), C(3), C(3), tol=EXACT),
    c("Exp", "c64", lambda x: tf.exp(x), C(2, 3), tol=F32_ULPS),
    c("Log", "c64", lambda x: tf.math.log(x), C(2, 3, low=0.1, high=2.0), tol=F32_ULPS),
    c("Sqrt", "c64", lambda x: tf.sqrt(x), V([4, -4, 3j, -3j, 1 + 1j, -2 - 5j, 0], c64),
      tol=F32_ULPS),
    c("Rsqrt", "c64", lambda x: tf.math.rsqrt(x), C(2, 3, low=0.3), tol=F32_ULPS),
    c("Square", "c64", lambda x: tf.square(x), C(3), tol=F32_ULPS),
    c("MatMul", "c64", lambda x, y: tf.matmul(x, y), C(2, 3), C(3, 4), tol=ACCUMULATE),
    c("BatchMatMulV2", "c64-adjoint", lambda x, y: tf.matmul(x, y, adjoint_a=True),
      C(2, 3, 2), C(2, 3, 4), tol=ACCUMULATE),
    c("Sum", "c64", lambda x: tf.reduce_sum(x, axis=1), C(3, 5), tol=ACCUMULATE),
    c("Reshape", "c64", lambda x: tf.reshape(x, [3, 2]), C(2, 3), tol=EXACT),
    c("ConcatV2", "c64", lambda x, y: tf.concat([x, y], 0), C(2, 3), C(1, 3), tol=EXACT),
    c("StridedSlice", "c64", lambda x: x[1:, ::-2], C(3, 5), tol=EXACT),
    c("Pack", "c128", lambda x, y: tf.stack([x, y], 1), C(2, dtype=c128), C(2, dtype=c128),
      tol=EXACT),
    c("GatherV2", "c64", lambda x, i: tf.gather(x, i), C(4, 2), V([3, 0, 3], i32), tol=EXACT),
    c("Pad", "c64", lambda x: tf.pad(x, [[1, 0], [0, 2]]), C(2, 2), tol=EXACT),
    c("Cast", "f32-to-c64", lambda x: tf.cast(x, tf.complex64), R(2, 3), tol=EXACT),
    c("Cast", "c64-to-f32", lambda x: tf.cast(x, tf.float32), C(2, 3), tol=EXACT),
    c("Cast", "c64-to-c128", lambda x: tf.cast(x, tf.complex128), C(3), tol=EXACT),
    c("Equal", "c64", lambda x, y: tf.equal(x, y), V([1 + 2j, 3, 1j], c64), V([1 + 2j, 3j, 1j], c64),
      tol=EXACT),
    c("NotEqual", "c64", lambda x, y: tf.not_equal(x, y), V([1 + 2j, 3, 1j], c64),
      V([1 + 2j, 3j, 1], c64), tol=EXACT),
    c("SelectV2", "c64", lambda p, x, y: tf.where(p, x, y), V([True, False, True], b1), C(3),
      C(3), tol=EXACT),
]

ALL_CASES = (BITS + DETECTION + SAMPLING + EIGEN + COMPLEX_OPS + FFTS + ON_COMPLEX + LISTS + LINALG + IMAGES + QUANT + SPECIAL + UPDATES + SEGMENTS_V2 + STATELESS + TRIG + BITWISE + ZERO_SAFE + SCANS + MISC + MATRIX + BATCH_SPACE + REORDER + SEARCH
             + SHAPES + VALUE_SHAPED)

#: Batches for tests/test_op_coverage_cpu.py: one compiled module each.
TF2XLA_GROUPS = {
    "tf2xla-elementwise": TRIG + BITWISE + BITS + ZERO_SAFE + SCANS + MISC,
    "tf2xla-random": STATELESS,
    # One case of each truncated normal (their f64 erfc and quantile code takes LLVM a
    # few seconds per case); the evaluator runs all three.
    "tf2xla-sampling": [k for k in SAMPLING if "TruncatedNormal" not in k.op
                        or k.id.endswith("per-batch") or k.id.endswith("bcast")],
    "tf2xla-special": [k for k in SPECIAL if not k.xla],
    "tf2xla-linalg": LINALG + LISTS,
    # Two cases (their rotation loops' dots take LLVM seconds each); the evaluator runs all.
    "tf2xla-eigen": [k for k in EIGEN if k.id in ("SelfAdjointEigV2-f32", "Svd-wide-full")],
    "tf2xla-image": [k for k in IMAGES + QUANT if not k.xla] + DETECTION,
    "tf2xla-complex": [k for k in COMPLEX_OPS + FFTS + ON_COMPLEX if not k.xla],
    "tf2xla-array": UPDATES + MATRIX + BATCH_SPACE + REORDER + SEARCH + SHAPES + VALUE_SHAPED,
}

#: The ops this list is about: each needs at least three cases above.
COVERAGE_OPS = sorted({k.op for k in ALL_CASES if k.id not in {o.id for o in ON_COMPLEX}})

__all__ = ["ALL_CASES", "BITWISE", "COMPLEX_OPS", "FFTS", "ON_COMPLEX", "COVERAGE_OPS", "MISC", "SCANS", "TF2XLA_GROUPS", "TRIG", "ZERO_SAFE"]
