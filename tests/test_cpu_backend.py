"""The CPU backend against the NumPy evaluator: every opcode, several shapes and dtypes.

Each test builds a module with many results (LLVM compiles are the slow part, so ops are
batched), compiles it to an object, links a shared library, runs it through cffi and
compares every result with `aotc.hlo.evaluation.evaluate`.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from aotc.backends.cpu import default_triple
from aotc.hlo import Builder, Shape, scalar_computation

from compiled import ENTRY, Compiled, check_compiled as _check

_rng = np.random.default_rng(1234)


def _random(dtype: str, dims, low=-10, high=10):
    np_type = Shape.array(dtype, dims).element_type.np_dtype
    if np_type == np.bool_:
        return _rng.random(dims) < 0.5
    if np.issubdtype(np_type, np.integer):
        info = np.iinfo(np_type)
        return _rng.integers(max(info.min, -100), min(info.max, 100), dims, dtype=np_type, endpoint=True)
    return _rng.uniform(low, high, dims).astype(np_type)


SHAPES = [(), (1,), (7,), (3, 1, 5), (2, 33)]

# -- elementwise ------------------------------------------------------------------------------

UNARY_FLOAT = ["abs", "negate", "exponential", "exponential-minus-one", "log", "log-plus-one",
               "tanh", "logistic", "sqrt", "rsqrt", "cbrt", "floor", "ceil", "round-nearest-afz",
               "round-nearest-even", "sign", "sine", "cosine", "tan", "erf", "erfc", "copy",
               "is-finite"]
BINARY_FLOAT = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "power",
                "remainder", "atan2"]
UNARY_INT = ["abs", "negate", "sign", "not", "copy"]
BINARY_INT = ["add", "subtract", "multiply", "divide", "remainder", "maximum", "minimum", "and",
              "or", "xor", "shift-left", "shift-right-arithmetic", "shift-right-logical", "power"]
DOMAIN = {"log": (0.001, 50), "log-plus-one": (-0.999, 50), "sqrt": (0, 50), "rsqrt": (0.01, 50),
          "power": (0.01, 5)}


def _elementwise_module(dtype, dims, unary, binary, name):
    b = Builder(name)
    x = b.parameter(Shape.array(dtype, dims), "x")
    y = b.parameter(Shape.array(dtype, dims), "y")
    pos = b.parameter(Shape.array(dtype, dims), "pos")  # positive operand for domain-limited ops
    outs = []
    for op in unary:
        outs.append(b.unary(op, pos if op in DOMAIN else x))
    for op in binary:
        outs.append(b.binary(op, pos if op in DOMAIN else x, y))
    for direction in ("EQ", "NE", "LT", "LE", "GT", "GE"):
        outs.append(b.compare(x, y, direction))
    return b.module(b.tuple(outs))


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_float_elementwise(dtype):
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == "f32" else dict(rtol=1e-13, atol=1e-14)
    for dims in [(), (3, 1, 5), (2, 33)]:
        module = _elementwise_module(dtype, dims, UNARY_FLOAT, BINARY_FLOAT, f"ew_{dtype}")
        x, y = _random(dtype, dims), _random(dtype, dims)
        pos = _random(dtype, dims, 0.01, 5)
        y = np.where(np.abs(y) < 0.1, 0.5, y).astype(x.dtype)  # keep remainder well-conditioned
        _check(module, [x, y, pos], **tol)


def test_float_special_values():
    values = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5,
                       1e-30, -1e-30, 1e30, 88.0, -103.0, 700.0, 20.5, 1e-8, 3.0], np.float32)
    others = np.roll(values, 3)
    b = Builder("special")
    x = b.parameter(Shape.array("f32", values.shape))
    y = b.parameter(Shape.array("f32", values.shape))
    # Trigonometry reduces its argument accurately only for |x| < ~1e6 (no Payne-Hanek).
    huge = b.compare(b.unary("abs", x), b.broadcast(b.scalar(1e6, "f32"), values.shape, []), "GT")
    moderate = b.select(huge, b.broadcast(b.scalar(3.0, "f32"), values.shape, []), x)
    trig = ("sine", "cosine", "tan")
    outs = [b.unary(op, moderate if op in trig else x) for op in UNARY_FLOAT]
    outs += [b.binary(op, x, y) for op in ["maximum", "minimum", "power", "atan2", "remainder"]]
    module = b.module(b.tuple(outs))
    with np.errstate(all="ignore"):
        _check(module, [values, others], rtol=2e-6, atol=1e-37)


@pytest.mark.parametrize("dtype", ["s8", "s32", "s64", "u8", "u32"])
def test_integer_elementwise(dtype):
    dims = (4, 9)
    module = _elementwise_module(dtype, dims, UNARY_INT, BINARY_INT, f"int_{dtype}")
    x, y = _random(dtype, dims), _random(dtype, dims)
    y.flat[:5] = 0  # division by zero
    y.flat[5:8] = [3, 40, 7]  # shifts in and out of range
    shift = _random(dtype, dims)
    _check(module, [x, y, np.abs(shift) % 5])


def test_pred_ops_and_select_clamp():
    dims = (5, 3)
    b = Builder("pred")
    p = b.parameter(Shape.array("pred", dims))
    q = b.parameter(Shape.array("pred", dims))
    x = b.parameter(Shape.array("f32", dims))
    y = b.parameter(Shape.array("f32", dims))
    outs = [b.binary(op, p, q) for op in ("and", "or", "xor", "add", "multiply")]
    outs += [b.unary("not", p), b.select(p, x, y), b.clamp(b.broadcast(b.scalar(-1.0, "f32"), dims, []), x,
                                                           b.broadcast(b.scalar(2.0, "f32"), dims, []))]
    outs += [b.compare(p, q, "LT")]
    module = b.module(b.tuple(outs))
    _check(module, [_random("pred", dims), _random("pred", dims), _random("f32", dims), _random("f32", dims)])


def test_converts():
    dims = (3, 7)
    types = ["pred", "s8", "s32", "s64", "u8", "u32", "f16", "f32", "f64"]
    b = Builder("convert")
    params = {t: b.parameter(Shape.array(t, dims), t) for t in types}
    outs = [b.convert(params[s], t) for s in types for t in types if s != t]
    module = b.module(b.tuple(outs))
    args = []
    for t in types:
        a = _random(t, dims)
        if t in ("f32", "f64"):
            a = (_random(t, dims) * 40).astype(a.dtype)
            a.flat[:4] = [np.nan, 1e10, -1e10, -0.5]
        args.append(a)
    _check(module, args)


def test_bitcast_converts():
    # Equal widths elementwise; narrower targets add a minor dimension, wider ones take it.
    b = Builder("bitcast_convert")
    f = b.parameter(Shape.array("f32", (2, 3)), "f")
    u = b.parameter(Shape.array("u8", (3, 4)), "u")
    h = b.parameter(Shape.array("f16", (5,)), "h")
    d = b.parameter(Shape.array("f64", (2,)), "d")
    s = b.parameter(Shape.array("s16", (2, 4)), "s")
    outs = [b.bitcast_convert(f, "s32"), b.bitcast_convert(f, "u8"),
            b.bitcast_convert(f, "f16"), b.bitcast_convert(u, "f32"),
            b.bitcast_convert(h, "s16"), b.bitcast_convert(d, "u32"),
            b.bitcast_convert(d, "s8"), b.bitcast_convert(s, "f64"),
            b.bitcast_convert(b.bitcast_convert(d, "u16"), "f64"),
            b.bitcast_convert(b.scalar(1.5, "f32"), "u16")]
    module = b.module(b.tuple(outs))
    f_values = np.array([[1.0, -0.0, np.inf], [np.nan, 1e-45, -3.25]], np.float32)
    rng = np.random.default_rng(7)  # not the module's: later tests' draws stay as they were
    _check(module, [f_values, rng.integers(0, 256, (3, 4), dtype=np.uint8),
                    rng.uniform(-10, 10, 5).astype(np.float16), np.array([np.pi, -1e300]),
                    rng.integers(-2**15, 2**15, (2, 4), dtype=np.int16)])


def test_f32_remainder_is_exact():
    b = Builder("fmod")
    x = b.parameter(Shape.array("f32", (2000,)))
    y = b.parameter(Shape.array("f32", (2000,)))
    module = b.module(b.tuple([b.binary("remainder", x, y)]))
    exponents = _rng.integers(-60, 60, (2, 2000))
    x_values = (_rng.uniform(-1, 1, 2000) * 2.0 ** exponents[0]).astype(np.float32)
    y_values = (_rng.uniform(-1, 1, 2000) * 2.0 ** exponents[1]).astype(np.float32)
    x_values[:3] = [3.4e38, 1e-45, -7.0]
    y_values[:3] = [1e-45, 3e-39, np.inf]
    _check(module, [x_values, y_values])


def test_f16_round_trip():
    dims = (4, 5)
    b = Builder("half")
    x = b.parameter(Shape.array("f16", dims))
    y = b.parameter(Shape.array("f16", dims))
    outs = [b.binary(op, x, y) for op in ("add", "multiply", "divide", "maximum")]
    outs += [b.unary(op, x) for op in ("exponential", "tanh", "negate", "abs")]
    outs += [b.compare(x, y, "LT"), b.convert(x, "f32"), b.transpose(x, [1, 0])]
    r = b.reduce(x, b.scalar(0, "f16"), [1], scalar_computation("add", "f16"))
    d = b.dot(x, b.transpose(y, [1, 0]), lhs_contracting=[1], rhs_contracting=[0])
    module = b.module(b.tuple(outs + [r, d]))
    _check(module, [_random("f16", dims, -3, 3), _random("f16", dims, -3, 3)], rtol=1e-3, atol=1e-3)


# -- data movement ----------------------------------------------------------------------------


def test_data_movement():
    b = Builder("moves")
    x = b.parameter(Shape.array("s32", (2, 3, 4)))
    v = b.parameter(Shape.array("f32", (5,)))
    pad_value = b.scalar(-1, "s32")
    outs = [
        b.broadcast(v, (3, 5, 2), [1]),
        b.broadcast(b.scalar(7, "s32"), (2, 2), []),
        b.reshape(x, (4, 6)),
        b.reshape(b.transpose(x, [2, 0, 1]), (8, 3)),
        b.transpose(x, [2, 0, 1]),
        b.reverse(x, [0, 2]),
        b.slice(x, [0, 1, 0], [2, 3, 4], [1, 1, 2]),
        b.slice(x, [1, 0, 3], [2, 0, 4]),  # empty
        b.pad(x, pad_value, [(1, 0, 1), (0, 2, 0), (-1, 1, 2)]),
        b.concatenate([x, b.reverse(x, [1]), x], 1),
        b.iota(Shape.array("f32", (3, 4)), 1),
        b.iota(Shape.array("s64", (3, 4)), 0),
        b.reshape(v, (5, 1)),
        b.constant(np.arange(6, dtype=np.int32).reshape(2, 3)),
        b.add("add", [b.constant(np.arange(6, dtype=np.float32).reshape(2, 3)),
                      b.broadcast(b.slice(v, [0], [3]), (2, 3), [1])]),
    ]
    module = b.module(b.tuple(outs))
    compiled = _check(module, [_random("s32", (2, 3, 4)), _random("f32", (5,))])
    assert compiled.artifact.constant_bytes >= 6 * 4 * 2


def test_results_that_are_parameters_or_repeated():
    b = Builder("copies")
    x = b.parameter(Shape.array("f32", (3,)))
    y = b.unary("negate", x)
    module = b.module(b.tuple([x, y, y, b.scalar(2.0, "f32")]))
    _check(module, [_random("f32", (3,))])


# -- contractions and reductions ---------------------------------------------------------------


def test_dot():
    b = Builder("dots")
    a = b.parameter(Shape.array("f32", (17, 9)))
    c = b.parameter(Shape.array("f32", (9, 33)))
    batched_l = b.parameter(Shape.array("f64", (3, 4, 5)))
    batched_r = b.parameter(Shape.array("f64", (3, 6, 5)))
    ints = b.parameter(Shape.array("s32", (4, 6)))
    outs = [
        b.dot(a, c, lhs_contracting=[1], rhs_contracting=[0]),
        b.dot(c, a, lhs_contracting=[0], rhs_contracting=[1]),  # transposed product
        b.dot(batched_l, batched_r, lhs_batch=[0], rhs_batch=[0], lhs_contracting=[2],
              rhs_contracting=[2]),
        b.dot(ints, ints, lhs_contracting=[0], rhs_contracting=[0]),
        b.dot(b.slice(a, [0, 0], [1, 9]), b.slice(c, [0, 0], [9, 1]), lhs_contracting=[1],
              rhs_contracting=[0]),
        b.dot(b.slice(a, [0, 0], [3, 0]), b.slice(c, [0, 0], [0, 4]), lhs_contracting=[1],
              rhs_contracting=[0]),  # empty contraction: zeros
    ]
    module = b.module(b.tuple(outs))
    args = [_random("f32", (17, 9)), _random("f32", (9, 33)), _random("f64", (3, 4, 5)),
            _random("f64", (3, 6, 5)), _random("s32", (4, 6))]
    _check(module, args, rtol=1e-5, atol=1e-3)  # sums of 9 terms up to 100: absolute slack


def test_reduce():
    b = Builder("reduces")
    x = b.parameter(Shape.array("f32", (6, 7, 8)))
    i = b.parameter(Shape.array("s32", (5, 4)))
    add = scalar_computation("add", "f32")
    maximum = scalar_computation("maximum", "f32")
    outs = [
        b.reduce(x, b.scalar(0.0, "f32"), [2], add),
        b.reduce(x, b.scalar(0.0, "f32"), [0], add),
        b.reduce(x, b.scalar(1.0, "f32"), [0, 2], add),
        b.reduce(x, b.scalar(-np.inf, "f32"), [0, 1, 2], maximum),
        b.reduce(i, b.scalar(0, "s32"), [1], scalar_computation("add", "s32")),
        b.reduce(b.slice(x, [0, 0, 0], [6, 0, 8]), b.scalar(3.0, "f32"), [1], add),
    ]
    # Variadic argmax-style reduce: (value, index) pairs, and its elements as results.
    rb = Builder("argmax")
    v0, i0 = rb.parameter(Shape.array("f32", ())), rb.parameter(Shape.array("s32", ()))
    v1, i1 = rb.parameter(Shape.array("f32", ())), rb.parameter(Shape.array("s32", ()))
    take = rb.compare(v0, v1, "GE")
    rb.tuple([rb.select(take, v0, v1), rb.select(take, i0, i1)])
    argmax = rb.build()
    iota = b.iota(Shape.array("s32", (6, 7, 8)), 1)
    pair = b.add("reduce", [x, iota, b.scalar(-np.inf, "f32"), b.scalar(-1, "s32")],
                 {"dimensions": (1,)}, called=[argmax])
    outs += [b.get_tuple_element(pair, 0), b.get_tuple_element(pair, 1)]
    module = b.module(b.tuple(outs))
    _check(module, [_random("f32", (6, 7, 8)), _random("s32", (5, 4))], rtol=1e-5, atol=1e-5)


def test_call_and_fusion():
    # A fused computation: exp(p0 * broadcast(p1)) + transpose(p0) — one loop nest.
    fb = Builder("fused")
    p0 = fb.parameter(Shape.array("f32", (4, 4)))
    p1 = fb.parameter(Shape.array("f32", (4,)))
    prod = fb.binary("multiply", p0, fb.broadcast(p1, (4, 4), [1]))
    fb.binary("add", fb.unary("exponential", prod), fb.transpose(p0, [1, 0]))
    fused = fb.build()
    # A kInput fusion: a reduce of an elementwise expression.
    rb = Builder("fused_reduce")
    q0 = rb.parameter(Shape.array("f32", (4, 4)))
    rb.reduce(rb.binary("multiply", q0, q0), rb.scalar(0.0, "f32"), [1], scalar_computation("add", "f32"))
    fused_reduce = rb.build()

    b = Builder("calls")
    x = b.parameter(Shape.array("f32", (4, 4)))
    y = b.parameter(Shape.array("f32", (4,)))
    f = b.add("fusion", [x, y], {"kind": "kLoop"}, called=[fused])
    g = b.add("fusion", [x], {"kind": "kInput"}, called=[fused_reduce])
    c = b.call(fused, [f, y])
    module = b.module(b.tuple([f, g, c]))
    _check(module, [_random("f32", (4, 4), -1, 1), _random("f32", (4,), -1, 1)], rtol=2e-6, atol=1e-6)


# -- object files -----------------------------------------------------------------------------


def _small_module():
    b = Builder("small")
    x = b.parameter(Shape.array("f32", (8,)))
    outs = [b.unary(op, x) for op in UNARY_FLOAT if op not in ("is-finite",)]
    outs += [b.binary(op, x, x) for op in ("power", "atan2", "remainder")]
    return b.module(b.tuple(outs))


def test_no_libm_references():
    compiled = Compiled(_small_module())
    if shutil.which("nm") is None:
        pytest.skip("nm not available")
    out = subprocess.run(["nm", "-u", str(compiled.object_path)], capture_output=True, text=True,
                         check=True).stdout
    undefined = {line.split()[-1] for line in out.splitlines() if line.strip()}
    assert undefined <= {"memcpy", "memset"}, undefined


def test_aarch64_object():
    compiled = Compiled(_small_module(), triple="aarch64-unknown-linux-gnu")
    header = compiled.artifact.object_code[:20]
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64
    assert compiled.artifact.triple == "aarch64-unknown-linux-gnu"


def test_default_triple_and_ir():
    assert default_triple().startswith(("x86_64", "aarch64", "arm64"))
    compiled = Compiled(_small_module())
    assert ENTRY in compiled.artifact.llvm_ir
