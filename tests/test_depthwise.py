"""Depthwise convolution with pixels x channels in registers (backends/cpu/depthwise.py)
against the NumPy evaluator.

One module holds every case: channel counts below, at and around the vector blocks
(scalar tails), strides 1-3, SAME/VALID/asymmetric padding, window dilation, lines
shorter than, equal to and just past a pixel block, batch 2, 1-D and 3-D windows, a fed
kernel, and fused bias + ReLU6 epilogues; channel multipliers above 1 (the direct loops)
beside them. Compiled for the host, x86 with only AVX2 and with only SSE2 (the portable
path), and run for aarch64 under qemu.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotc.backends.cpu.depthwise import depthwise_tasks
from aotc.backends.cpu.target import resolve_target
from aotc.hlo import Shape
from aotc.hlo.builder import Builder
from aotc.hlo.evaluation import evaluate
from aotc.hlo.window import WindowDim
from aotc.passes.pipeline import default_pipeline

from compiled import Compiled

# (input dims, kernel spatial, multiplier, stride, (pad_lo, pad_hi), window dilation,
#  kernel "const"/"fed", fused epilogue)
CASES = [
    ((1, 9, 10, 16), (3, 3), 1, 1, (1, 1), 1, "const", False),
    ((2, 7, 8, 21), (3, 3), 1, 2, (0, 1), 1, "const", True),
    ((1, 6, 6, 3), (5, 5), 1, 1, (2, 2), 2, "fed", False),
    ((1, 13, 5, 48), (3, 3), 1, 3, (1, 1), 1, "const", True),
    ((1, 5, 4, 7), (3, 3), 1, 1, (0, 0), 1, "const", False),
    ((1, 8, 9, 33), (2, 3), 1, 1, (1, 0), 1, "fed", True),
    ((1, 3, 17, 8), (3, 3), 1, 2, (1, 1), 1, "const", False),
    ((1, 4, 4, 2), (1, 1), 1, 1, (0, 0), 1, "const", False),
    ((1, 11, 40), (3,), 1, 1, (1, 1), 1, "const", True),
    ((1, 4, 5, 4, 9), (2, 3, 2), 1, 1, (1, 0), 1, "const", False),
    ((1, 7, 6, 4), (3, 3), 2, 1, (1, 1), 1, "const", False),  # multiplier 2: direct loops
]


def _labels(rank: int) -> str:
    spatial = "".join(str(i) for i in range(rank - 2))
    return f"b{spatial}f_{spatial}io->b{spatial}f"


def _module(cases, seed=0):
    rng = np.random.default_rng(seed)
    b = Builder("depthwise_edges")
    outs, args = [], []
    for dims, kernel, multiplier, stride, (low, high), dilation, weight, fused in cases:
        x = b.parameter(Shape.array("f32", dims))
        args.append(rng.standard_normal(dims).astype(np.float32))
        channels = dims[-1]
        w = rng.standard_normal((*kernel, 1, channels * multiplier)).astype(np.float32)
        if weight == "const":
            rhs = b.constant(w, "f32")
        else:
            rhs = b.parameter(Shape.array("f32", w.shape))
            args.append(w)
        window = [WindowDim(size=k, stride=stride, padding_low=low, padding_high=high,
                            window_dilation=dilation) for k in kernel]
        out = b.convolution(x, rhs, window, _labels(len(dims)), feature_group_count=channels)
        if fused:
            bias = b.constant(rng.standard_normal(out.shape.dims[-1]).astype(np.float32), "f32")
            out = b.binary("add", out, b.broadcast(bias, out.shape.dims, [out.shape.rank - 1]))
            out = b.clamp(b.broadcast(b.scalar(0.0, "f32"), out.shape.dims, []), out,
                          b.broadcast(b.scalar(6.0, "f32"), out.shape.dims, []))
        outs.append(out)
    return b.module(b.tuple(outs)), args


@pytest.fixture(scope="module")
def fused():
    module, args = _module(CASES)
    expected = evaluate(module, *args)
    default_pipeline().run(module)
    return module, args, expected


def _check(got, expected):
    for k, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5, err_msg=f"result {k}")


def test_cases_take_the_register_blocked_loops():
    module, _ = _module(CASES)
    convolutions = [i for i in module.entry.instructions if i.opcode == "convolution"]
    taken = [depthwise_tasks(i) is not None for i in convolutions]
    assert taken == [case[2] == 1 for case in CASES]


@pytest.mark.parametrize("features", [None, "+avx2,+fma,+avx,+sse4.1,-avx512f", "+sse2,-avx,-avx2"],
                         ids=["host", "avx2", "sse2"])
def test_edges_on_x86(fused, features):
    module, args, expected = fused
    if features is not None and resolve_target(None, None, None).arch != "x86_64":
        pytest.skip("x86-only feature sets")
    options = {} if features is None else {"features": features}
    _check(Compiled(module, **options)(*args), expected)


def test_edges_on_aarch64_under_qemu(fused, tmp_path):
    from test_gemm import run_under_qemu

    module, args, expected = fused
    _check(run_under_qemu(module, args, tmp_path), expected)


def test_avx512_object_compiles(fused):
    """The AVX-512 blocks (16 lanes, 8 pixels) are emitted and assembled (this host may
    not run them)."""
    module, _, _ = fused
    compiled = Compiled(module, triple="x86_64-unknown-linux-gnu", cpu="skylake-avx512",
                        features="+avx512f,+avx2,+fma,+avx")
    assert compiled.artifact.object_code
