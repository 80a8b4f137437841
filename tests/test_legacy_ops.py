"""Op versions and attributes that TF1-era frozen graphs use, against TensorFlow.

FusedBatchNorm V1/V2 (freeze_graph output of tf.layers.batch_normalization with
fused=True), BiasAddV1 (TF 0.x/1.x bias_add), BiasAdd, Conv2D, DepthwiseConv2dNative and
pooling with NCHW data_format (graphs trained on GPUs), ResizeBilinear and
ResizeNearestNeighbor with align_corners (TF1's default in tf.image.resize_*), Select with
a vector condition over rows (TF1's tf.where), Concat with the axis first (TF 0.x),
BatchMatMul V1, and BatchNormWithGlobalNormalization (GraphDef versions before 9: the 2015
Inception v3 graph). Each in three configurations or more, on the HLO evaluator.

TensorFlow's CPU kernels do not run NCHW convolutions and pooling; those cases take
TensorFlow's answer from the NHWC op between transposes (`tf_graphs.run_tf_nchw`).

Tolerances: EXACT for data movement and max pooling; 1e-6 for elementwise math; 1e-5
for sums (convolutions, average pooling, matmuls, interpolation).
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)

from tf_graphs import (  # noqa: E402
    ACCUMULATE, ELEMENTWISE, EXACT, R, TFCase, assert_matches, c, check_case, rand, run_aotc,
    run_tf_nchw,
)

raw = tf.raw_ops
f32, i32 = np.float32, np.int32


def const(values, dtype=tf.float32):
    return tf.constant(np.asarray(values), dtype)


def _batch_norm(op, fmt="NHWC", epsilon=1e-4, channels=3):
    """Inference batch norm with random constant statistics (built in the test's graph)."""
    def build(x):
        rng = np.random.default_rng(channels)
        scale, offset, mean = (const(rng.uniform(-1.5, 1.5, channels)) for _ in range(3))
        variance = const(rng.uniform(0.2, 3.0, channels))
        return getattr(raw, op)(x=x, scale=scale, offset=offset, mean=mean, variance=variance,
                                epsilon=epsilon, data_format=fmt, is_training=False)[0]
    return build


CASES = [
    c("FusedBatchNorm", "nhwc", _batch_norm("FusedBatchNorm"), R(2, 3, 2, 3)),
    c("FusedBatchNorm", "nchw-eps", _batch_norm("FusedBatchNorm", "NCHW", 1e-3, 4),
      R(2, 4, 3, 2)),
    c("FusedBatchNorm", "wide", _batch_norm("FusedBatchNorm", epsilon=1e-5, channels=8),
      R(1, 2, 5, 8, low=-10, high=10)),
    c("FusedBatchNormV2", "nhwc", _batch_norm("FusedBatchNormV2"), R(2, 2, 2, 3)),
    c("FusedBatchNormV2", "nchw", _batch_norm("FusedBatchNormV2", "NCHW", channels=2),
      R(3, 2, 2, 4)),
    c("FusedBatchNormV2", "eps", _batch_norm("FusedBatchNormV2", epsilon=0.01, channels=5),
      R(1, 4, 4, 5)),
    c("BiasAddV1", "matrix", lambda x, b: raw.BiasAddV1(value=x, bias=b), R(4, 3), R(3)),
    c("BiasAddV1", "rank4", lambda x, b: raw.BiasAddV1(value=x, bias=b), R(2, 3, 2, 5), R(5)),
    c("BiasAddV1", "rank3-i32", lambda x, b: raw.BiasAddV1(value=x, bias=b),
      R(2, 3, 4, dtype=i32), R(4, dtype=i32), tol=EXACT),
    c("BiasAdd", "nchw-rank3", lambda x, b: tf.nn.bias_add(x, b, data_format="NCHW"),
      R(2, 4, 5), R(4)),
    c("BiasAdd", "nchw-rank5", lambda x, b: tf.nn.bias_add(x, b, data_format="NCHW"),
      R(1, 3, 2, 2, 2), R(3)),
    c("BiasAdd", "nchw-rank4", lambda x, b: tf.nn.bias_add(x, b, data_format="NCHW"),
      R(3, 2, 1, 4), R(2)),
    c("ResizeBilinear", "align-up", lambda x: raw.ResizeBilinear(
        images=x, size=[5, 7], align_corners=True), R(2, 3, 4, 2), tol=ACCUMULATE),
    c("ResizeBilinear", "align-down", lambda x: raw.ResizeBilinear(
        images=x, size=[3, 2], align_corners=True), R(1, 6, 5, 3), tol=ACCUMULATE),
    c("ResizeBilinear", "align-mixed-int", lambda x: raw.ResizeBilinear(
        images=x, size=[2, 9], align_corners=True), R(1, 4, 3, 1, dtype=i32, low=-50, high=50),
      tol=ACCUMULATE),
    c("ResizeNearestNeighbor", "align-up", lambda x: raw.ResizeNearestNeighbor(
        images=x, size=[7, 5], align_corners=True), R(1, 3, 2, 2), tol=EXACT),
    c("ResizeNearestNeighbor", "align-down", lambda x: raw.ResizeNearestNeighbor(
        images=x, size=[2, 3], align_corners=True), R(2, 5, 7, 1), tol=EXACT),
    c("ResizeNearestNeighbor", "align-same", lambda x: raw.ResizeNearestNeighbor(
        images=x, size=[4, 4], align_corners=True), R(1, 4, 4, 3), tol=EXACT),
    c("Select", "vector-cond-rows", lambda p, x, y: raw.Select(condition=p, x=x, y=y),
      R(4, dtype=np.bool_), R(4, 3), R(4, 3), tol=EXACT),
    c("Select", "vector-cond-rank3", lambda p, x, y: raw.Select(condition=p, x=x, y=y),
      R(2, dtype=np.bool_), R(2, 3, 2, dtype=i32), R(2, 3, 2, dtype=i32), tol=EXACT),
    c("Select", "scalar-cond", lambda p, x, y: raw.Select(condition=p, x=x, y=y),
      np.array(False), R(3, 2), R(3, 2), tol=EXACT),
    c("Concat", "axis0", lambda x, y: raw.Concat(concat_dim=const(0, tf.int32), values=[x, y]),
      R(2, 3), R(1, 3), tol=EXACT),
    c("Concat", "axis-last-three", lambda x, y: raw.Concat(
        concat_dim=const(-1, tf.int32), values=[x, y, x]), R(2, 2, 1), R(2, 2, 3), tol=EXACT),
    c("Concat", "i32", lambda x, y: raw.Concat(concat_dim=const(1, tf.int32), values=[x, y]),
      R(3, 1, dtype=i32), R(3, 2, dtype=i32), tol=EXACT),
    c("BatchMatMul", "rank3", lambda x, y: raw.BatchMatMul(x=x, y=y), R(3, 2, 4), R(3, 4, 5),
      tol=ACCUMULATE),
    c("BatchMatMul", "adj-both", lambda x, y: raw.BatchMatMul(x=x, y=y, adj_x=True, adj_y=True),
      R(2, 4, 3), R(2, 5, 4), tol=ACCUMULATE),
    c("BatchMatMul", "rank4", lambda x, y: raw.BatchMatMul(x=x, y=y), R(2, 2, 3, 4),
      R(2, 2, 4, 1), tol=ACCUMULATE),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_legacy_op_matches_tensorflow(case):
    check_case(case)


def _kernel(shape, seed):
    return tf.constant(rand(shape, rng=np.random.default_rng(seed)))


def _nhwc(fmt, values):
    """A 4-vector attr given in NHWC order, in `fmt` order."""
    n, h, w, c_ = values
    return [n, c_, h, w] if fmt == "NCHW" else list(values)


#: (id, fmt -> (x -> y), input shape in NCHW, tolerance)
NCHW_CASES = [
    ("Conv2D-valid", lambda fmt: lambda x: raw.Conv2D(
        input=x, filter=_kernel((2, 2, 3, 4), 1), padding="VALID", data_format=fmt,
        strides=_nhwc(fmt, [1, 1, 1, 1])), (2, 3, 5, 4), ACCUMULATE),
    ("Conv2D-same-stride", lambda fmt: lambda x: raw.Conv2D(
        input=x, filter=_kernel((3, 3, 2, 3), 2), padding="SAME", data_format=fmt,
        strides=_nhwc(fmt, [1, 2, 2, 1])), (1, 2, 7, 6), ACCUMULATE),
    ("Conv2D-explicit", lambda fmt: lambda x: raw.Conv2D(
        input=x, filter=_kernel((3, 1, 2, 2), 3), padding="EXPLICIT", data_format=fmt,
        strides=_nhwc(fmt, [1, 1, 2, 1]),  # pad 2 above, 1 below, 1 right
        explicit_paddings=sum(_nhwc(fmt, [[0, 0], [2, 1], [0, 1], [0, 0]]), [])),
     (2, 2, 4, 3), ACCUMULATE),
    ("DepthwiseConv2dNative-same", lambda fmt: lambda x: raw.DepthwiseConv2dNative(
        input=x, filter=_kernel((3, 3, 2, 2), 4), padding="SAME", data_format=fmt,
        strides=_nhwc(fmt, [1, 1, 1, 1])), (1, 2, 5, 5), ACCUMULATE),
    ("DepthwiseConv2dNative-stride", lambda fmt: lambda x: raw.DepthwiseConv2dNative(
        input=x, filter=_kernel((2, 2, 3, 1), 5), padding="VALID", data_format=fmt,
        strides=_nhwc(fmt, [1, 2, 2, 1])), (2, 3, 6, 6), ACCUMULATE),
    ("DepthwiseConv2dNative-rect", lambda fmt: lambda x: raw.DepthwiseConv2dNative(
        input=x, filter=_kernel((2, 3, 1, 3), 6), padding="SAME", data_format=fmt,
        strides=_nhwc(fmt, [1, 3, 3, 1])), (1, 1, 7, 5), ACCUMULATE),
    ("MaxPool-valid", lambda fmt: lambda x: raw.MaxPool(
        input=x, padding="VALID", data_format=fmt, ksize=_nhwc(fmt, [1, 2, 2, 1]),
        strides=_nhwc(fmt, [1, 2, 2, 1])), (2, 3, 6, 4), EXACT),
    ("MaxPool-same-overlap", lambda fmt: lambda x: raw.MaxPool(
        input=x, padding="SAME", data_format=fmt, ksize=_nhwc(fmt, [1, 3, 3, 1]),
        strides=_nhwc(fmt, [1, 1, 1, 1])), (1, 2, 4, 5), EXACT),
    ("MaxPool-rect", lambda fmt: lambda x: raw.MaxPool(
        input=x, padding="SAME", data_format=fmt, ksize=_nhwc(fmt, [1, 1, 3, 1]),
        strides=_nhwc(fmt, [1, 1, 2, 1])), (2, 1, 3, 7), EXACT),
    ("AvgPool-valid", lambda fmt: lambda x: raw.AvgPool(
        value=x, padding="VALID", data_format=fmt, ksize=_nhwc(fmt, [1, 2, 2, 1]),
        strides=_nhwc(fmt, [1, 2, 2, 1])), (2, 3, 4, 6), ACCUMULATE),
    ("AvgPool-same-overlap", lambda fmt: lambda x: raw.AvgPool(
        value=x, padding="SAME", data_format=fmt, ksize=_nhwc(fmt, [1, 3, 3, 1]),
        strides=_nhwc(fmt, [1, 1, 1, 1])), (1, 2, 5, 4), ACCUMULATE),
    ("AvgPool-global", lambda fmt: lambda x: raw.AvgPool(
        value=x, padding="VALID", data_format=fmt, ksize=_nhwc(fmt, [1, 3, 5, 1]),
        strides=_nhwc(fmt, [1, 1, 1, 1])), (2, 4, 3, 5), ACCUMULATE),
]


@pytest.mark.parametrize("case_id, build, shape, tol", NCHW_CASES,
                         ids=[case[0] for case in NCHW_CASES])
def test_nchw_op_matches_tensorflow_nhwc(case_id, build, shape, tol):
    case = run_tf_nchw(build("NCHW"), build("NHWC"), rand(shape))
    assert case_id.split("-")[0] in case.op_types
    (got,) = run_aotc(case)
    assert_matches(got, case.expected[0], tol, case_id)



def _old_batch_norm_case(shape, scale_after: bool, epsilon: float) -> TFCase:
    """BatchNormWithGlobalNormalization in a GraphDef of producer version 8: TensorFlow
    builds no new graphs with the op, but still runs old ones."""
    from tensorflow.core.framework import graph_pb2, types_pb2

    rng = np.random.default_rng(len(shape))
    graph_def = graph_pb2.GraphDef()
    graph_def.versions.producer = 8
    x = graph_def.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = types_pb2.DT_FLOAT
    x.attr["shape"].shape.dim.extend(x.attr["shape"].shape.Dim(size=d) for d in shape)
    for name in "mvbg":
        low = 0.2 if name == "v" else -1.5
        node = graph_def.node.add(name=name, op="Const")
        node.attr["dtype"].type = types_pb2.DT_FLOAT
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(
            rng.uniform(low, 1.5, shape[-1]).astype(f32)))
    bn = graph_def.node.add(name="bn", op="BatchNormWithGlobalNormalization",
                            input=["x", "m", "v", "b", "g"])
    bn.attr["T"].type = types_pb2.DT_FLOAT
    bn.attr["variance_epsilon"].f = epsilon
    bn.attr["scale_after_normalization"].b = scale_after
    inputs = [rand(shape)]
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        expected = sess.run("bn:0", {"x:0": inputs[0]})
    return TFCase(graph_def.SerializeToString(), ["x"], [("bn", 0)], inputs, [expected],
                  {n.op for n in graph_def.node})


@pytest.mark.parametrize("shape, scale_after, epsilon",
                         [((2, 3, 3, 4), True, 1e-3), ((1, 2, 2, 3), False, 1e-5),
                          ((3, 1, 4, 6), True, 0.1)], ids=["scaled", "unscaled", "wide-eps"])
def test_batch_norm_with_global_normalization_matches_tensorflow(shape, scale_after, epsilon):
    case = _old_batch_norm_case(shape, scale_after, epsilon)
    (got,) = run_aotc(case)
    assert_matches(got, case.expected[0], ELEMENTWISE, "BatchNormWithGlobalNormalization")
