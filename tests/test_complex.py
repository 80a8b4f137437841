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
