"""Fusion epilogues applied to the GEMM's micro-tile before it is stored (gemm.py,
GemmEmitter.tile_epilogue), against the NumPy evaluator on the unfused module.

One module: dense layers (constant weight over several K blocks, fed weight, skinny,
batched) and convolutions (implicit GEMM, strided, transposed by phases) with the
epilogues models have: bias, ReLU, ReLU6 (clamp), leaky ReLU (compare + select), a
residual add of another operand, logistic. Sizes sit off the tile (row and column tails).
Compiled for the host, x86 with only AVX2, x86 with only SSE2 (the portable vector
path), and run for aarch64 under qemu.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotc.backends.cpu.target import resolve_target
from aotc.hlo import Shape
from aotc.hlo.builder import Builder
from aotc.hlo.evaluation import evaluate
from aotc.hlo.window import WindowDim
from aotc.passes.late_pipeline import layout_and_schedule_pipeline
from aotc.passes.pipeline import default_pipeline

from compiled import Compiled


def _epilogue(b: Builder, kind: str, x, rng, args, bias_dim: int):
    """`x` followed by epilogue `kind` (bias on dimension `bias_dim`)."""
    dims = x.shape.dims
    bias = b.constant(rng.standard_normal(dims[bias_dim]).astype(np.float32), "f32")
    x = b.binary("add", x, b.broadcast(bias, dims, [bias_dim]))
    zero = b.broadcast(b.scalar(0.0, "f32"), dims, [])
    if kind == "relu":
        return b.binary("maximum", x, zero)
    if kind == "relu6":
        return b.clamp(zero, x, b.broadcast(b.scalar(6.0, "f32"), dims, []))
    if kind == "leaky":
        scaled = b.binary("multiply", x, b.broadcast(b.scalar(0.2, "f32"), dims, []))
        return b.select(b.compare(x, zero, "GT"), x, scaled)
    if kind == "residual":
        other = b.parameter(Shape.array("f32", dims))
        args.append(rng.standard_normal(dims).astype(np.float32))
        return b.binary("maximum", b.binary("add", x, other), zero)
    assert kind == "logistic"
    return b.unary("logistic", x)


# (M, N, K, weight, epilogue): dots; weight "const" or "fed".
DOTS = [(13, 37, 300, "const", "relu"), (29, 20, 7, "fed", "residual"), (3, 40, 64, "const", "relu6"),
        (7, 16, 5, "fed", "leaky"), (1, 9, 33, "const", "logistic")]
# (input dims, kernel spatial, output features, stride, padding, base dilation, epilogue)
CONVS = [((1, 9, 8, 3), (3, 3), 17, 1, 1, 1, "relu"), ((2, 9, 9, 5), (3, 3), 16, 2, 1, 1, "relu6"),
         ((1, 5, 4, 6), (3, 3), 19, 1, (2, 1), 2, "leaky"),
         ((1, 7, 7, 8), (1, 1), 24, 1, 0, 1, "residual")]


def _module(seed=0):
    rng = np.random.default_rng(seed)
    b = Builder("tile_epilogues")
    outs, args = [], []
    for m, n, k, weight, kind in DOTS:
        a = b.parameter(Shape.array("f32", (m, k)))
        args.append(rng.standard_normal((m, k)).astype(np.float32))
        w = rng.standard_normal((k, n)).astype(np.float32)
        if weight == "const":
            rhs = b.constant(w, "f32")
        else:
            rhs = b.parameter(Shape.array("f32", (k, n)))
            args.append(w)
        outs.append(_epilogue(b, kind, b.dot(a, rhs, lhs_contracting=[1], rhs_contracting=[0]),
                              rng, args, 1))
    x = b.parameter(Shape.array("f32", (3, 7, 33)))
    y = b.parameter(Shape.array("f32", (3, 33, 18)))
    args += [rng.standard_normal((3, 7, 33)).astype(np.float32),
             rng.standard_normal((3, 33, 18)).astype(np.float32)]
    batched = b.dot(x, y, lhs_batch=[0], rhs_batch=[0], lhs_contracting=[2], rhs_contracting=[1])
    outs.append(_epilogue(b, "relu", batched, rng, args, 2))
    # A batch-1 weight that is a constant seen through a bitcast ([K, N] as [1, K, N], as
    # in a Keras attention output; over 1024 elements, so constant folding leaves the
    # broadcast alone): the fused kernel reads the constant's global.
    x1 = b.parameter(Shape.array("f32", (1, 11, 40)))
    args.append(rng.standard_normal((1, 11, 40)).astype(np.float32))
    w1 = b.constant(rng.standard_normal((40, 37)).astype(np.float32), "f32")
    seen = b.dot(x1, b.broadcast(w1, (1, 40, 37), [1, 2]), lhs_batch=[0], rhs_batch=[0],
                 lhs_contracting=[2], rhs_contracting=[1])
    outs.append(_epilogue(b, "residual", seen, rng, args, 2))
    for dims, kernel, outputs, stride, padding, dilation, kind in CONVS:
        image = b.parameter(Shape.array("f32", dims))
        args.append(rng.standard_normal(dims).astype(np.float32))
        w = rng.standard_normal((*kernel, dims[-1], outputs)).astype(np.float32)
        low, high = padding if isinstance(padding, tuple) else (padding, padding)
        window = [WindowDim(size=s, stride=stride, padding_low=low, padding_high=high,
                            window_dilation=1, base_dilation=dilation) for s in kernel]
        conv = b.convolution(image, b.constant(w, "f32"), window, "b01f_01io->b01f")
        outs.append(_epilogue(b, kind, conv, rng, args, 3))
    return b.module(b.tuple(outs)), args


@pytest.fixture(scope="module")
def fused():
    module, args = _module()
    expected = evaluate(module, *args)
    default_pipeline().run(module)
    layout_and_schedule_pipeline().run(module)  # as the compiler does (broadcasts -> bitcasts)
    heroes = [i for i in module.entry.instructions
              if i.opcode == "fusion" and i.attrs["kind"] == "kOutput"]
    assert len(heroes) == len(DOTS) + 2 + len(CONVS)  # every epilogue fused into its hero
    return module, args, expected


def _check(got, expected):
    for k, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4, err_msg=f"result {k}")


@pytest.mark.parametrize("features", [None, "+avx2,+fma,+avx,+sse4.1,-avx512f", "+sse2,-avx,-avx2"],
                         ids=["host", "avx2", "sse2"])
def test_epilogues_on_x86(fused, features):
    module, args, expected = fused
    if features is not None and resolve_target(None, None, None).arch != "x86_64":
        pytest.skip("x86-only feature sets")
    options = {} if features is None else {"features": features}
    _check(Compiled(module, **options)(*args), expected)


def test_epilogues_on_aarch64_under_qemu(fused, tmp_path):
    from test_gemm import run_under_qemu

    module, args, expected = fused
    _check(run_under_qemu(module, args, tmp_path), expected)



@pytest.mark.parametrize("k", [300, 27])
def test_row_loop_of_the_tile_epilogue(k):
    """From MIN_ROLLED_EPILOGUE_K on, a tile's epilogue is one loop over the tile's rows,
    kept rolled by its loop metadata: LLVM vectorizes the row inside it, not across the
    rows (which it did with gathers and scatters before the metadata). Below it the rows
    are unrolled and no loop carries the metadata."""
    from aotc.backends.cpu.gemm import MIN_ROLLED_EPILOGUE_K

    rng = np.random.default_rng(1)
    b = Builder("row_loop")
    x = b.parameter(Shape.array("f32", (24, k)))
    dot = b.dot(x, b.constant(rng.standard_normal((k, 40)).astype(np.float32), "f32"),
                lhs_contracting=[1], rhs_contracting=[0])
    args = [rng.standard_normal((24, k)).astype(np.float32)]
    module = b.module(b.tuple([_epilogue(b, "relu6", dot, rng, args, 1)]))
    expected = evaluate(module, *args)
    default_pipeline().run(module)
    layout_and_schedule_pipeline().run(module)
    compiled = Compiled(module)
    _check(compiled(*args), expected)
    ir_text = compiled.artifact.llvm_ir
    assert "gather" not in ir_text and "scatter" not in ir_text
    assert ("!llvm.loop" in ir_text) == (k >= MIN_ROLLED_EPILOGUE_K)
