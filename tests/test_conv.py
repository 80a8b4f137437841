"""Convolution and reduce-window, from the IR to TensorFlow ops.

- IR: HLO text round trips and XLA-written text, shape inference errors, and the NumPy
  evaluator against a naive per-element reference written independently here.
- CPU backend against the evaluator: many window/padding/dilation/group/layout/dtype
  configurations batched into a few compiled modules (compiles are the slow part), plus a
  convolution inside a fusion (the elemental path).
- TF lowerings against TensorFlow: Conv2D, DepthwiseConv2dNative, Conv2DBackpropInput,
  Conv3D, Conv3DBackpropInputV2, MaxPool, MaxPoolV2, MaxPool3D, AvgPool, AvgPool3D,
  Cumsum, each on several shapes and attributes, evaluated with the HLO evaluator; NCHW
  graphs against TensorFlow's NHWC op between transposes; user errors name node and op.

Tolerances: windowed sums of f32 products differ from TensorFlow's and from NumPy's
only in summation order, so rtol=atol=1e-5 on values of magnitude <= ~50; maxima are
exact; f16 results are compared at f16 resolution (rtol=atol=2e-3).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from aotc.hlo import Builder, Shape, parse_module, print_module, scalar_computation
from aotc.hlo.evaluation import evaluate
from aotc.hlo.shape_rules import ShapeError
from aotc.hlo.parser import HloParseError
from aotc.hlo.verifier import verify
from aotc.hlo.window import ConvDimensionNumbers, WindowDim, make_window
from compiled import check_compiled as compile_and_compare  # compiled vs. evaluator

SUM_TOL = dict(rtol=1e-5, atol=1e-5)
F16_TOL = dict(rtol=2e-3, atol=2e-3)

_rng = np.random.default_rng(20240611)


def _random(dtype, shape, low=-2.0, high=2.0):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return _rng.integers(-5, 6, size=shape).astype(dtype)
    return _rng.uniform(low, high, size=shape).astype(dtype)


# =========================================================================================
# Naive references: one output element at a time, straight from XLA's definitions
# =========================================================================================


def _base_index(out_position, tap, dim: WindowDim, base_size):
    """The operand index window tap `tap` of `out_position` reads, or None (padding/hole)."""
    dilated = out_position * dim.stride + tap * dim.window_dilation - dim.padding_low
    if dilated < 0 or dilated % dim.base_dilation:
        return None
    index = dilated // dim.base_dilation
    return index if index < base_size else None


def naive_convolution(lhs, rhs, window, labels: str, groups=1, out_dtype=None):
    dn = ConvDimensionNumbers.from_labels(labels)
    n = dn.num_spatial
    out_features = rhs.shape[dn.kernel_output_feature]
    group_inputs = rhs.shape[dn.kernel_input_feature]
    out_spatial = [window[s].output_size(lhs.shape[dn.input_spatial[s]]) for s in range(n)]
    out_shape = [0] * (n + 2)
    out_shape[dn.output_batch] = lhs.shape[dn.input_batch]
    out_shape[dn.output_feature] = out_features
    for s in range(n):
        out_shape[dn.output_spatial[s]] = out_spatial[s]
    out = np.zeros(out_shape, np.float64)
    for index in np.ndindex(*out_shape):
        o = index[dn.output_feature]
        group = o // (out_features // groups)
        total = 0.0
        for taps in itertools.product(*[range(w.size) for w in window]):
            positions = [_base_index(index[dn.output_spatial[s]], taps[s], window[s],
                                     lhs.shape[dn.input_spatial[s]]) for s in range(n)]
            if None in positions:
                continue
            for i in range(group_inputs):
                l_index, r_index = [0] * (n + 2), [0] * (n + 2)
                l_index[dn.input_batch] = index[dn.output_batch]
                l_index[dn.input_feature] = group * group_inputs + i
                r_index[dn.kernel_input_feature], r_index[dn.kernel_output_feature] = i, o
                for s in range(n):
                    l_index[dn.input_spatial[s]] = positions[s]
                    r_index[dn.kernel_spatial[s]] = taps[s]
                total += float(lhs[tuple(l_index)]) * float(rhs[tuple(r_index)])
        out[index] = total
    return out.astype(out_dtype or lhs.dtype)


def naive_reduce_window(x, init, window, fn):
    out_shape = [w.output_size(n) for w, n in zip(window, x.shape)]
    out = np.empty(out_shape, x.dtype)
    for index in np.ndindex(*out_shape):
        acc = init
        for taps in itertools.product(*[range(w.size) for w in window]):
            position = [_base_index(i, t, w, n) for i, t, w, n in zip(index, taps, window, x.shape)]
            if None not in position:
                acc = fn(acc, x[tuple(position)])
        out[index] = acc
    return out


# Convolution configurations: (name, lhs shape, rhs shape, window, labels, groups).
CONV_CONFIGS = [
    ("nhwc-3x3-same", (2, 5, 6, 3), (3, 3, 3, 4), make_window([3, 3], None, [(1, 1), (1, 1)]),
     "b01f_01io->b01f", 1),
    ("stride2-odd-pad", (1, 7, 6, 2), (3, 2, 2, 3),
     make_window([3, 2], [2, 2], [(0, 1), (1, 0)]), "b01f_01io->b01f", 1),
    ("rhs-dilation", (2, 7, 7, 2), (3, 3, 2, 2),
     make_window([3, 3], [1, 2], [(2, 2), (1, 0)], None, [2, 2]), "b01f_01io->b01f", 1),
    ("lhs-dilation", (1, 3, 4, 2), (3, 3, 2, 3),
     make_window([3, 3], None, [(2, 2), (1, 2)], [2, 3]), "b01f_01io->b01f", 1),
    ("negative-pad", (1, 6, 6, 2), (2, 2, 2, 2),
     make_window([2, 2], [1, 2], [(-1, 0), (0, -2)]), "b01f_01io->b01f", 1),
    ("1x1-stride-gt-kernel", (2, 7, 5, 3), (1, 1, 3, 5), make_window([1, 1], [3, 2]),
     "b01f_01io->b01f", 1),
    ("depthwise", (2, 5, 5, 4), (3, 3, 1, 4), make_window([3, 3], [2, 2], [(1, 1), (1, 1)]),
     "b01f_01io->b01f", 4),
    ("depthwise-multiplier", (1, 4, 5, 3), (3, 3, 1, 6), make_window([3, 3], None, [(1, 1), (1, 1)]),
     "b01f_01io->b01f", 3),
    ("grouped", (1, 4, 4, 6), (2, 2, 3, 4), make_window([2, 2]), "b01f_01io->b01f", 2),
    ("nchw-oihw", (2, 3, 5, 6), (4, 3, 3, 3), make_window([3, 3], [1, 2], [(1, 1), (0, 2)]),
     "bf01_oi01->bf01", 1),
    ("permuted-labels", (3, 4, 5, 4), (3, 3, 2, 2), make_window([3, 2], None, [(1, 0), (0, 1)]),
     "f0b1_i0o1->1fb0", 1),
    ("conv1d", (2, 9, 3), (4, 3, 2), make_window([4], [2], [(2, 1)], None, [2]), "b0f_0io->b0f", 1),
    ("conv3d", (1, 4, 3, 5, 2), (2, 2, 3, 2, 3),
     make_window([2, 2, 3], [1, 2, 1], [(1, 0), (0, 1), (1, 1)]), "b012f_012io->b012f", 1),
    ("size-1-dims", (1, 1, 1, 1), (1, 1, 1, 1), make_window([1, 1]), "b01f_01io->b01f", 1),
]

# Reduce-window configurations: (name, shape, window, reducer opcode, init).
REDUCE_WINDOW_CONFIGS = [
    ("maxpool-2x2", (2, 4, 6, 3), make_window([1, 2, 2, 1], [1, 2, 2, 1]), "maximum", -np.inf),
    ("maxpool-same", (1, 5, 7, 2), make_window([1, 3, 3, 1], [1, 2, 2, 1],
                                               [(0, 0), (1, 1), (1, 1), (0, 0)]), "maximum", -np.inf),
    ("sum-dilated", (2, 7, 6), make_window([1, 2, 3], [1, 1, 2], [(0, 0), (1, 2), (0, 1)],
                                           [1, 2, 1], [1, 2, 1]), "add", 0.0),
    ("non-identity-init", (3, 5), make_window([2, 3], [1, 1], [(1, 1), (2, 0)]), "add", 1.5),
    ("cumsum-window", (4, 6), make_window([1, 6], None, [(0, 0), (5, 0)]), "add", 0.0),
    ("negative-pad", (6, 5), make_window([2, 2], [2, 1], [(-1, 1), (0, -1)]), "minimum", np.inf),
]


def _conv_module(configs, dtype="f32"):
    b = Builder(f"conv_{dtype}")
    outs = []
    for name, lhs, rhs, window, labels, groups in configs:
        x = b.parameter(Shape.array(dtype, lhs), f"{name}.lhs")
        w = b.parameter(Shape.array(dtype, rhs), f"{name}.rhs")
        outs.append(b.convolution(x, w, window, labels, feature_group_count=groups))
    return b.module(b.tuple(outs))


def _reduce_window_module(configs, dtype="f32"):
    b = Builder(f"reduce_window_{dtype}")
    outs = []
    for name, shape, window, opcode, init in configs:
        x = b.parameter(Shape.array(dtype, shape), f"{name}.x")
        t = b.constant(init, dtype)
        outs.append(b.reduce_window(x, t, window, scalar_computation(opcode, dtype)))
    return b.module(b.tuple(outs))


def _conv_args(configs, dtype):
    return [a for _, lhs, rhs, *_ in configs for a in (_random(dtype, lhs), _random(dtype, rhs))]


# =========================================================================================
# IR: text, shapes, verifier
# =========================================================================================


def test_text_round_trip_of_every_configuration():
    for module in (_conv_module(CONV_CONFIGS), _reduce_window_module(REDUCE_WINDOW_CONFIGS)):
        text = print_module(module)
        assert print_module(parse_module(text)) == text
    text = print_module(_conv_module(CONV_CONFIGS))
    assert "window={size=3x3 pad=1_1x1_1}, dim_labels=b01f_01io->b01f" in text
    assert "window={size=3x3 pad=2_2x1_2 lhs_dilate=2x3}" in text
    assert "stride=1x2 pad=2_2x1_0 rhs_dilate=2x2" in text
    assert "pad=-1_0x0_-2" in text
    assert "dim_labels=f0b1_i0o1->1fb0" in text
    assert "feature_group_count=4" in text and "batch_group_count" not in text


def test_parses_xla_written_text():
    text = """
    HloModule xla_text
    %max (a: f32[], b: f32[]) -> f32[] {
      %a = f32[] parameter(0)
      %b = f32[] parameter(1)
      ROOT %m = f32[] maximum(f32[] %a, f32[] %b)
    }
    ENTRY %main (x: f32[1,3,8,8], k: f32[4,1,3,3]) -> (f32[1,4,4,4], f32[1,3,4,4]) {
      %x = f32[1,3,8,8]{3,2,1,0} parameter(0)
      %k = f32[4,1,3,3]{3,2,1,0} parameter(1)
      %conv = f32[1,4,4,4]{3,2,1,0} convolution(%x, %k), window={size=3x3 stride=2x2 pad=1_1x1_1 rhs_dilate=1x1}, dim_labels=bf01_oi01->bf01, feature_group_count=3, metadata={op_type="Conv2D"}
      %init = f32[] constant(-inf)
      %pool = f32[1,3,4,4]{3,2,1,0} reduce-window(%x, %init), window={size=1x1x2x2 stride=1x1x2x2}, to_apply=%max
      ROOT %t = (f32[1,4,4,4], f32[1,3,4,4]) tuple(%conv, %pool)
    }
    """
    with pytest.raises(HloParseError, match="output features \\(4\\) are not divisible"):
        parse_module(text)  # three groups cannot share four output features
    module = parse_module(text.replace("f32[4,1,3,3]", "f32[6,1,3,3]").replace(
        "f32[1,4,4,4]", "f32[1,6,4,4]"))
    verify(module)
    conv = module.entry.root.operands[0]
    assert conv.attrs["feature_group_count"] == 3 and conv.attrs["batch_group_count"] == 1
    assert conv.attrs["window"][0] == WindowDim(3, 2, 1, 1, 1, 1)
    assert str(conv.attrs["dim_labels"]) == "bf01_oi01->bf01"


@pytest.mark.parametrize("text, message", [
    ("window={size=3x3}, dim_labels=b01f_01io->b01f", "does not match the kernel"),
    ("window={size=2x2 stride=0x1}, dim_labels=b01f_01io->b01f", "stride 0 < 1"),
    ("window={size=2x2}, dim_labels=b01f_01io->b01f, batch_group_count=2", "batch_group_count"),
    ("window={size=2x2 pad=1_1}, dim_labels=b01f_01io->b01f", "window pad= has 1 dimensions"),
    ("window={size=2x2}, dim_labels=b01f_01oo->b01f", "must hold io"),
    ("window={size=2x2}", "needs attribute dim_labels"),
])
def test_parser_and_shape_errors(text, message):
    hlo = f"""
    ENTRY e {{
      x = f32[1,4,4,2] parameter(0)
      k = f32[2,2,2,3] parameter(1)
      ROOT c = f32[1,3,3,3] convolution(x, k), {text}
    }}"""
    with pytest.raises(HloParseError, match=message):
        parse_module(hlo)


def test_builder_shape_errors():
    b = Builder("bad")
    x = b.parameter(Shape.array("f32", [1, 4, 4, 6]))
    k = b.parameter(Shape.array("f32", [3, 3, 4, 8]))
    with pytest.raises(ShapeError, match="6 features but the kernel takes 4"):
        b.convolution(x, k, make_window([3, 3]), "b01f_01io->b01f")
    with pytest.raises(ShapeError, match="window has 3 dimensions"):
        b.reduce_window(x, b.constant(np.float32(0)), make_window([1, 1, 1]),
                        scalar_computation("add", "f32"))


# =========================================================================================
# Evaluator against the naive references
# =========================================================================================


@pytest.mark.parametrize("config", CONV_CONFIGS, ids=[c[0] for c in CONV_CONFIGS])
def test_evaluator_convolution(config):
    name, lhs_shape, rhs_shape, window, labels, groups = config
    lhs, rhs = _random(np.float32, lhs_shape), _random(np.float32, rhs_shape)
    (got,) = evaluate(_conv_module([config]), lhs, rhs)
    np.testing.assert_allclose(got, naive_convolution(lhs, rhs, window, labels, groups), **SUM_TOL)


def test_evaluator_convolution_integer_and_f16():
    config = CONV_CONFIGS[1]
    _, lhs_shape, rhs_shape, window, labels, groups = config
    lhs, rhs = _random(np.int32, lhs_shape), _random(np.int32, rhs_shape)
    (got,) = evaluate(_conv_module([config], "s32"), lhs, rhs)
    np.testing.assert_array_equal(got, naive_convolution(lhs, rhs, window, labels, groups))
    lhs, rhs = _random(np.float16, lhs_shape), _random(np.float16, rhs_shape)
    (got,) = evaluate(_conv_module([config], "f16"), lhs, rhs)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, naive_convolution(lhs, rhs, window, labels, groups), **F16_TOL)


_UFUNCS = {"add": np.add, "maximum": np.maximum, "minimum": np.minimum}


@pytest.mark.parametrize("config", REDUCE_WINDOW_CONFIGS, ids=[c[0] for c in REDUCE_WINDOW_CONFIGS])
def test_evaluator_reduce_window(config):
    name, shape, window, opcode, init = config
    x = _random(np.float32, shape)
    (got,) = evaluate(_reduce_window_module([config]), x)
    want = naive_reduce_window(x, np.float32(init), window, _UFUNCS[opcode])
    np.testing.assert_allclose(got, want, **SUM_TOL)


def test_evaluator_reduce_window_with_a_general_reducer():
    # max(acc, |x|): not a plain ufunc of the two parameters, so the batched path runs.
    b = Builder("general")
    acc = b.parameter(Shape.array("f32", []), "acc.g")
    x = b.parameter(Shape.array("f32", []), "x.g")
    b.binary("maximum", acc, b.unary("abs", x))
    reducer = b.build()
    m = Builder("rw")
    p = m.parameter(Shape.array("f32", [5, 4]))
    m.reduce_window(p, m.constant(np.float32(0)), make_window([2, 3], [1, 1], [(1, 0), (1, 1)]),
                    reducer)
    x = _random(np.float32, (5, 4))
    want = naive_reduce_window(x, np.float32(0), make_window([2, 3], [1, 1], [(1, 0), (1, 1)]),
                               lambda a, v: max(a, abs(v)))
    np.testing.assert_array_equal(evaluate(m.module(), x), want)


# =========================================================================================
# CPU backend against the evaluator
# =========================================================================================


def test_cpu_convolution_f32():
    module = _conv_module(CONV_CONFIGS)
    compile_and_compare(module, _conv_args(CONV_CONFIGS, np.float32), **SUM_TOL)


def test_cpu_convolution_other_types():
    # f64 takes the materializer; f16 and s32 the elemental loop.
    configs = [CONV_CONFIGS[i] for i in (1, 3, 7, 9)]
    compile_and_compare(_conv_module(configs, "f64"), _conv_args(configs, np.float64),
                    rtol=1e-12, atol=1e-12)
    compile_and_compare(_conv_module(configs, "f16"), _conv_args(configs, np.float16), **F16_TOL)
    compile_and_compare(_conv_module(configs, "s32"), _conv_args(configs, np.int32))


def test_cpu_reduce_window():
    f32 = _reduce_window_module(REDUCE_WINDOW_CONFIGS)
    compile_and_compare(f32, [_random(np.float32, c[1]) for c in REDUCE_WINDOW_CONFIGS], **SUM_TOL)
    ints = [c[:4] + (0,) for c in REDUCE_WINDOW_CONFIGS[:4]]
    compile_and_compare(_reduce_window_module(ints, "s32"), [_random(np.int32, c[1]) for c in ints])
    halves = REDUCE_WINDOW_CONFIGS[1:3]
    compile_and_compare(_reduce_window_module(halves, "f16"),
                    [_random(np.float16, c[1]) for c in halves], rtol=1e-3, atol=1e-3)


def test_cpu_convolution_inside_a_fusion():
    """The elemental rules (what fusion will use) for f32 convolution and reduce-window."""
    conv_config = CONV_CONFIGS[6]
    inner = Builder("fused")
    x = inner.parameter(Shape.array("f32", conv_config[1]), "fx")
    k = inner.parameter(Shape.array("f32", conv_config[2]), "fk")
    conv = inner.convolution(x, k, conv_config[3], conv_config[4], feature_group_count=4)
    pooled = inner.reduce_window(conv, inner.constant(np.float32(-np.inf)),
                                 make_window([1, 2, 2, 1], [1, 1, 1, 1], [(0, 0), (0, 1), (1, 0), (0, 0)]),
                                 scalar_computation("maximum", "f32"))
    fused = inner.build(inner.unary("tanh", pooled))
    b = Builder("with_fusion")
    px = b.parameter(Shape.array("f32", conv_config[1]), "x")
    pk = b.parameter(Shape.array("f32", conv_config[2]), "k")
    out = b.add("fusion", [px, pk], {"kind": "kLoop"}, called=[fused])
    module = b.module(b.tuple([out]))
    verify(module)
    compile_and_compare(module, [_random(np.float32, conv_config[1]), _random(np.float32, conv_config[2])],
                    **SUM_TOL)


# =========================================================================================
# TF lowerings against TensorFlow
# =========================================================================================

import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)
raw = tf.raw_ops

from aotc.frontend.errors import FrontendError  # noqa: E402
from tf_graphs import TFCase, parse_graph_def, rand, run_aotc, run_tf, run_tf_nchw  # noqa: E402


def _conv2d(x, shape, strides=1, padding="SAME", dilations=1, fmt="NHWC", **kw):
    spread = lambda v: [1, 1, v, v] if fmt == "NCHW" else [1, v, v, 1]  # noqa: E731
    return raw.Conv2D(input=x, filter=tf.constant(rand(shape)), strides=spread(strides),
                      padding=padding, dilations=spread(dilations), data_format=fmt, **kw)


def _depthwise(x, shape, strides=1, padding="SAME", dilations=1, **kw):
    return raw.DepthwiseConv2dNative(input=x, filter=tf.constant(rand(shape)),
                                     strides=[1, strides, strides, 1], padding=padding,
                                     dilations=[1, dilations, dilations, 1], **kw)


def _transposed(sizes, shape, strides, padding, dilations=1, **kw):
    return lambda g: raw.Conv2DBackpropInput(
        input_sizes=tf.constant(sizes), filter=tf.constant(rand(shape)), out_backprop=g,
        strides=[1, strides, strides, 1], padding=padding,
        dilations=[1, dilations, dilations, 1], **kw)


def _pool(op, k, s, padding, **kw):
    return lambda x: getattr(raw, op)(input=x, ksize=[1, *k, 1], strides=[1, *s, 1],
                                      padding=padding, **kw)


def _avg_pool(k, s, padding):
    return lambda x: raw.AvgPool(value=x, ksize=[1, *k, 1], strides=[1, *s, 1], padding=padding)


# (id, build, input shapes or arrays, tolerance)
TF_CASES = [
    ("Conv2D-3x3-same", lambda x: _conv2d(x, (3, 3, 3, 4)), [(2, 6, 5, 3)], SUM_TOL),
    ("Conv2D-valid-stride2", lambda x: _conv2d(x, (3, 2, 2, 3), 2, "VALID"), [(1, 7, 8, 2)], SUM_TOL),
    ("Conv2D-1x1-stride-gt-kernel", lambda x: _conv2d(x, (1, 1, 3, 5), 3, "SAME"), [(2, 7, 7, 3)],
     SUM_TOL),
    ("Conv2D-dilated-odd-same", lambda x: _conv2d(x, (3, 2, 2, 2), 1, "SAME", 2), [(1, 6, 7, 2)],
     SUM_TOL),
    ("Conv2D-explicit", lambda x: _conv2d(x, (2, 3, 2, 2), 2, "EXPLICIT",
                                          explicit_paddings=[0, 0, 1, 2, 0, 1, 0, 0]),
     [(1, 5, 6, 2)], SUM_TOL),
    ("Conv2D-grouped", lambda x: _conv2d(x, (3, 3, 2, 6), 1, "VALID"), [(2, 5, 5, 4)], SUM_TOL),
    ("Conv2D-size1", lambda x: _conv2d(x, (1, 1, 1, 1), 1, "SAME"), [(1, 1, 1, 1)], SUM_TOL),
    ("Conv2D-kernel-larger-than-input-same", lambda x: _conv2d(x, (5, 5, 2, 3), 2, "SAME"),
     [(1, 3, 2, 2)], SUM_TOL),
    ("DepthwiseConv2dNative-same", lambda x: _depthwise(x, (3, 3, 4, 1)), [(2, 6, 6, 4)], SUM_TOL),
    ("DepthwiseConv2dNative-multiplier-valid-stride2",
     lambda x: _depthwise(x, (3, 3, 3, 2), 2, "VALID"), [(1, 7, 6, 3)], SUM_TOL),
    ("DepthwiseConv2dNative-explicit",
     lambda x: _depthwise(x, (3, 3, 4, 2), 2, "EXPLICIT",
                          explicit_paddings=[0, 0, 1, 2, 0, 1, 0, 0]), [(1, 5, 5, 4)], SUM_TOL),
    ("Conv2DBackpropInput-same-stride2", _transposed([2, 8, 8, 3], (3, 3, 3, 4), 2, "SAME"),
     [(2, 4, 4, 4)], SUM_TOL),
    ("Conv2DBackpropInput-valid", _transposed([1, 6, 5, 2], (3, 2, 2, 3), 1, "VALID"),
     [(1, 4, 4, 3)], SUM_TOL),
    ("Conv2DBackpropInput-stride-gt-kernel", _transposed([1, 7, 8, 2], (2, 2, 2, 3), 3, "VALID"),
     [(1, 2, 3, 3)], SUM_TOL),
    ("Conv2DBackpropInput-explicit",
     _transposed([1, 5, 6, 2], (3, 3, 2, 2), 2, "EXPLICIT",
                 explicit_paddings=[0, 0, 1, 0, 0, 1, 0, 0]), [(1, 2, 3, 2)], SUM_TOL),
    ("Conv3D-same", lambda x: tf.nn.conv3d(x, rand((2, 3, 2, 2, 3)), [1] * 5, "SAME"),
     [(1, 4, 5, 3, 2)], SUM_TOL),
    ("Conv3D-valid-stride2", lambda x: tf.nn.conv3d(x, rand((2, 2, 2, 3, 2)), [1, 2, 1, 2, 1], "VALID"),
     [(2, 5, 3, 4, 3)], SUM_TOL),
    ("Conv3DBackpropInputV2-same-stride2",
     lambda g: raw.Conv3DBackpropInputV2(input_sizes=tf.constant([1, 4, 5, 3, 2]),
                                         filter=tf.constant(rand((2, 3, 2, 2, 3))), out_backprop=g,
                                         strides=[1, 2, 2, 1, 1], padding="SAME"),
     [(1, 2, 3, 3, 3)], SUM_TOL),
    ("MaxPool-2x2-valid", _pool("MaxPool", (2, 2), (2, 2), "VALID"), [(2, 6, 7, 3)], {}),
    ("MaxPool-3x3-stride2-same", _pool("MaxPool", (3, 3), (2, 2), "SAME"), [(1, 7, 6, 2)], {}),
    ("MaxPool-1x1-stride-gt-kernel", _pool("MaxPool", (1, 1), (2, 3), "VALID"), [(1, 5, 7, 2)], {}),
    ("MaxPool-explicit", _pool("MaxPool", (3, 3), (2, 2), "EXPLICIT",
                               explicit_paddings=[0, 0, 1, 2, 0, 1, 0, 0]), [(1, 5, 5, 2)], {}),
    ("MaxPool-int32", _pool("MaxPool", (2, 3), (1, 2), "SAME"), [rand((1, 4, 5, 2), np.int32, -9, 9)],
     {}),
    ("MaxPool-over-depth", lambda x: raw.MaxPool(input=x, ksize=[1, 1, 1, 2], strides=[1, 1, 1, 2],
                                                 padding="VALID"), [(1, 3, 3, 4)], {}),
    ("MaxPoolV2-same", lambda x: raw.MaxPoolV2(input=x, ksize=tf.constant([1, 3, 2, 1]),
                                               strides=tf.constant([1, 2, 2, 1]), padding="SAME"),
     [(2, 5, 5, 3)], {}),
    ("MaxPool3D-same", lambda x: tf.nn.max_pool3d(x, [2, 2, 2], [2, 1, 2], "SAME"),
     [(1, 5, 4, 3, 2)], {}),
    ("AvgPool-2x2-valid", _avg_pool((2, 2), (2, 2), "VALID"), [(2, 6, 7, 3)], SUM_TOL),
    ("AvgPool-3x3-stride2-same", _avg_pool((3, 3), (2, 2), "SAME"), [(1, 7, 6, 2)], SUM_TOL),
    ("AvgPool-3x3-same-odd", _avg_pool((3, 3), (1, 1), "SAME"), [(1, 5, 7, 2)], SUM_TOL),
    ("AvgPool-f16", _avg_pool((2, 3), (2, 2), "SAME"), [rand((1, 5, 5, 2), np.float16)], F16_TOL),
    ("AvgPool3D-same", lambda x: tf.nn.avg_pool3d(x, [2, 3, 2], [1, 2, 2], "SAME"),
     [(1, 4, 5, 3, 2)], SUM_TOL),
    ("Cumsum-axis0", lambda x: tf.cumsum(x, 0), [(5, 3)], SUM_TOL),
    ("Cumsum-exclusive", lambda x: tf.cumsum(x, 1, exclusive=True), [(2, 6, 3)], SUM_TOL),
    ("Cumsum-reverse", lambda x: tf.cumsum(x, -1, reverse=True), [(2, 3, 7)], SUM_TOL),
    ("Cumsum-exclusive-reverse", lambda x: tf.cumsum(x, 1, exclusive=True, reverse=True),
     [(3, 5)], SUM_TOL),
    ("Cumsum-int32-size1-axis", lambda x: tf.cumsum(x, 0), [rand((1, 4), np.int32, -9, 9)], {}),
    ("Cumsum-int32-exclusive", lambda x: tf.cumsum(x, 1, exclusive=True),
     [rand((2, 5), np.int32, -9, 9)], {}),
]


def _inputs(specs):
    return [s if isinstance(s, np.ndarray) else rand(s) for s in specs]


def _compare(got, expected, tol):
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        if tol:
            np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), **tol)
        else:
            np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("case_id, build, specs, tol", TF_CASES, ids=[c[0] for c in TF_CASES])
def test_tf_op_against_tensorflow(case_id, build, specs, tol):
    case = run_tf(build, _inputs(specs))
    assert case_id.split("-")[0] in case.op_types
    _compare(run_aotc(case), case.expected, tol)


def _zero_dilated(kernel: np.ndarray, rates) -> np.ndarray:
    """`kernel` with rate-1 zeros between its taps along its leading spatial axes: the
    undilated convolution with it is the dilated convolution with `kernel`."""
    shape = [(k - 1) * r + 1 for k, r in zip(kernel.shape, rates)] + list(kernel.shape[len(rates):])
    out = np.zeros(shape, kernel.dtype)
    out[tuple(slice(None, None, r) for r in rates)] = kernel
    return out


# (op, build(x, kernel, spatial dilations), kernel shape, input shape, dilations)
DILATED_CASES = [
    ("DepthwiseConv2dNative", lambda x, k, d: raw.DepthwiseConv2dNative(
        input=x, filter=k, strides=[1] * 4, padding="SAME", dilations=[1, *d, 1]),
     (3, 3, 2, 1), (1, 7, 7, 2), (2, 2)),
    ("Conv2DBackpropInput", lambda g, k, d: raw.Conv2DBackpropInput(
        input_sizes=tf.constant([1, 5, 5, 4]), filter=k, out_backprop=g, strides=[1] * 4,
        padding="SAME", dilations=[1, *d, 1]),
     (3, 3, 4, 2), (1, 5, 5, 2), (2, 2)),
    ("Conv3D", lambda x, k, d: raw.Conv3D(input=x, filter=k, strides=[1] * 5, padding="SAME",
                                          dilations=[1, *d, 1]),
     (2, 2, 2, 2, 3), (1, 5, 4, 3, 2), (2, 2, 1)),
]


@pytest.mark.parametrize("op, build, kernel_shape, shape, rates", DILATED_CASES,
                         ids=[c[0] + "-dilated" for c in DILATED_CASES])
def test_dilated_conv_against_tensorflow(op, build, kernel_shape, shape, rates):
    """Dilated convolutions. TensorFlow's own CPU kernels run these only through oneDNN
    (on AVX-512 hosts), so TensorFlow's answer comes from the undilated op with a
    zero-dilated kernel, which computes the same sums; aotc compiles the dilated op."""
    x = rand(shape)
    kernel = rand(kernel_shape, rng=np.random.default_rng(3))
    reference = run_tf(lambda t: build(t, tf.constant(_zero_dilated(kernel, rates)),
                                       [1] * len(rates)), [x])
    graph = tf.Graph()
    with graph.as_default():
        placeholder = tf.compat.v1.placeholder(tf.float32, x.shape, name="in0")
        out = build(placeholder, tf.constant(kernel), list(rates))
    op_types = {o.type for o in graph.get_operations()}
    assert op in op_types
    case = TFCase(graph.as_graph_def().SerializeToString(), ["in0"], [(out.op.name, 0)], [x],
                  reference.expected, op_types)
    _compare(run_aotc(case), case.expected, SUM_TOL)


def _kernel(shape, seed):
    return tf.constant(rand(shape, rng=np.random.default_rng(seed)))


NCHW_CASES = [
    ("Conv2D", lambda fmt: lambda x: raw.Conv2D(
        input=x, filter=_kernel((3, 2, 3, 4), 1), padding="SAME", data_format=fmt,
        strides=[1, 1, 2, 1] if fmt == "NCHW" else [1, 2, 1, 1],
        dilations=[1, 1, 1, 2] if fmt == "NCHW" else [1, 1, 2, 1]), (2, 3, 6, 5)),
    ("DepthwiseConv2dNative", lambda fmt: lambda x: raw.DepthwiseConv2dNative(
        input=x, filter=_kernel((3, 3, 3, 2), 2), padding="VALID", data_format=fmt,
        strides=[1, 1, 2, 2] if fmt == "NCHW" else [1, 2, 2, 1]), (1, 3, 7, 6)),
    ("MaxPool", lambda fmt: lambda x: raw.MaxPool(
        input=x, padding="SAME", data_format=fmt,
        ksize=[1, 1, 3, 3] if fmt == "NCHW" else [1, 3, 3, 1],
        strides=[1, 1, 2, 2] if fmt == "NCHW" else [1, 2, 2, 1]), (2, 3, 5, 6)),
    ("AvgPool", lambda fmt: lambda x: raw.AvgPool(
        value=x, padding="SAME", data_format=fmt,
        ksize=[1, 1, 3, 2] if fmt == "NCHW" else [1, 3, 2, 1],
        strides=[1, 1, 2, 2] if fmt == "NCHW" else [1, 2, 2, 1]), (1, 2, 5, 5)),
]


@pytest.mark.parametrize("op, build, shape", NCHW_CASES, ids=[c[0] for c in NCHW_CASES])
def test_nchw_against_tensorflow_nhwc(op, build, shape):
    case = run_tf_nchw(build("NCHW"), build("NHWC"), rand(shape))
    assert op in case.op_types
    _compare(run_aotc(case), case.expected, SUM_TOL)


def _with_attr(case: TFCase, op: str, name: str, set_value) -> TFCase:
    """`case` with attr `name` of its `op` node changed by set_value(AttrValue), for
    graphs TensorFlow refuses to build."""
    graph = parse_graph_def(case.graph_def)
    (node,) = [n for n in graph.node if n.op == op]
    set_value(node.attr[name])
    return TFCase(graph.SerializeToString(), case.feeds, case.fetches, case.inputs,
                  case.expected, case.op_types)


def _set_list(values):
    def set_value(attr):
        del attr.list.i[:]
        attr.list.i.extend(values)
    return set_value


def _set_string(text):
    def set_value(attr):
        attr.s = text.encode()
    return set_value


USER_ERRORS = [
    ("strides-on-batch", lambda x: _conv2d(x, (3, 3, 2, 2)), (1, 5, 5, 2), "Conv2D", "strides",
     _set_list([2, 1, 1, 1]), r"node 'Conv2D' \(Conv2D\): strides \[2, 1, 1, 1\] must be 1 in "
                              r"the batch and feature dimensions"),
    ("data-format", lambda x: _conv2d(x, (3, 3, 2, 2)), (1, 5, 5, 2), "Conv2D", "data_format",
     _set_string("NCHW_VECT_C"), r"attr 'data_format' of node 'Conv2D' \(Conv2D\) must be one of 'NHWC', "
     r"'NCHW', got 'NCHW_VECT_C'"),
    ("avgpool-explicit", _avg_pool((2, 2), (1, 1), "VALID"), (1, 4, 4, 1), "AvgPool", "padding",
     _set_string("EXPLICIT"), r"attr 'padding' of node 'AvgPool' \(AvgPool\) must be one of "
                              r"'SAME', 'VALID', got 'EXPLICIT'"),
    ("explicit-on-batch", lambda x: _conv2d(x, (2, 2, 2, 2), 1, "EXPLICIT",
                                            explicit_paddings=[0] * 8),
     (1, 4, 4, 2), "Conv2D", "explicit_paddings", _set_list([1, 0, 0, 0, 0, 0, 0, 0]),
     r"explicit_paddings \[1, 0, 0, 0, 0, 0, 0, 0\] may only pad dimensions \[1, 2\]"),
    ("ksize-length", _pool("MaxPool", (2, 2), (1, 1), "VALID"), (1, 4, 4, 1), "MaxPool", "ksize",
     _set_list([1, 2, 2]), r"attr 'ksize' of node 'MaxPool' \(MaxPool\) must have at least 4 "
     r"elements, got 3"),
]


@pytest.mark.parametrize("case_id, build, shape, op, attr, set_value, message", USER_ERRORS,
                         ids=[e[0] for e in USER_ERRORS])
def test_user_errors_name_the_node_and_op(case_id, build, shape, op, attr, set_value, message):
    case = _with_attr(run_tf(build, [rand(shape)]), op, attr, set_value)
    with pytest.raises(FrontendError, match=message):
        run_aotc(case)


def test_transposed_conv_needs_constant_input_sizes():
    case = run_tf(lambda g, sizes: raw.Conv2DBackpropInput(
        input_sizes=sizes, filter=tf.constant(rand((2, 2, 1, 1))), out_backprop=g,
        strides=[1, 1, 1, 1], padding="VALID", name="deconv"),
        [rand((1, 3, 3, 1)), np.array([1, 4, 4, 1], np.int32)])
    with pytest.raises(FrontendError, match=r"node 'deconv' \(Conv2DBackpropInput\): "
                                            r"input_sizes input must be a constant"):
        run_aotc(case)
