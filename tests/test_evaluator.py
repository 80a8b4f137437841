"""The NumPy reference evaluator against independent NumPy expressions and XLA's corner cases."""

import math

import numpy as np
import pytest

from aotc.hlo import OPCODES, Builder, Shape, from_numpy, scalar_computation
from aotc.hlo.evaluation import (
    EVALUATORS, EvaluationError, evaluate, evaluate_computation, evaluate_instruction,
)

# A rule that lets a NumPy warning escape (overflow, invalid, divide) fails its test.
pytestmark = pytest.mark.filterwarnings("error")

S32_MIN, S32_MAX = np.iinfo(np.int32).min, np.iinfo(np.int32).max
RNG = np.random.default_rng(0)


def run_op(opcode, *args, **attrs):
    """Evaluate a one-instruction module applying `opcode` to parameters holding `args`."""
    b = Builder()
    params = [b.parameter(Shape(from_numpy(a.dtype), a.shape)) for a in args]
    b.add(opcode, params, attrs)
    return evaluate(b.module(), *args)


def f32(*values):
    return np.array(values, np.float32)


def s32(*values):
    return np.array(values, np.int32)


# -- registry and checking -------------------------------------------------------------------


def test_every_opcode_has_a_rule():
    assert set(EVALUATORS) == set(OPCODES)


def test_wrong_rule_is_caught(monkeypatch):
    monkeypatch.setitem(EVALUATORS, "negate", lambda inst, ops: -ops[0].astype(np.float64))
    with pytest.raises(EvaluationError, match="expected f32"):
        run_op("negate", f32(1, 2))


def test_argument_checks():
    b = Builder()
    b.parameter(Shape.array("f32", [2]), "x")
    module = b.module()
    with pytest.raises(ValueError, match="x expects f32"):
        evaluate(module, np.zeros(2, np.float64))
    with pytest.raises(ValueError, match="shape"):
        evaluate(module, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="takes 1 arguments"):
        evaluate(module)
    np.testing.assert_array_equal(evaluate(module, [1.0, 2.0]), f32(1, 2))  # Python lists convert


def test_evaluate_instruction_folds_constants():
    b = Builder()
    x, y = b.constant(f32(1, 2)), b.constant(f32(3, 4))
    add = b.binary("add", x, y)
    out = evaluate_instruction(add, [x.attrs["literal"], y.attrs["literal"]])
    np.testing.assert_array_equal(out, f32(4, 6))
    assert out.dtype == np.float32
    with pytest.raises(EvaluationError, match="parameter"):
        evaluate_instruction(Builder().parameter(Shape.array("f32", [])), [])


# -- unary ---------------------------------------------------------------------------------

FLOAT_UNARY = {
    "abs": np.abs, "negate": np.negative, "exponential": np.exp, "exponential-minus-one": np.expm1,
    "log": np.log, "log-plus-one": np.log1p, "tanh": np.tanh, "sqrt": np.sqrt,
    "rsqrt": lambda x: 1 / np.sqrt(x), "cbrt": np.cbrt, "floor": np.floor, "ceil": np.ceil,
    "round-nearest-even": np.rint, "sign": np.sign, "sine": np.sin, "cosine": np.cos,
    "tan": np.tan, "logistic": lambda x: 1 / (1 + np.exp(-x)),
    "erf": np.vectorize(math.erf), "erfc": np.vectorize(math.erfc),
}


@pytest.mark.parametrize("opcode", sorted(FLOAT_UNARY))
def test_float_unary(opcode):
    x = RNG.uniform(0.05, 3.0, size=(3, 4)).astype(np.float32)
    if opcode not in ("log", "log-plus-one", "sqrt", "rsqrt"):
        x[0] *= -1
    out = run_op(opcode, x)
    assert out.dtype == np.float32 and out.shape == (3, 4)
    expected = FLOAT_UNARY[opcode](x.astype(np.float64))
    np.testing.assert_allclose(out, expected, rtol=2e-6, atol=1e-7)


def test_f16_math_in_f32_rounded_once():
    x = np.linspace(-4, 4, 33).astype(np.float16)
    out = run_op("exponential", x)
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, np.exp(x.astype(np.float32)).astype(np.float16))


def test_rounding_modes():
    x = f32(2.5, -2.5, 0.5, -0.5, 1.5, 0.49999997, -0.3, np.inf, np.nan)
    afz = run_op("round-nearest-afz", x)
    np.testing.assert_array_equal(afz, f32(3, -3, 1, -1, 2, 0, -0.0, np.inf, np.nan))
    assert np.signbit(afz[6])
    np.testing.assert_array_equal(run_op("round-nearest-even", x),
                                  f32(2, -2, 0, -0.0, 2, 0, -0.0, np.inf, np.nan))


def test_logistic_is_stable_at_extremes():
    out = run_op("logistic", f32(-1000, -100, 0, 100, 1000))
    np.testing.assert_allclose(out, f32(0, 3.720076e-44, 0.5, 1, 1), rtol=1e-5, atol=0)


def test_sign_keeps_signed_zero_and_nan():
    out = run_op("sign", f32(-3, -0.0, 0.0, 2, np.nan))
    np.testing.assert_array_equal(out, f32(-1, -0.0, 0.0, 1, np.nan))
    assert np.signbit(out[1]) and not np.signbit(out[2])
    np.testing.assert_array_equal(run_op("sign", s32(-5, 0, 7)), s32(-1, 0, 1))


def test_not_and_is_finite():
    np.testing.assert_array_equal(run_op("not", np.array([True, False])), [False, True])
    np.testing.assert_array_equal(run_op("not", s32(0, -1, 5)), s32(-1, 0, -6))
    np.testing.assert_array_equal(run_op("is-finite", f32(1, np.inf, -np.inf, np.nan)),
                                  [True, False, False, False])


# -- binary --------------------------------------------------------------------------------

FLOAT_BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "maximum": np.maximum, "minimum": np.minimum, "power": np.power, "remainder": np.fmod,
    "atan2": np.arctan2,
}


@pytest.mark.parametrize("opcode", sorted(FLOAT_BINARY))
def test_float_binary(opcode):
    x = RNG.uniform(-3, 3, size=(2, 5)).astype(np.float32)
    y = (RNG.uniform(0.5, 2, size=(2, 5)) * [1, -1, 1, -1, 1]).astype(np.float32)
    if opcode == "power":
        x = np.abs(x)
    out = run_op(opcode, x, y)
    assert out.dtype == np.float32
    expected = FLOAT_BINARY[opcode](x.astype(np.float64), y.astype(np.float64))
    np.testing.assert_allclose(out, expected, rtol=2e-6, atol=1e-6)


def test_float_remainder_has_dividend_sign():
    np.testing.assert_array_equal(run_op("remainder", f32(7, -7, 7, -7), f32(3, 3, -3, -3)),
                                  f32(1, -1, 1, -1))


def test_integer_division_corner_cases():
    x = s32(7, -7, 7, -7, 5, S32_MIN, S32_MIN, 0)
    y = s32(2, 2, -2, -2, 0, -1, 0, 0)
    np.testing.assert_array_equal(run_op("divide", x, y), s32(3, -3, -3, 3, -1, S32_MIN, -1, -1))
    np.testing.assert_array_equal(run_op("remainder", x, y), s32(1, -1, 1, -1, 5, 0, S32_MIN, 0))
    u = np.array([7, 200], np.uint8)
    np.testing.assert_array_equal(run_op("divide", u, np.array([0, 3], np.uint8)), [255, 66])


def test_integer_power():
    out = run_op("power", s32(2, 3, -2, 1, -1, 2, 0), s32(10, 3, 3, -1, -2, -1, 0))
    np.testing.assert_array_equal(out, s32(1024, 27, -8, 1, 0, 0, 1))
    np.testing.assert_array_equal(run_op("power", np.array([3], np.int8), np.array([5], np.int8)),
                                  np.array([-13], np.int8))  # 243 wraps


def test_integer_arithmetic_wraps():
    np.testing.assert_array_equal(run_op("add", s32(S32_MAX), s32(1)), s32(S32_MIN))
    np.testing.assert_array_equal(run_op("abs", s32(S32_MIN)), s32(S32_MIN))


def test_shifts_past_width():
    x, y = s32(1, -8, -8, 1, -1, 3), s32(31, 1, 40, 32, -1, 0)
    np.testing.assert_array_equal(run_op("shift-left", x, y), s32(S32_MIN, -16, 0, 0, 0, 3))
    np.testing.assert_array_equal(run_op("shift-right-arithmetic", x, y),
                                  s32(0, -4, -1, 0, -1, 3))
    np.testing.assert_array_equal(run_op("shift-right-logical", x, y),
                                  s32(0, 0x7FFFFFFC, 0, 0, 0, 3))
    u, amounts = np.array([0x80, 0x80, 0x80], np.uint8), np.array([1, 7, 9], np.uint8)
    np.testing.assert_array_equal(run_op("shift-right-arithmetic", u, amounts),
                                  np.array([0xC0, 0xFF, 0xFF], np.uint8))


def test_bitwise_ops():
    x, y = s32(0b1100, -1), s32(0b1010, 5)
    np.testing.assert_array_equal(run_op("and", x, y), x & y)
    np.testing.assert_array_equal(run_op("or", x, y), x | y)
    np.testing.assert_array_equal(run_op("xor", x, y), x ^ y)
    p, q = np.array([True, True, False]), np.array([True, False, False])
    np.testing.assert_array_equal(run_op("and", p, q), p & q)
    np.testing.assert_array_equal(run_op("or", p, q), p | q)


@pytest.mark.parametrize("direction,fn", [("EQ", np.equal), ("NE", np.not_equal),
                                          ("LT", np.less), ("LE", np.less_equal),
                                          ("GT", np.greater), ("GE", np.greater_equal)])
def test_compare_follows_ieee(direction, fn):
    x, y = f32(1, 2, np.nan, np.nan, -0.0), f32(2, 2, 1, np.nan, 0.0)
    out = run_op("compare", x, y, direction=direction)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out, fn(x, y))


def test_select_and_clamp():
    p = np.array([True, False, True])
    np.testing.assert_array_equal(run_op("select", p, f32(1, 2, 3), f32(4, 5, 6)), f32(1, 5, 3))
    np.testing.assert_array_equal(run_op("clamp", s32(0, 0, 0), s32(-5, 3, 9), s32(4, 4, 4)),
                                  s32(0, 3, 4))


# -- convert -------------------------------------------------------------------------------


def convert(x, to):
    b = Builder()
    b.convert(b.parameter(Shape(from_numpy(x.dtype), x.shape)), to)
    return evaluate(b.module(), x)


def test_convert_float_to_int_saturates():
    x = f32(np.nan, np.inf, -np.inf, 3e9, -3e9, 2.9, -2.9, 2147483520.0)
    np.testing.assert_array_equal(convert(x, "s32"),
                                  s32(0, S32_MAX, S32_MIN, S32_MAX, S32_MIN, 2, -2, 2147483520))
    np.testing.assert_array_equal(convert(f32(-1.5, 300, 255.9, np.nan), "u8"), [0, 255, 255, 0])
    big = np.array([1e19, -1e19, 2.0**62], np.float64)
    np.testing.assert_array_equal(convert(big, "s64"), np.array(
        [np.iinfo(np.int64).max, np.iinfo(np.int64).min, 2**62], np.int64))


def test_convert_other_kinds():
    assert convert(f32(0, -0.0, np.nan, 2), "pred").tolist() == [False, False, True, True]
    np.testing.assert_array_equal(convert(s32(200, -129), "s8"), np.array([-56, 127], np.int8))
    out = convert(s32(16777217, -3), "f32")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, f32(16777216, -3))
    assert convert(np.array([1e300], np.float64), "f32")[0] == np.inf


# -- leaves and data movement --------------------------------------------------------------


def test_iota():
    b = Builder()
    b.iota(Shape.array("f32", [2, 3]), 1)
    np.testing.assert_array_equal(evaluate(b.module()), np.tile(f32(0, 1, 2), (2, 1)))


def test_broadcast_with_nontrivial_dimensions():
    x = np.arange(8, dtype=np.int32).reshape(2, 4)
    b = Builder()
    b.broadcast(b.parameter(Shape.array("s32", [2, 4])), [2, 3, 4], [0, 2])
    out = evaluate(b.module(), x)
    np.testing.assert_array_equal(out, np.broadcast_to(x[:, None, :], (2, 3, 4)))


def test_reshape_ignores_layout():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = Builder()
    b.reshape(b.parameter(Shape.array("f32", [2, 3], layout=(0, 1))), [3, 2])
    np.testing.assert_array_equal(evaluate(b.module(), x), x.reshape(3, 2))


def test_transpose_reverse_slice_concatenate():
    x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    np.testing.assert_array_equal(run_op("transpose", x, dimensions=(2, 0, 1)),
                                  x.transpose(2, 0, 1))
    np.testing.assert_array_equal(run_op("reverse", x, dimensions=(0, 2)), x[::-1, :, ::-1])
    np.testing.assert_array_equal(run_op("slice", x, slice=((1, 2, 1), (0, 3, 2), (1, 4, 2))),
                                  x[1:2, 0:3:2, 1:4:2])
    y = np.arange(6, dtype=np.int32).reshape(2, 3, 1)
    np.testing.assert_array_equal(run_op("concatenate", x, y, dimensions=(2,)),
                                  np.concatenate([x, y], axis=2))


def test_pad_negative_and_interior():
    x = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    out = run_op("pad", x, np.float32(-1), padding=((1, -1, 1), (-1, 2, 2)))
    # Independent construction: interior padding, then edges, then cropping.
    inner = np.full((3, 7), -1, np.float32)
    inner[::2, ::3] = x
    full = np.full((4, 9), -1, np.float32)
    full[1:4, 0:7] = inner
    np.testing.assert_array_equal(out, full[:3, 1:])


# -- dot -----------------------------------------------------------------------------------


def test_dot_matmul():
    x = RNG.standard_normal((4, 5)).astype(np.float32)
    y = RNG.standard_normal((5, 3)).astype(np.float32)
    out = run_op("dot", x, y, lhs_contracting_dims=(1,), rhs_contracting_dims=(0,))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, x.astype(np.float64) @ y, rtol=1e-5, atol=1e-5)


def test_dot_general_batch_and_two_contracting_dims():
    x = RNG.standard_normal((3, 2, 4, 5)).astype(np.float32)  # k1, b, m, k2
    y = RNG.standard_normal((5, 2, 6, 3)).astype(np.float32)  # k2, b, n, k1
    out = run_op("dot", x, y, lhs_batch_dims=(1,), rhs_batch_dims=(1,),
                 lhs_contracting_dims=(0, 3), rhs_contracting_dims=(3, 0))
    expected = np.einsum("pbmq,qbnp->bmn", x.astype(np.float64), y.astype(np.float64))
    assert out.shape == (2, 4, 6)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_dot_integer_wraps_and_f16():
    x = np.full((2, 3), 100, np.int8)
    out = run_op("dot", x, x.T.copy(), lhs_contracting_dims=(1,), rhs_contracting_dims=(0,))
    np.testing.assert_array_equal(out, np.full((2, 2), 48, np.int8))  # 30000 mod 256
    h = RNG.standard_normal((3, 8)).astype(np.float16)
    out = run_op("dot", h, h, lhs_contracting_dims=(1,), rhs_contracting_dims=(1,))
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, (h.astype(np.float32) @ h.T.astype(np.float32))
                                  .astype(np.float16))


# -- reduce --------------------------------------------------------------------------------


def reduce_module(x, init, dims, reducer):
    b = Builder()
    p = b.parameter(Shape.array("f32", x.shape))
    b.reduce(p, b.constant(np.float32(init)), dims, reducer)
    return evaluate(b.module(), x)


def test_reduce_fast_paths_with_init():
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    out = reduce_module(x, 10, [0, 2], scalar_computation("add", "f32"))
    np.testing.assert_allclose(out, x.sum(axis=(0, 2), dtype=np.float64) + 10, rtol=1e-5)
    out = reduce_module(x, 0.5, [1], scalar_computation("maximum", "f32"))
    np.testing.assert_array_equal(out, np.maximum(x.max(axis=1), 0.5))
    out = reduce_module(np.zeros((0, 3), np.float32), -np.inf, [0],
                        scalar_computation("maximum", "f32"))
    np.testing.assert_array_equal(out, f32(-np.inf, -np.inf, -np.inf))


def sum_of_squares_reducer(with_detour):
    """acc + x * x; with_detour routes x through a reshape so the reducer is not batchable."""
    b = Builder("ssq")
    acc = b.parameter(Shape.array("f32", []))
    x = b.parameter(Shape.array("f32", []))
    if with_detour:
        x = b.reshape(b.reshape(x, [1]), [])
    b.binary("add", acc, b.binary("multiply", x, x))
    return b.build()


@pytest.mark.parametrize("with_detour", [False, True])
def test_reduce_general_reducer(with_detour):
    x = RNG.standard_normal((3, 4, 2)).astype(np.float32)
    out = reduce_module(x, 1, [0, 2], sum_of_squares_reducer(with_detour))
    np.testing.assert_allclose(out, (x.astype(np.float64) ** 2).sum(axis=(0, 2)) + 1, rtol=1e-5)


def last_element_reducer(with_detour):
    """(acc, x) -> x: associative but not commutative, so it exposes the reduction order."""
    b = Builder("last")
    b.parameter(Shape.array("f32", []))
    x = b.parameter(Shape.array("f32", []))
    b.build(b.reshape(b.reshape(x, [1]), []) if with_detour else x)
    return b.computation


@pytest.mark.parametrize("with_detour", [False, True])
@pytest.mark.parametrize("n", [0, 1, 7, 8])
def test_reduce_keeps_row_major_order(n, with_detour):
    x = RNG.standard_normal((2, n, 3)).astype(np.float32)
    out = reduce_module(x, 5, [1, 2], last_element_reducer(with_detour))
    np.testing.assert_array_equal(out, x[:, -1, -1] if n else f32(5, 5))


def test_variadic_reduce_argmax():
    r = Builder("argmax")
    av, ai = r.parameter(Shape.array("f32", [])), r.parameter(Shape.array("s32", []))
    v, i = r.parameter(Shape.array("f32", [])), r.parameter(Shape.array("s32", []))
    take = r.binary("or", r.compare(v, av, "GT"),
                    r.binary("and", r.compare(v, av, "EQ"), r.compare(i, ai, "LT")))
    r.tuple([r.select(take, v, av), r.select(take, i, ai)])
    reducer = r.build()

    x = RNG.standard_normal((3, 5)).astype(np.float32)
    x[1, 1] = x[1, 3] = 9  # tie: the lower index wins
    b = Builder()
    p = b.parameter(Shape.array("f32", [3, 5]))
    idx = b.iota(Shape.array("s32", [3, 5]), 1)
    b.add("reduce", [p, idx, b.constant(np.float32(-np.inf)), b.constant(np.int32(-1))],
          {"dimensions": (1,)}, called=[reducer])
    values, indices = evaluate(b.module(), x)
    np.testing.assert_array_equal(values, x.max(axis=1))
    np.testing.assert_array_equal(indices, x.argmax(axis=1).astype(np.int32))
    assert indices[1] == 1


# -- tuples and calls ----------------------------------------------------------------------


def vector_body():
    c = Builder("body")
    x, y = c.parameter(Shape.array("f32", [3])), c.parameter(Shape.array("f32", [3]))
    c.binary("multiply", c.binary("add", x, y), y)
    return c.build()


def test_tuple_and_get_tuple_element():
    b = Builder()
    x = b.parameter(Shape.array("f32", [2]))
    y = b.parameter(Shape.array("s32", []))
    t = b.tuple([x, y])
    b.tuple([b.get_tuple_element(t, 1), b.get_tuple_element(t, 0)])
    out = evaluate(b.module(), f32(1, 2), np.int32(7))
    assert isinstance(out, tuple) and out[0] == 7
    np.testing.assert_array_equal(out[1], f32(1, 2))


@pytest.mark.parametrize("opcode,attrs", [("call", {}), ("fusion", {"kind": "kLoop"})])
def test_call_and_fusion(opcode, attrs):
    body = vector_body()
    b = Builder()
    x, y = b.parameter(Shape.array("f32", [3])), b.parameter(Shape.array("f32", [3]))
    b.add(opcode, [x, y], attrs, called=[body])
    a, c = f32(1, 2, 3), f32(4, 5, 6)
    np.testing.assert_array_equal(evaluate(b.module(), a, c), (a + c) * c)
    np.testing.assert_array_equal(evaluate_computation(body, [a, c]), (a + c) * c)
