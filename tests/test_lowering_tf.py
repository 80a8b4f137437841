"""Each TF op lowering against real TensorFlow.

Every case builds a tf.compat.v1 graph with fixed-shape placeholders, runs it with a
TensorFlow Session on seeded random inputs, then prunes and lowers the same GraphDef with
aotc and evaluates the HLO with the NumPy evaluator. Tolerances: exact for data movement
and integer/bool results; rtol=atol=1e-6 for f32 elementwise math; 1e-5 for matmul,
softmax and reductions (different summation orders).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)

from aotc.frontend.errors import FrontendError, UnsupportedOpsError  # noqa: E402
from aotc.frontend.lower import lower  # noqa: E402
from aotc.frontend.ops import supported_ops  # noqa: E402
from aotc.frontend.prune import prune  # noqa: E402
from aotc.hlo.evaluation import evaluate  # noqa: E402

from tf_graphs import (  # noqa: E402
    ACCUMULATE, EXACT, R, assert_matches, c, check_case, lower_case, make_config,
    parse_graph_def, rand, run_tf,
)

raw = tf.raw_ops
f32, f16, i32, i64 = np.float32, np.float16, np.int32, np.int64

POS = dict(low=0.1, high=4.0)
const = tf.constant


def _with_noop(x):
    with tf.control_dependencies([tf.no_op(name="side")]):
        return tf.identity(x)


CASES = [
    # -- graph plumbing ---------------------------------------------------------------
    c("Placeholder", "f32", lambda x: x * 1.0, R(2, 3), tol=EXACT),
    c("Placeholder", "i32-scalar", lambda x: x + 1, R(dtype=i32), tol=EXACT),
    c("Const", "f32", lambda x: x + const([[1.5, -2.0, 3.0]]), R(2, 3), tol=EXACT),
    c("Const", "i64-splat", lambda x: x * const(7, tf.int64, shape=[4]), R(4, dtype=i64),
      tol=EXACT),
    c("Identity", "f32", lambda x: tf.identity(x), R(3, 2), tol=EXACT),
    c("Identity", "bool", lambda x: tf.identity(x), R(5, dtype=np.bool_), tol=EXACT),
    c("IdentityN", "two", lambda x, y: tf.identity_n([x, y]), R(2), R(3, dtype=i32), tol=EXACT),
    c("IdentityN", "one", lambda x: tf.identity_n([x * 2.0]), R(2, 2), tol=EXACT),
    c("NoOp", "control-dep", _with_noop, R(4), tol=EXACT),
    c("NoOp", "group", lambda x: [_with_noop(x), _with_noop(x + 1.0)], R(2), tol=EXACT),
    c("StopGradient", "f32", lambda x: tf.stop_gradient(x) * 2.0, R(3), tol=EXACT),
    c("StopGradient", "i32", lambda x: tf.stop_gradient(x), R(2, 2, dtype=i32), tol=EXACT),
    c("PlaceholderWithDefault", "unfed",
      lambda x: x + tf.compat.v1.placeholder_with_default(const([1.0, 2.0]), [2]), R(2)),
    c("PlaceholderWithDefault", "unfed-matrix",
      lambda x: tf.compat.v1.placeholder_with_default(x * 3.0, [2, 2]), R(2, 2)),
    # -- binary elementwise -----------------------------------------------------------
    c("Add", "same", lambda x, y: raw.Add(x=x, y=y), R(2, 3), R(2, 3)),
    c("Add", "bcast-i32", lambda x, y: raw.Add(x=x, y=y), R(4, 1, dtype=i32, low=-50, high=50),
      R(3, dtype=i32, low=-50, high=50), tol=EXACT),
    c("AddV2", "scalar", lambda x, y: x + y, R(2, 3), R()),
    c("AddV2", "bcast-both", lambda x, y: tf.add(x, y), R(3, 1, 5), R(4, 1)),
    c("AddN", "three", lambda x, y, z: tf.add_n([x, y, z]), R(2, 3), R(2, 3), R(2, 3)),
    c("AddN", "i32", lambda x, y: tf.add_n([x, y]), R(4, dtype=i32), R(4, dtype=i32), tol=EXACT),
    c("Sub", "bcast", lambda x, y: tf.subtract(x, y), R(2, 3), R(3)),
    c("Sub", "i64", lambda x, y: x - y, R(5, dtype=i64), R(1, dtype=i64), tol=EXACT),
    c("Mul", "bcast", lambda x, y: tf.multiply(x, y), R(1, 4), R(3, 1)),
    c("Mul", "i32", lambda x, y: x * y, R(2, 2, dtype=i32), R(2, 2, dtype=i32), tol=EXACT),
    c("RealDiv", "same", lambda x, y: tf.math.truediv(x, y), R(3, 3), R(3, 3, **POS)),
    c("RealDiv", "bcast", lambda x, y: raw.RealDiv(x=x, y=y), R(2, 4), R(4, **POS)),
    c("Maximum", "bcast", lambda x, y: tf.maximum(x, y), R(2, 3), R(3)),
    c("Maximum", "i32", lambda x, y: tf.maximum(x, y), R(4, dtype=i32), R(dtype=i32), tol=EXACT),
    c("Minimum", "bcast", lambda x, y: tf.minimum(x, y), R(3, 1), R(1, 3)),
    c("Minimum", "i64", lambda x, y: tf.minimum(x, y), R(6, dtype=i64), R(6, dtype=i64), tol=EXACT),
    # -- unary elementwise ------------------------------------------------------------
    c("Neg", "f32", lambda x: -x, R(2, 3)),
    c("Neg", "i32", lambda x: tf.negative(x), R(5, dtype=i32), tol=EXACT),
    c("Abs", "f32", lambda x: tf.abs(x), R(4, 2)),
    c("Abs", "i32", lambda x: tf.abs(x), R(5, dtype=i32), tol=EXACT),
    c("Exp", "vec", lambda x: tf.exp(x), R(8)),
    c("Exp", "mat", lambda x: tf.exp(x), R(3, 4, low=-5, high=5)),
    c("Log", "vec", lambda x: tf.math.log(x), R(8, **POS)),
    c("Log", "mat", lambda x: tf.math.log(x), R(2, 5, low=1e-3, high=100.0)),
    c("Tanh", "vec", lambda x: tf.tanh(x), R(8)),
    c("Tanh", "wide", lambda x: tf.tanh(x), R(3, 4, low=-10, high=10)),
    c("Sigmoid", "vec", lambda x: tf.sigmoid(x), R(8)),
    c("Sigmoid", "wide", lambda x: tf.sigmoid(x), R(3, 4, low=-20, high=20)),
    c("Relu", "f32", lambda x: tf.nn.relu(x), R(3, 4)),
    c("Relu", "i32", lambda x: tf.nn.relu(x), R(6, dtype=i32), tol=EXACT),
    c("Relu6", "f32", lambda x: tf.nn.relu6(x), R(3, 4, low=-3, high=9)),
    c("Relu6", "scalar", lambda x: tf.nn.relu6(x), R(low=6.5, high=8)),
    c("Sqrt", "vec", lambda x: tf.sqrt(x), R(6, **POS)),
    c("Sqrt", "mat", lambda x: tf.sqrt(x), R(2, 3, low=0.0, high=100.0)),
    c("Rsqrt", "vec", lambda x: tf.math.rsqrt(x), R(6, **POS)),
    c("Rsqrt", "mat", lambda x: tf.math.rsqrt(x), R(3, 2, low=0.5, high=50.0)),
    c("Square", "f32", lambda x: tf.square(x), R(3, 3)),
    c("Square", "i32", lambda x: tf.square(x), R(4, dtype=i32), tol=EXACT),
    # -- matmul and nn ----------------------------------------------------------------
    c("MatMul", "plain", lambda x, y: tf.matmul(x, y), R(3, 4), R(4, 5), tol=ACCUMULATE),
    c("MatMul", "ta", lambda x, y: tf.matmul(x, y, transpose_a=True), R(4, 3), R(4, 2),
      tol=ACCUMULATE),
    c("MatMul", "tb", lambda x, y: tf.matmul(x, y, transpose_b=True), R(2, 7), R(3, 7),
      tol=ACCUMULATE),
    c("MatMul", "ta-tb", lambda x, y: tf.matmul(x, y, transpose_a=True, transpose_b=True),
      R(6, 2), R(3, 6), tol=ACCUMULATE),
    c("BiasAdd", "nhwc", lambda x, b: tf.nn.bias_add(x, b), R(2, 3, 3, 4), R(4)),
    c("BiasAdd", "nchw", lambda x, b: tf.nn.bias_add(x, b, data_format="NCHW"),
      R(2, 4, 3, 3), R(4)),
    c("BiasAdd", "matrix", lambda x, b: tf.nn.bias_add(x, b), R(5, 3), R(3)),
    c("Softmax", "2d", lambda x: tf.nn.softmax(x), R(3, 10, low=-10, high=10), tol=ACCUMULATE),
    c("Softmax", "3d", lambda x: tf.nn.softmax(x), R(2, 3, 4), tol=ACCUMULATE),
    c("Softmax", "large", lambda x: tf.nn.softmax(x), R(2, 5, low=80, high=100),
      tol=ACCUMULATE),
    # -- shapes and data movement -----------------------------------------------------
    c("Reshape", "infer", lambda x: tf.reshape(x, [-1, 3]), R(4, 6), tol=EXACT),
    c("Reshape", "to-scalar", lambda x: tf.reshape(x, []), R(1, 1), tol=EXACT),
    c("Reshape", "i64-shape", lambda x: tf.reshape(x, const([2, -1, 2], tf.int64)),
      R(4, 3, dtype=i32), tol=EXACT),
    c("Transpose", "2d", lambda x: tf.transpose(x), R(3, 5), tol=EXACT),
    c("Transpose", "4d", lambda x: tf.transpose(x, [0, 3, 1, 2]), R(2, 3, 4, 5), tol=EXACT),
    c("Cast", "f32-to-i32", lambda x: tf.cast(x, tf.int32), R(10, low=-5, high=5), tol=EXACT),
    c("Cast", "i32-to-f32", lambda x: tf.cast(x, tf.float32), R(4, dtype=i32, low=-99, high=99),
      tol=EXACT),
    c("Cast", "f32-to-bool", lambda x: tf.cast(x * tf.cast(x > 0, tf.float32), tf.bool),
      R(8), tol=EXACT),
    c("Cast", "bool-to-f32", lambda x: tf.cast(x, tf.float32), R(6, dtype=np.bool_), tol=EXACT),
    c("Cast", "i64-to-i32", lambda x: tf.cast(x, tf.int32), R(3, dtype=i64), tol=EXACT),
    c("Cast", "f32-to-f16", lambda x: tf.cast(x, tf.float16), R(5), tol=EXACT),
    c("Squeeze", "all", lambda x: tf.squeeze(x), R(1, 3, 1, 2), tol=EXACT),
    c("Squeeze", "negative", lambda x: tf.squeeze(x, [-1, 0]), R(1, 3, 1, 1), tol=EXACT),
    c("ExpandDims", "front", lambda x: tf.expand_dims(x, 0), R(3, 2), tol=EXACT),
    c("ExpandDims", "negative", lambda x: tf.expand_dims(x, -1), R(3, 2), tol=EXACT),
    c("ExpandDims", "scalar-i64", lambda x: tf.expand_dims(x, const(1, tf.int64)), R(4),
      tol=EXACT),
    c("ConcatV2", "axis0", lambda x, y: tf.concat([x, y], 0), R(2, 3), R(4, 3), tol=EXACT),
    c("ConcatV2", "negative", lambda x, y, z: tf.concat([x, y, z], -1), R(2, 1), R(2, 3),
      R(2, 2), tol=EXACT),
    c("Shape", "i32", lambda x: raw.Shape(input=x), R(2, 3, 4), tol=EXACT),
    c("Shape", "i64", lambda x: raw.Shape(input=x, out_type=tf.int64), R(5), tol=EXACT),
    c("Shape", "feeds-reshape", lambda x, y: tf.reshape(x, raw.Shape(input=y)), R(6), R(2, 3),
      tol=EXACT),
    c("Size", "i32", lambda x: raw.Size(input=x), R(2, 3, 4), tol=EXACT),
    c("Size", "i64-scalar", lambda x: raw.Size(input=x, out_type=tf.int64), R(), tol=EXACT),
    c("Rank", "3d", lambda x: raw.Rank(input=x), R(2, 3, 4), tol=EXACT),
    c("Rank", "scalar", lambda x: raw.Rank(input=x), R(), tol=EXACT),
    c("Fill", "f32", lambda x: tf.fill([2, 3], x), R(), tol=EXACT),
    c("Fill", "i32-const", lambda x: x + tf.fill([4], 7), R(4, dtype=i32), tol=EXACT),
    c("ZerosLike", "f32", lambda x: raw.ZerosLike(x=x), R(2, 3), tol=EXACT),
    c("ZerosLike", "i32", lambda x: raw.ZerosLike(x=x) + x, R(4, dtype=i32), tol=EXACT),
    c("OnesLike", "f32", lambda x: raw.OnesLike(x=x), R(2, 3), tol=EXACT),
    c("OnesLike", "i64", lambda x: raw.OnesLike(x=x) * x, R(4, dtype=i64), tol=EXACT),
    # -- reductions -------------------------------------------------------------------
    c("Sum", "axis1", lambda x: tf.reduce_sum(x, 1), R(3, 8), tol=ACCUMULATE),
    c("Sum", "all-keep", lambda x: tf.reduce_sum(x, keepdims=True), R(3, 4, 5), tol=ACCUMULATE),
    c("Sum", "neg-axes", lambda x: tf.reduce_sum(x, [-1, 0]), R(2, 3, 4), tol=ACCUMULATE),
    c("Sum", "empty-axes", lambda x: raw.Sum(input=x, axis=const([], tf.int32)), R(2, 3),
      tol=EXACT),
    c("Sum", "scalar-axis-i32", lambda x: raw.Sum(input=x, axis=const(-1), keep_dims=True),
      R(3, 4, dtype=i32), tol=EXACT),
    c("Mean", "axis0", lambda x: tf.reduce_mean(x, 0), R(5, 3), tol=ACCUMULATE),
    c("Mean", "keep", lambda x: tf.reduce_mean(x, [1, 2], keepdims=True), R(2, 3, 4),
      tol=ACCUMULATE),
    c("Mean", "int-truncates", lambda x: tf.reduce_mean(x, 1), R(4, 3, dtype=i32, low=-9, high=9),
      tol=EXACT),
    c("Max", "axis1", lambda x: tf.reduce_max(x, 1), R(3, 5), tol=EXACT),
    c("Max", "i32-keep", lambda x: tf.reduce_max(x, -1, keepdims=True), R(2, 4, dtype=i32),
      tol=EXACT),
    c("Min", "all", lambda x: tf.reduce_min(x), R(3, 4), tol=EXACT),
    c("Min", "i64-axis0", lambda x: tf.reduce_min(x, 0), R(3, 2, dtype=i64), tol=EXACT),
    c("Prod", "axis1", lambda x: tf.reduce_prod(x, 1), R(2, 4, low=0.5, high=1.5),
      tol=ACCUMULATE),
    c("Prod", "i32-keep", lambda x: tf.reduce_prod(x, [0], keepdims=True),
      R(3, 2, dtype=i32, low=-3, high=3), tol=EXACT),
]

#: Ops beyond the first set (one or two cases each).
EXTRA_CASES = [
    c("Div", "f32", lambda x, y: raw.Div(x=x, y=y), R(4), R(4, **POS)),
    c("Div", "i32-trunc", lambda x, y: raw.Div(x=x, y=y), R(8, dtype=i32, low=-20, high=20),
      R(8, dtype=i32, low=1, high=6), tol=EXACT),
    c("FloorDiv", "i32", lambda x, y: tf.math.floordiv(x, y), R(12, dtype=i32, low=-20, high=20),
      np.array([3, -3, 5, -5, 7, -7, 3, -3, 2, -2, 1, -1], i32), tol=EXACT),
    c("FloorDiv", "f32", lambda x, y: tf.math.floordiv(x, y), R(6, low=-9, high=9),
      R(6, low=0.5, high=3)),
    c("FloorMod", "i32", lambda x, y: tf.math.floormod(x, y), R(12, dtype=i32, low=-20, high=20),
      np.array([3, -3, 5, -5, 7, -7, 3, -3, 2, -2, 1, -1], i32), tol=EXACT),
    c("FloorMod", "f32", lambda x, y: tf.math.floormod(x, y), R(6, low=-9, high=9),
      R(6, low=0.5, high=3)),
    c("TruncateDiv", "i32", lambda x, y: tf.truncatediv(x, y), R(6, dtype=i32, low=-20, high=20),
      R(6, dtype=i32, low=1, high=5), tol=EXACT),
    c("TruncateMod", "i32", lambda x, y: tf.truncatemod(x, y), R(6, dtype=i32, low=-20, high=20),
      R(6, dtype=i32, low=1, high=5), tol=EXACT),
    c("Pow", "f32", lambda x, y: tf.pow(x, y), R(5, **POS), R(5)),
    c("SquaredDifference", "bcast", lambda x, y: tf.math.squared_difference(x, y), R(2, 3), R(3)),
    c("Atan2", "f32", lambda x, y: tf.atan2(x, y), R(6), R(6)),
    c("DivNoNan", "zeros", lambda x, y: tf.math.divide_no_nan(x, y), R(4),
      np.array([0.0, 2.0, 0.0, -1.0], f32)),
    c("Equal", "i32", lambda x, y: tf.equal(x, y), R(8, dtype=i32, low=0, high=2),
      R(8, dtype=i32, low=0, high=2), tol=EXACT),
    c("Less", "bcast", lambda x, y: tf.less(x, y), R(2, 3), R(3), tol=EXACT),
    c("GreaterEqual", "f32", lambda x, y: x >= y, R(5), R(), tol=EXACT),
    c("NotEqual", "f32", lambda x, y: tf.not_equal(x, y), R(3), R(3), tol=EXACT),
    c("LogicalAnd", "bool", lambda x, y: tf.logical_and(x, y), R(6, dtype=np.bool_),
      R(6, dtype=np.bool_), tol=EXACT),
    c("LogicalOr", "bcast", lambda x, y: tf.logical_or(x, y), R(2, 3, dtype=np.bool_),
      R(3, dtype=np.bool_), tol=EXACT),
    c("LogicalNot", "bool", lambda x: tf.logical_not(x), R(6, dtype=np.bool_), tol=EXACT),
    c("Floor", "f32", lambda x: tf.floor(x), R(8), tol=EXACT),
    c("Ceil", "f32", lambda x: tf.math.ceil(x), R(8), tol=EXACT),
    c("Round", "half-even", lambda x: tf.round(x), np.array([0.5, 1.5, 2.5, -0.5, -1.7, 3.2], f32),
      tol=EXACT),
    c("Sign", "f32", lambda x: tf.sign(x), np.array([-2.0, 0.0, 3.0], f32), tol=EXACT),
    c("Sin", "f32", lambda x: tf.sin(x), R(6)),
    c("Cos", "f32", lambda x: tf.cos(x), R(6)),
    c("Erf", "f32", lambda x: tf.math.erf(x), R(6)),
    c("Log1p", "f32", lambda x: tf.math.log1p(x), R(6, low=-0.5, high=3)),
    c("Expm1", "f32", lambda x: tf.math.expm1(x), R(6)),
    c("Reciprocal", "f32", lambda x: tf.math.reciprocal(x), R(6, **POS)),
    c("IsFinite", "f32", lambda x: tf.math.is_finite(x / (x - x)), R(4), tol=EXACT),
    c("BatchMatMulV2", "bcast", lambda x, y: tf.matmul(x, y), R(2, 3, 4), R(4, 5),
      tol=ACCUMULATE),
    c("BatchMatMulV2", "adj", lambda x, y: tf.matmul(x, y, adjoint_a=True, adjoint_b=True),
      R(2, 1, 4, 3), R(3, 5, 4), tol=ACCUMULATE),
    c("LeakyRelu", "f32", lambda x: tf.nn.leaky_relu(x, 0.1), R(8)),
    c("Elu", "f32", lambda x: tf.nn.elu(x), R(8)),
    c("Selu", "f32", lambda x: tf.nn.selu(x), R(8)),
    c("Softplus", "f32", lambda x: tf.nn.softplus(x), R(8, low=-30, high=30)),
    c("Softsign", "f32", lambda x: tf.nn.softsign(x), R(8)),
    c("LogSoftmax", "2d", lambda x: tf.nn.log_softmax(x), R(3, 7), tol=ACCUMULATE),
    c("All", "axis", lambda x: tf.reduce_all(x, 1), R(4, 3, dtype=np.bool_), tol=EXACT),
    c("Any", "keep", lambda x: tf.reduce_any(x, 0, keepdims=True), R(4, 3, dtype=np.bool_),
      tol=EXACT),
    c("ArgMax", "axis1", lambda x: tf.argmax(x, 1), R(3, 6), tol=EXACT),
    c("ArgMax", "ties-i32", lambda x: tf.argmax(x, 0, output_type=tf.int32),
      R(5, 2, dtype=i32, low=0, high=2), tol=EXACT),
    c("ArgMin", "axis0", lambda x: tf.argmin(x, 0), R(4, 3), tol=EXACT),
    c("Pack", "axis1", lambda x, y: tf.stack([x, y], 1), R(2, 3), R(2, 3), tol=EXACT),
    c("Pack", "scalars", lambda x: tf.stack([x, x * 2.0, x]), R(), tol=EXACT),
    c("Unpack", "axis-1", lambda x: tf.unstack(x, axis=-1), R(2, 3), tol=EXACT),
    c("Split", "three", lambda x: tf.split(x, 3, axis=1), R(2, 6), tol=EXACT),
    c("SplitV", "infer", lambda x: tf.split(x, [1, -1, 2], axis=0), R(6, 2), tol=EXACT),
    c("Slice", "size-minus-1", lambda x: tf.slice(x, [1, 0], [-1, 2]), R(4, 3), tol=EXACT),
    c("StridedSlice", "basic", lambda x: x[1:3, ::2], R(4, 5), tol=EXACT),
    c("StridedSlice", "negative", lambda x: x[::-1, -2], R(4, 5), tol=EXACT),
    c("StridedSlice", "ellipsis-newaxis", lambda x: x[..., tf.newaxis, 1:], R(2, 3, 4), tol=EXACT),
    c("StridedSlice", "neg-stride-bounds", lambda x: x[3:0:-2, 1:-1], R(5, 4), tol=EXACT),
    c("StridedSlice", "shape-index", lambda x: tf.reshape(x, [tf.shape(x)[0] * 2, -1]),
      R(3, 4), tol=EXACT),
    c("Pad", "f32", lambda x: tf.pad(x, [[1, 0], [2, 3]]), R(2, 2), tol=EXACT),
    c("PadV2", "value", lambda x: tf.pad(x, [[0, 2]], constant_values=-1.5), R(3), tol=EXACT),
    c("Tile", "2d", lambda x: tf.tile(x, [2, 3]), R(2, 3), tol=EXACT),
    c("ReverseV2", "axes", lambda x: tf.reverse(x, [0, -1]), R(2, 3, 2), tol=EXACT),
    c("SelectV2", "bcast", lambda c_, x, y: tf.where(c_, x, y), R(3, 1, dtype=np.bool_), R(3, 4),
      R(4), tol=EXACT),
    c("Select", "rows", lambda c_, x, y: tf.compat.v1.where(c_, x, y), R(3, dtype=np.bool_),
      R(3, 2), R(3, 2), tol=EXACT),
    c("OneHot", "default", lambda x: tf.one_hot(x, 4), np.array([0, 3, 1, -1, 5], i32), tol=EXACT),
    c("OneHot", "axis0", lambda x: tf.one_hot(x, 3, on_value=5, off_value=-1, axis=0),
      np.array([[0, 2], [1, 1]], i64), tol=EXACT),
    c("BroadcastTo", "f32", lambda x: tf.broadcast_to(x, [2, 3, 4]), R(3, 1), tol=EXACT),
    c("Range", "reshape", lambda x: x + tf.range(2, 11, 3), R(3, dtype=i32), tol=EXACT),
    c("ShapeN", "two", lambda x, y: raw.ShapeN(input=[x, y]), R(2, 3), R(4), tol=EXACT),
    c("FusedBatchNormV3", "nhwc", lambda x: tf.compat.v1.nn.fused_batch_norm(
        x, const([1.0, 2.0, 0.5]), const([0.1, -0.2, 0.3]), mean=const([0.5, -1.0, 0.0]),
        variance=const([1.0, 0.25, 4.0]), is_training=False)[0], R(2, 2, 2, 3)),
    c("FusedBatchNormV3", "nchw", lambda x: tf.compat.v1.nn.fused_batch_norm(
        x, const([1.0, 2.0]), const([0.1, -0.2]), mean=const([0.5, -1.0]),
        variance=const([1.0, 0.25]), is_training=False, data_format="NCHW")[0], R(2, 2, 3, 3)),
    c("ClipByValue", "scalars", lambda x: raw.ClipByValue(
        t=x, clip_value_min=const(-0.5), clip_value_max=const(1.0)), R(3, 4), tol=EXACT),
    c("GatherV2", "static", lambda x: tf.gather(x, [2, 0, 2], axis=1), R(2, 3), tol=EXACT),
    c("GatherV2", "dynamic", lambda x, i: tf.gather(x, i), R(5, 3), np.array([[4, 0], [1, 1]], i32),
      tol=EXACT),
    c("GatherV2", "dynamic-axis1", lambda x, i: tf.gather(x, i, axis=1), R(2, 4, 3),
      np.array([3, 0], i64), tol=EXACT),
    c("Concat", "v1", lambda x, y: raw.Concat(concat_dim=const(1), values=[x, y]), R(2, 1),
      R(2, 2), tol=EXACT),
]


#: The first supported op set; every one needs at least two cases above.
FIRST_OP_SET = """
    Placeholder PlaceholderWithDefault Const Identity IdentityN NoOp StopGradient Add AddV2
    AddN Sub Mul RealDiv Maximum Minimum Neg Abs Exp Log Tanh Sigmoid Relu Relu6 Sqrt Rsqrt
    Square MatMul BiasAdd Softmax Reshape Transpose Cast Sum Mean Max Min Prod Squeeze
    ExpandDims ConcatV2 Shape Size Rank Fill ZerosLike OnesLike
""".split()


@pytest.mark.parametrize("case", CASES + EXTRA_CASES, ids=lambda k: k.id)
def test_op_matches_tensorflow(case):
    check_case(case)


def test_every_first_set_op_has_two_cases():
    counts = Counter(k.op for k in CASES)
    assert {op for op in FIRST_OP_SET if counts[op] < 2} == set()
    assert set(FIRST_OP_SET) <= set(supported_ops())


# -- module structure ------------------------------------------------------------------


def test_module_signature_and_metadata():
    x, y = rand((2, 3)), rand((3,))
    case = run_tf(lambda a, b: [tf.nn.relu(a + b, name="out"), tf.identity(b, name="same")],
                  [x, y], names=["a", "b"])
    module = lower_case(case)
    params = module.entry.parameters
    assert [p.shape.dims for p in params] == [(2, 3), (3,)]
    assert [p.metadata for p in params] == [{"op_type": "Placeholder", "op_name": "a"},
                                            {"op_type": "Placeholder", "op_name": "b"}]
    root = module.entry.root
    assert root.opcode == "tuple" and len(root.operands) == 2
    assert root.operands[0].metadata == {"op_type": "Relu", "op_name": "out"}
    assert {"op_type": "AddV2", "op_name": "add"} in [i.metadata for i in module.entry.instructions]


def test_single_fetch_is_still_a_tuple():
    case = run_tf(lambda a: tf.exp(a), [rand((2,))])
    module = lower_case(case)
    assert module.entry.root.opcode == "tuple"
    (got,) = evaluate(module, *case.inputs)
    np.testing.assert_allclose(got, case.expected[0], rtol=1e-6)


def test_feed_order_follows_config_and_fetch_of_a_feed():
    x, y = rand((2,)), rand((3,))
    case = run_tf(lambda a, b: [b * 2.0, a], [x, y], names=["a", "b"])
    graph = parse_graph_def(case.graph_def)
    module = lower(prune(graph, make_config(["b", "a"], case.fetches)))
    assert [p.shape.dims for p in module.entry.parameters] == [(3,), (2,)]
    got = evaluate(module, y, x)
    np.testing.assert_allclose(got[0], y * 2.0, rtol=1e-6)
    np.testing.assert_array_equal(got[1], x)  # a fetched feed passes straight through


def test_placeholder_with_default_can_be_fed():
    graph = tf.Graph()
    with graph.as_default():
        pwd = tf.compat.v1.placeholder_with_default(tf.constant([1.0, 2.0]), [2], name="pwd")
        tf.multiply(pwd, 3.0, name="out")
    gd = parse_graph_def(graph.as_graph_def().SerializeToString())
    fed = lower(prune(gd, make_config(["pwd"], [("out", 0)])))
    assert len(fed.entry.parameters) == 1
    (got,) = evaluate(fed, np.array([5.0, -1.0], np.float32))
    np.testing.assert_array_equal(got, [15.0, -3.0])
    unfed = lower(prune(gd, make_config([], [("out", 0)])))
    assert unfed.entry.parameters == []
    np.testing.assert_array_equal(evaluate(unfed)[0], [3.0, 6.0])


def test_feeding_an_intermediate_tensor_skips_its_producer():
    case = run_tf(lambda a: tf.identity(tf.exp(a, name="e") * 2.0, name="out"), [rand((3,))])
    graph = parse_graph_def(case.graph_def)
    config = make_config(["e"], [("out", 0)])
    config.feed[0].type = 1  # DT_FLOAT: the type of a non-placeholder feed must be given
    config.feed[0].shape.dim.add().size = 3
    module = lower(prune(graph, config))
    assert "exponential" not in [i.opcode for i in module.entry.instructions]
    value = np.array([1.0, 2.0, 3.0], np.float32)
    np.testing.assert_array_equal(evaluate(module, value)[0], value * 2.0)


def test_omitted_default_attrs_use_tf_defaults():
    # Graphs saved with stripped default attrs lack e.g. Shape's out_type and MatMul's
    # transpose flags.
    case = run_tf(lambda x, y: [raw.Shape(input=x), tf.matmul(x, y)], [rand((2, 3)), rand((3, 2))])
    graph = parse_graph_def(case.graph_def)
    for node in graph.node:
        for attr in ("out_type", "transpose_a", "transpose_b"):
            if attr in node.attr:
                del node.attr[attr]
    shape, prod = evaluate(lower(prune(graph, make_config(case.feeds, case.fetches))),
                           *case.inputs)
    assert_matches(shape, case.expected[0], EXACT, "Shape")
    assert_matches(prod, case.expected[1], ACCUMULATE, "MatMul")


# -- errors ----------------------------------------------------------------------------


def test_unsupported_ops_are_all_listed_at_once():
    # Ops outside the tf2xla inference set, which aotc covers whole.
    def build(x, k):
        a = raw.MatrixSquareRoot(input=x)
        b = raw.MatrixSquareRoot(input=a)
        c = raw.Lu(input=b).lu
        return raw.RandomGamma(shape=[2], alpha=c + k[0])

    # A well-conditioned symmetric positive-definite x: TensorFlow itself must run the
    # graph (a random x made Lu fail on a singular square root, depending on test order).
    x = np.eye(3, dtype=np.float32) * 4 + np.full((3, 3), 0.5, np.float32)
    case = run_tf(build, [x, rand((3, 3, 3))])
    with pytest.raises(UnsupportedOpsError) as info:
        lower_case(case)
    assert info.value.ops == {"MatrixSquareRoot": ["MatrixSquareRoot", "MatrixSquareRoot_1"],
                              "Lu": ["Lu"], "RandomGamma": ["RandomGamma"]}
    assert "Lu" in str(info.value) and "RandomGamma" in str(info.value)


def test_non_constant_shape_input_names_the_node():
    case = run_tf(lambda x, s: tf.reshape(x, s, name="resh"),
                  [rand((6,)), np.array([2, 3], np.int32)])
    with pytest.raises(FrontendError, match=r"node 'resh' \(Reshape\): shape input must be a "
                                            r"constant"):
        lower_case(case)


def test_incompatible_broadcast_names_the_node():
    graph = tf.Graph()
    with graph.as_default():
        # Shapes unknown to TF at graph time, fixed by the Config's feed shapes.
        a = tf.compat.v1.placeholder(tf.float32, None, name="a")
        b = tf.compat.v1.placeholder(tf.float32, None, name="b")
        tf.add(a, b, name="sum")
    gd = parse_graph_def(graph.as_graph_def().SerializeToString())
    config = make_config(["a", "b"], [("sum", 0)])
    for feed, dims in zip(config.feed, [(2, 3), (4,)]):
        for d in dims:
            feed.shape.dim.add().size = d
    with pytest.raises(FrontendError, match=r"node 'sum' \(AddV2\).*broadcast"):
        lower(prune(gd, config))
