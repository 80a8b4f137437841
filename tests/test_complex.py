"""Complex numbers in the IR: c64/c128 in HLO text, shape rules and the evaluator's
`complex`, `real`, `imag` and `fft` (against DFTs written out as sums), and the complex
expansion pass (passes/complex_expansion.py) against the evaluator on the unexpanded
module.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotc.hlo import Builder, Shape, ShapeError, parse_module, print_module
from aotc.hlo.evaluation import evaluate

RNG = np.random.default_rng(11)


def crand(*shape, dtype=np.complex64):
    return (RNG.uniform(-2, 2, shape) + 1j * RNG.uniform(-2, 2, shape)).astype(dtype)


def dft_matrix(n, inverse=False):
    """exp(-+2 pi i jk / n), from its definition (f64)."""
    jk = np.outer(np.arange(n), np.arange(n))
    return np.exp((2j if inverse else -2j) * np.pi * jk / n)


def dft_axes(x, axes, inverse=False):
    """The (inverse) DFT of `x` along `axes` as explicit sums (f64)."""
    for axis in axes:
        n = x.shape[axis]
        x = np.moveaxis(np.tensordot(x, dft_matrix(n, inverse), axes=([axis], [0])), -1, axis)
        if inverse:
            x = x / n
    return x


def reference_dft(x, rank, kind, lengths):
    """The transforms of XLA's fft as explicit sums, one axis at a time (f64)."""
    x = x.astype(np.complex128)
    axes = list(range(x.ndim - rank, x.ndim))
    if kind == "RFFT":
        return dft_axes(x, axes)[..., : lengths[-1] // 2 + 1]
    if kind != "IRFFT":
        return dft_axes(x, axes, inverse=kind == "IFFT")
    # IRFFT: the outer axes first, then the last one from its Hermitian half, whose bin 0
    # (and bin n/2 for even n) is real in a real signal's spectrum: their imaginary parts
    # are dropped.
    x = dft_axes(x, axes[:-1], inverse=True)
    n = lengths[-1]
    half = x[..., : n // 2 + 1].copy()
    half[..., 0] = half[..., 0].real
    if n % 2 == 0:
        half[..., n // 2] = half[..., n // 2].real
    full = np.concatenate([half, np.conj(half[..., 1:(n + 1) // 2][..., ::-1])], axis=-1)
    return dft_axes(full, axes[-1:], inverse=True).real


def fft_module(shape, kind, lengths):
    b = Builder(f"fft_{kind.lower()}")
    x = b.parameter(shape, "x")
    b.add("fft", [x], {"fft_type": kind, "fft_length": tuple(lengths)})
    return b.module()


FFT_CASES = [
    ("FFT", "c64", (3, 8), (8,)),
    ("IFFT", "c64", (2, 5), (5,)),
    ("FFT", "c128", (2, 4, 6), (4, 6)),
    ("IFFT", "c64", (2, 3, 4), (2, 3, 4)),
    ("RFFT", "f32", (2, 8), (8,)),
    ("RFFT", "f64", (3, 5, 7), (5, 7)),
    ("IRFFT", "c64", (2, 5), (8,)),
    ("IRFFT", "c64", (3, 4), (7,)),
    ("IRFFT", "c128", (2, 3, 3), (3, 4)),
]


def fft_input(kind, dtype, dims):
    if kind == "RFFT":
        return RNG.uniform(-2, 2, dims).astype(dtype)
    return crand(*dims, dtype=np.complex64 if dtype == "c64" else np.complex128)


@pytest.mark.parametrize("kind, dtype, dims, lengths", FFT_CASES, ids=str)
def test_evaluator_fft_matches_the_dft(kind, dtype, dims, lengths):
    module = fft_module(Shape.array(dtype, dims), kind, lengths)
    x = fft_input(kind, np.float32 if dtype == "f32" else np.float64 if dtype == "f64" else dtype,
                  dims)
    got = evaluate(module, x)
    want = reference_dft(x, len(lengths), kind, lengths)
    assert got.shape == want.shape and got.dtype == module.entry.root.shape.element_type.np_dtype
    tol = 1e-5 if got.dtype in (np.float32, np.complex64) else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(x).max())


def test_complex_text_round_trips_and_evaluates():
    text = """HloModule m
ENTRY e {
  x = c64[2,3] parameter(0)
  c = c64[3] constant({(1, 2.5), (-0, 3), (inf, -1e-30)})
  b = c64[2,3] broadcast(c), dimensions={1}
  r = f32[2,3] real(x)
  i = f32[2,3] imag(x)
  s = c64[2,3] complex(i, r)
  m = c64[2,3] multiply(s, b)
  a = f32[2,3] abs(m)
  ROOT t = (c64[2,3], f32[2,3]) tuple(m, a)
}
"""
    module = parse_module(text)
    assert parse_module(print_module(module)).entry.root.shape == module.entry.root.shape
    assert "constant({(1, 2.5), (-0, 3), (inf, -1e-30)})" in print_module(module)
    x = crand(2, 3)
    m, a = evaluate(module, x)
    c = np.array([1 + 2.5j, 3j, complex(np.inf, -1e-30)], np.complex64)
    with np.errstate(invalid="ignore"):
        want = (x.imag + 1j * x.real).astype(np.complex64) * c
    np.testing.assert_array_equal(m, want)
    assert a.dtype == np.float32


@pytest.mark.parametrize("build, message", [
    (lambda b, z, f: b.unary("tanh", z), "tanh is not defined on complex"),
    (lambda b, z, f: b.compare(z, z, "LT"), "complex values compare only for EQ and NE"),
    (lambda b, z, f: b.binary("maximum", z, z), "maximum is not defined on complex"),
    (lambda b, z, f: b.add("complex", [b.convert(f, "s32"), b.convert(f, "s32")]),
     "complex needs f32 or f64 parts"),
    (lambda b, z, f: b.add("fft", [z], {"fft_type": "FFT", "fft_length": (4,)}),
     "does not end in fft_length"),
    (lambda b, z, f: b.add("fft", [z], {"fft_type": "RFFT", "fft_length": (3,)}),
     "RFFT needs an f32 or f64 operand"),
    (lambda b, z, f: b.add("fft", [z], {"fft_type": "IRFFT", "fft_length": (3,)}),
     r"must end in \[2\]"),
    (lambda b, z, f: b.add("fft", [z], {"fft_type": "DCT", "fft_length": (3,)}),
     "fft_type must be one of"),
])
def test_complex_shape_errors(build, message):
    b = Builder("bad")
    z = b.parameter(Shape.array("c64", [2, 3]), "z")
    f = b.parameter(Shape.array("f32", [2, 3]), "f")
    with pytest.raises(ShapeError, match=message):
        build(b, z, f)


# -- the complex expansion pass ----------------------------------------------------------------

from aotc.passes.complex_expansion import ComplexExpansion, ComplexExpansionError  # noqa: E402
from aotc.passes.pipeline import default_pipeline  # noqa: E402
from aotc.hlo.verifier import verify  # noqa: E402


def to_pairs(value):
    """What an expanded module takes for a complex argument: its (re, im) pairs."""
    if np.asarray(value).dtype.kind != "c":
        return value
    return np.stack([value.real, value.imag], axis=-1)


def from_pairs(value, shape):
    """An expanded module's result as the complex array the original module returns."""
    if not shape.element_type.is_complex:
        return value
    return np.ascontiguousarray(value).view(shape.element_type.np_dtype)[..., 0]


def expanded_results(module, *args, pipeline=False):
    """`module` evaluated before and after expansion (on a copy), the latter converted back."""
    copy = parse_module(print_module(module))
    (default_pipeline() if pipeline else ComplexExpansion()).run(copy)
    verify(copy)
    assert not any(i.shape.element_type is not None and i.shape.element_type.is_complex
                   for c in copy.computations for i in c.instructions if not i.shape.is_tuple)
    want = evaluate(module, *args)
    got = evaluate(copy, *[to_pairs(a) for a in args])
    root = module.entry.root.shape
    if root.is_tuple:
        return [from_pairs(g, s) for g, s in zip(got, root.tuple_shapes)], list(want)
    return [from_pairs(got, root)], [want]


def close(got, want, rtol, atol=None):
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol if atol is None else atol)


ELEMENTWISE = """HloModule elementwise
ENTRY e {
  x = c64[3,4] parameter(0)
  y = c64[3,4] parameter(1)
  add = c64[3,4] add(x, y)
  sub = c64[3,4] subtract(x, y)
  mul = c64[3,4] multiply(x, y)
  div = c64[3,4] divide(x, y)
  neg = c64[3,4] negate(x)
  abs = f32[3,4] abs(x)
  exp = c64[3,4] exponential(x)
  log = c64[3,4] log(x)
  sqrt = c64[3,4] sqrt(x)
  rsqrt = c64[3,4] rsqrt(y)
  eq = pred[3,4] compare(x, y), direction=EQ
  ne = pred[3,4] compare(x, x), direction=NE
  sel = c64[3,4] select(eq, x, y)
  re = f32[3,4] real(mul)
  im = f32[3,4] imag(div)
  back = c64[3,4] complex(im, re)
  tos = s32[3,4] convert(x)
  fromf = c64[3,4] convert(re)
  wide = c128[3,4] convert(x)
  ROOT t = (c64[3,4], c64[3,4], c64[3,4], c64[3,4], c64[3,4], f32[3,4], c64[3,4], c64[3,4],
            c64[3,4], c64[3,4], pred[3,4], pred[3,4], c64[3,4], c64[3,4], s32[3,4], c64[3,4],
            c128[3,4]) tuple(add, sub, mul, div, neg, abs, exp, log, sqrt, rsqrt, eq, ne, sel,
            back, tos, fromf, wide)
}
"""


def test_expanded_elementwise_ops_match_the_evaluator():
    x, y = crand(3, 4) * 4, crand(3, 4)
    x[0, :] = [0, -4, 3j, -2.5 - 0j]  # sqrt and log on the axes, sqrt(0) = 0
    y[1, :2] = x[1, :2]  # some equal
    y[2, 0] = 1e-3 + 3e3j  # Smith's algorithm: |d| >> |c|
    got, want = expanded_results(parse_module(ELEMENTWISE), x, y)
    # f32 formulas: a few ulps of the result's magnitude (Smith, hypot, atan2, sqrt).
    close(got, want, rtol=3e-6, atol=3e-6)


def test_expanded_abs_is_safe_from_overflow_and_underflow():
    b = Builder("abs")
    z = b.parameter(Shape.array("c64", [6]), "z")
    b.unary("abs", z)
    values = np.array([3e38 + 3e38j, 1e-30 + 1e-30j, 0, complex(np.inf, 1), -4e-45 + 0j,
                       complex(-3, np.inf)], np.complex64)
    got, want = expanded_results(b.module(), values)
    np.testing.assert_allclose(got[0], want[0], rtol=2e-7)


STRUCTURE = """HloModule structure
sum {
  a = c64[] parameter(0)
  b = c64[] parameter(1)
  ROOT s = c64[] add(a, b)
}
body {
  p = (s32[], c64[2,3]) parameter(0)
  i = s32[] get-tuple-element(p), index=0
  one = s32[] constant(1)
  v = c64[2,3] get-tuple-element(p), index=1
  twice = c64[2,3] multiply(v, v)
  next = s32[] add(i, one)
  ROOT n = (s32[], c64[2,3]) tuple(next, twice)
}
cond {
  q = (s32[], c64[2,3]) parameter(0)
  k = s32[] get-tuple-element(q), index=0
  two = s32[] constant(2)
  ROOT lt = pred[] compare(k, two), direction=LT
}
ENTRY e {
  x = c64[2,3] parameter(0)
  w = c64[3,4] parameter(1)
  ix = s32[2] parameter(2)
  c = c64[3] constant({(1, -1), (0, 2), (-3, 0.5)})
  bc = c64[2,3] broadcast(c), dimensions={1}
  r = c64[3,2] reshape(x)
  t = c64[3,2] transpose(x), dimensions={1,0}
  sl = c64[1,2] slice(x), slice={[1:2], [0:3:2]}
  cat = c64[4,3] concatenate(x, bc), dimensions={0}
  seven = c64[] constant((7, -7))
  pad = c64[3,5] pad(x, seven), padding=0_1x1_1
  rev = c64[2,3] reverse(x), dimensions={1}
  d = c64[2,4] dot(x, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  zero = c64[] constant((0, 0))
  red = c64[3] reduce(x, zero), dimensions={0}, to_apply=sum
  z = s32[] constant(1)
  ds = c64[1,2] dynamic-slice(x, z, z), dynamic_slice_sizes={1,2}
  dus = c64[2,3] dynamic-update-slice(x, ds, z, z)
  g = c64[2,3] gather(x, ix), offset_dims={1}, collapsed_slice_dims={0}, start_index_map={0}, index_vector_dim=1, slice_sizes={1,3}
  start = s32[] constant(0)
  init = (s32[], c64[2,3]) tuple(start, x)
  loop = (s32[], c64[2,3]) while(init), condition=cond, body=body
  lv = c64[2,3] get-tuple-element(loop), index=1
  ROOT out = (c64[3,2], c64[3,2], c64[1,2], c64[4,3], c64[3,5], c64[2,3], c64[2,4], c64[3],
              c64[2,3], c64[2,3], c64[2,3]) tuple(r, t, sl, cat, pad, rev, d, red, dus, g, lv)
}
"""


@pytest.mark.parametrize("pipeline", [False, True], ids=["pass", "default-pipeline"])
def test_expanded_data_movement_dot_reduce_and_loops_match_the_evaluator(pipeline):
    x, w = crand(2, 3), crand(3, 4)
    got, want = expanded_results(parse_module(STRUCTURE), x, w, np.array([1, 0], np.int32),
                                 pipeline=pipeline)
    close(got, want, rtol=1e-6)


@pytest.mark.parametrize("kind, dtype, dims, lengths", FFT_CASES, ids=str)
def test_expanded_fft_matches_the_evaluator(kind, dtype, dims, lengths):
    module = fft_module(Shape.array(dtype, dims), kind, lengths)
    x = fft_input(kind, np.float32 if dtype == "f32" else np.float64 if dtype == "f64" else dtype,
                  dims)
    got, want = expanded_results(module, x)
    # DFT by matrix products: each output sums n = prod(lengths) terms of the input's
    # magnitude, rounded in the component type (2^-24 for f32, 2^-53 for f64) per term.
    eps = 2.0 ** -24 if np.dtype(want[0].dtype) in (np.float32, np.complex64) else 2.0 ** -53
    n = int(np.prod(lengths))
    close(got, want, rtol=4 * n * eps, atol=4 * n * eps * np.abs(x).max())


def test_fft_longer_than_the_limit_is_an_error():
    module = fft_module(Shape.array("c64", [4097]), "FFT", [4097])
    module.entry.root.metadata["op_name"] = "spectrum"
    with pytest.raises(ComplexExpansionError, match=r"node 'spectrum'.*exceeds 4096"):
        ComplexExpansion().run(module)


def test_product_of_complex_values_is_an_error():
    text = """HloModule prod
mul {
  a = c64[] parameter(0)
  b = c64[] parameter(1)
  ROOT m = c64[] multiply(a, b)
}
ENTRY e {
  x = c64[4] parameter(0)
  one = c64[] constant((1, 0))
  ROOT r = c64[] reduce(x, one), dimensions={0}, to_apply=mul
}
"""
    with pytest.raises(ComplexExpansionError, match=r"r \(reduce\): only sums reduce complex"):
        ComplexExpansion().run(parse_module(text))


def test_module_without_complex_values_is_unchanged():
    module = parse_module("HloModule m\nENTRY e {\n  x = f32[2] parameter(0)\n"
                          "  ROOT y = f32[2] negate(x)\n}\n")
    before = print_module(module)
    assert ComplexExpansion().run(module) is False
    assert print_module(module) == before


# -- the CPU backend on expanded modules ---------------------------------------------------------


def _fft_battery():
    """Several transforms in one module (one compile)."""
    b = Builder("ffts")
    z = b.parameter(Shape.array("c64", [2, 6, 8]), "z")
    r = b.parameter(Shape.array("f32", [2, 6, 8]), "r")
    outs = [b.add("fft", [z], {"fft_type": "FFT", "fft_length": (8,)}),
            b.add("fft", [z], {"fft_type": "IFFT", "fft_length": (6, 8)}),
            b.add("fft", [r], {"fft_type": "RFFT", "fft_length": (6, 8)})]
    half = b.slice(z, [0, 0, 0], [2, 6, 5])
    outs.append(b.add("fft", [half], {"fft_type": "IRFFT", "fft_length": (6, 8)}))
    return b.module(b.tuple(outs)), [crand(2, 6, 8), RNG.uniform(-2, 2, (2, 6, 8)).astype(np.float32)]


def _compiled(backend, module):
    from compiled import Compiled
    from cuda_modules import grid_compiled

    return Compiled(module) if backend == "cpu" else grid_compiled(module)


@pytest.mark.parametrize("backend, make", [
    ("cpu", lambda: (parse_module(ELEMENTWISE), [crand(3, 4) * 4, crand(3, 4)])),
    ("cpu", _fft_battery),
    ("cuda-host-grid", _fft_battery),
], ids=["cpu-elementwise", "cpu-fft", "cuda-host-grid-fft"])
def test_backends_run_expanded_modules(backend, make):
    """The backends see only the expanded module (the CUDA kernels run on the host grid
    runner here: tests/test_cuda_kernels.py)."""
    module, args = make()
    want = evaluate(module, *args)
    optimized = parse_module(print_module(module))
    default_pipeline().run(optimized)
    got = _compiled(backend, optimized)(*args)
    for g, w, s in zip(got, want, module.entry.root.shape.tuple_shapes):
        g = from_pairs(g, s)
        assert g.dtype == w.dtype and g.shape == w.shape
        # f32: elementwise formulas within a few ulps; DFTs of 48 terms of magnitude <= 3.
        np.testing.assert_allclose(g, w, rtol=4e-6, atol=48 * 3 * 2 ** -24 * 4)
