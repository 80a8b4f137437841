"""Convolutions as implicit GEMM (backends/cpu/conv_gemm.py) against the NumPy evaluator.

One module holds every case: strides 1-3, SAME/VALID/asymmetric padding, window
dilation, transposed convolutions (base dilation 2 and 3, odd kernels), 1x1, 1-D and 3-D
windows, batch > 1, input features of 1 and output features just off a panel (tails); the
kernels are constants (what the implicit GEMM takes), output features of 1 to one full
vector (the one-vector tile), and 1-3 input features (taps unrolled). Compiled for the host, for x86 with
only SSE2 (the tile of the portable vector path), and run for aarch64 under qemu on a
seeded subset (tests/test_gemm.py's driver).
"""

from __future__ import annotations

import numpy as np
import pytest

from aotc.backends.cpu.conv_gemm import prepare_conv_gemm
from aotc.backends.cpu.gemm import choose_tile
from aotc.backends.cpu.target import resolve_target
from aotc.hlo import Shape
from aotc.hlo.builder import Builder
from aotc.hlo.evaluation import evaluate
from aotc.hlo.window import WindowDim

from compiled import Compiled
from conv_cases import labels

# (input NHWC-like dims, kernel spatial, output features, [(stride, pad_lo, pad_hi, win_dil,
# base_dil)] per spatial dim)
CASES = [
    ((1, 7, 7, 3), (3, 3), 16, [(1, 1, 1, 1, 1)] * 2),  # SAME 3x3
    ((2, 8, 9, 5), (3, 3), 17, [(2, 1, 1, 1, 1), (2, 0, 1, 1, 1)]),  # strided, asymmetric
    ((1, 9, 9, 4), (3, 3), 8, [(3, 0, 0, 1, 1)] * 2),  # stride 3 VALID
    ((1, 6, 6, 1), (1, 1), 33, [(1, 0, 0, 1, 1)] * 2),  # 1x1, one input feature
    ((1, 10, 10, 6), (3, 3), 9, [(1, 2, 2, 2, 1)] * 2),  # window dilation
    ((1, 4, 5, 7), (3, 3), 16, [(1, 1, 1, 1, 2)] * 2),  # transposed, stride 2
    ((1, 3, 4, 5), (5, 5), 15, [(1, 3, 4, 1, 3)] * 2),  # transposed, stride 3, odd kernel
    ((1, 5, 5, 2), (2, 2), 31, [(1, 1, 1, 1, 2)] * 2),  # transposed 2x2 (Keras Conv2DTranspose)
    ((3, 13, 4), (3,), 24, [(1, 1, 1, 1, 1)]),  # 1-D
    ((1, 4, 5, 4, 3), (2, 3, 2), 12, [(1, 0, 1, 1, 1), (2, 1, 1, 1, 1), (1, 0, 0, 1, 2)]),  # 3-D
    ((1, 14, 14, 40), (3, 3), 70, [(1, 1, 1, 1, 1)] * 2),  # more pixels than one task
    # Fewer output features than a vector (at least a vector of input features, up to
    # AVX-512's 16): the one-vector tile.
    ((1, 9, 10, 32), (3, 3), 1, [(1, 1, 1, 1, 1)] * 2),  # one output feature (a decoder's last)
    ((2, 11, 9, 16), (5, 5), 6, [(1, 2, 2, 1, 1)] * 2),  # 5x5 SAME, batch 2
    ((1, 9, 9, 17), (3, 3), 5, [(2, 0, 1, 1, 1)] * 2),  # strided
    ((1, 4, 5, 16), (3, 3), 1, [(1, 1, 1, 1, 2)] * 2),  # transposed to one feature
    ((1, 6, 7, 16), (3, 3), 4, [(1, 1, 1, 1, 1)] * 2),  # one full 128-bit vector
    ((1, 6, 7, 16), (3, 3), 8, [(1, 1, 1, 1, 1)] * 2),  # one full AVX vector
    ((1, 6, 7, 16), (3, 3), 16, [(1, 1, 1, 1, 1)] * 2),  # one full AVX-512 vector
    # Up to 4 input features: taps unrolled, interior tiles without bounds tests.
    ((2, 13, 11, 2), (5, 5), 17, [(1, 2, 2, 1, 1)] * 2),  # LeNet-like 5x5 SAME
    ((1, 10, 10, 2), (3, 3), 16, [(1, 2, 2, 2, 1)] * 2),  # window dilation
    ((1, 13, 12, 3), (3, 3), 16, [(2, 0, 1, 1, 1)] * 2),  # MobileNet-like stride 2
    ((1, 5, 6, 1), (7, 7), 16, [(1, 3, 3, 1, 1)] * 2),  # window larger than the input
    ((1, 6, 5, 3), (3, 3), 20, [(1, 1, 1, 1, 2)] * 2),  # transposed, phases unrolled
    # VALID: every tile interior, no bounds-tested copy; 7 x 13 rows, so a tail tile.
    ((1, 9, 15, 3), (3, 3), 16, [(1, 0, 0, 1, 1)] * 2),
]
QEMU_CASES = sorted(np.random.default_rng(13).choice(len(CASES), 5, replace=False).tolist())


def _module(cases, seed=0):
    rng = np.random.default_rng(seed)
    b = Builder("conv_gemm_edges")
    outs, args = [], []
    for dims, kernel, outputs, window in cases:
        x = b.parameter(Shape.array("f32", dims))
        args.append(rng.standard_normal(dims).astype(np.float32))
        w = rng.standard_normal((*kernel, dims[-1], outputs)).astype(np.float32)
        windows = [WindowDim(size=k, stride=s, padding_low=lo, padding_high=hi,
                             window_dilation=wd, base_dilation=bd)
                   for k, (s, lo, hi, wd, bd) in zip(kernel, window)]
        outs.append(b.convolution(x, b.constant(w, "f32"), windows, labels(len(dims))))
    return b.module(b.tuple(outs)), args


def _check(got, module, args):
    expected = evaluate(module, *args)
    for g, e, inst in zip(got, expected, module.entry.root.operands):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=2e-4, err_msg=inst.name)


@pytest.fixture(scope="module")
def edges():
    return _module(CASES)


def test_every_case_takes_the_implicit_gemm(edges):
    module, _ = edges
    target = resolve_target(None, None, None)
    for inst in module.entry.root.operands:
        constant_of = lambda op: op if op.opcode == "constant" else None  # noqa: E731
        assert prepare_conv_gemm(target, inst, constant_of) is not None, inst.name


def test_unrolled_taps_take_short_tiles(edges):
    """Convolutions whose taps are unrolled run on tiles of at most UNROLLED_TILE_ROWS
    rows (AVX-512's 12 would leave LLVM no registers for the kernel's vectors)."""
    from aotc.backends.cpu.conv_gemm import UNROLLED_TILE_ROWS, ConvGemm

    module, _ = edges
    target = resolve_target(None, None, None)
    constant_of = lambda op: op if op.opcode == "constant" else None  # noqa: E731
    unrolled = [conv for conv in (prepare_conv_gemm(target, inst, constant_of)
                                  for inst in module.entry.root.operands)
                if isinstance(conv, ConvGemm) and conv.unrolled]
    assert len(unrolled) >= 5
    assert all(conv.tile.rows <= UNROLLED_TILE_ROWS for conv in unrolled)


@pytest.mark.parametrize("features", [None, "+sse2,-avx,-avx2"], ids=["host", "sse2"])
def test_edges_on_x86(edges, features):
    module, args = edges
    if features is not None and resolve_target(None, None, None).arch != "x86_64":
        pytest.skip("x86-only feature set")
    options = {} if features is None else {"features": features}
    _check(Compiled(module, **options)(*args), module, args)


def test_edges_on_aarch64_under_qemu(tmp_path):
    from test_gemm import run_under_qemu

    module, args = _module([CASES[i] for i in QEMU_CASES], seed=4)
    _check(run_under_qemu(module, args, tmp_path), module, args)


def test_kernel_is_stored_packed_only():
    """A convolution's constant kernel is in the object once, in panel layout (output
    features zero-padded to whole panels), beside one row of zeros for padding taps."""
    b = Builder("packed_conv")
    x = b.parameter(Shape.array("f32", (1, 6, 6, 5)))
    w = np.arange(3 * 3 * 5 * 20, dtype=np.float32).reshape(3, 3, 5, 20)
    window = [WindowDim(size=3, padding_low=1, padding_high=1)] * 2
    module = b.module(b.tuple([b.convolution(x, b.constant(w, "f32"), window, labels(4))]))
    compiled = Compiled(module)
    nr = choose_tile(resolve_target(None, None, None), 4).nr
    assert compiled.artifact.constant_bytes == 9 * 5 * (-(-20 // nr) * nr) * 4 + 5 * 4
    xs = np.random.default_rng(2).standard_normal((1, 6, 6, 5)).astype(np.float32)
    _check(compiled(xs), module, [xs])


def test_avx512_object_compiles():
    """The narrow and unrolled cases with the AVX-512 tiles (12 x 16 one-vector, 12 x 32)
    are emitted and assembled (this host may not run them)."""
    module, _ = _module(CASES[11:])
    compiled = Compiled(module, triple="x86_64-unknown-linux-gnu", cpu="skylake-avx512",
                        features="+avx512f,+avx2,+fma,+avx")
    assert compiled.artifact.object_code
