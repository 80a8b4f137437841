"""Shared pieces of the convolution-kernel edge tests (test_depthwise.py,
test_line_conv.py): a fused bias + ReLU6 epilogue, the x86 feature sets each module is
compiled for, and the comparison against the evaluator."""

from __future__ import annotations

import numpy as np
import pytest

from aotc.backends.cpu.target import resolve_target
from aotc.hlo import Shape
from aotc.hlo.evaluation import evaluate
from aotc.passes.pipeline import default_pipeline

from compiled import Compiled

#: Host, x86 with AVX2 only and with SSE2 only (the portable vector path).
X86_FEATURES = pytest.mark.parametrize(
    "features", [None, "+avx2,+fma,+avx,+sse4.1,-avx512f", "+sse2,-avx,-avx2"],
    ids=["host", "avx2", "sse2"])


def bias_relu6(b, out, rng):
    """out + bias (per output feature, the minor dimension), clamped to [0, 6]: the
    epilogue of Keras's Conv + ReLU6, which output fusion applies in the kernel."""
    features = out.shape.dims[-1]
    bias = b.constant(rng.standard_normal(features).astype(np.float32), "f32")
    out = b.binary("add", out, b.broadcast(bias, out.shape.dims, [out.shape.rank - 1]))
    return b.clamp(b.broadcast(b.scalar(0.0, "f32"), out.shape.dims, []), out,
                   b.broadcast(b.scalar(6.0, "f32"), out.shape.dims, []))


def check(got, expected):
    """Every result against the evaluator's (f32 sums of a few hundred products)."""
    for k, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5, err_msg=f"result {k}")


def check_on_x86(module, args, expected, features):
    """Compile `module` for the host (features None) or an x86 feature set, run, check."""
    if features is not None and resolve_target(None, None, None).arch != "x86_64":
        pytest.skip("x86-only feature sets")
    options = {} if features is None else {"features": features}
    check(Compiled(module, **options)(*args), expected)


def fused_module(module, args):
    """(module, args, expected): the evaluator's results on the module as built, then the
    module through the default pipeline (fusion makes the epilogues output fusions)."""
    expected = evaluate(module, *args)
    default_pipeline().run(module)
    return module, args, expected


def check_under_qemu(module, args, expected, tmp_path):
    """Compile `module` for aarch64, run it under qemu, check (test_gemm's runner)."""
    from test_gemm import run_under_qemu

    check(run_under_qemu(module, args, tmp_path), expected)


def labels(rank: int) -> str:
    """TensorFlow's dimension labels for a rank-`rank` convolution: NHWC-like input and
    output, HWIO-like kernel."""
    spatial = "".join(str(i) for i in range(rank - 2))
    return f"b{spatial}f_{spatial}io->b{spatial}f"


def kernel_operand(b, w, kind: str, args: list):
    """The kernel `w` as a constant ("const") or a parameter ("fed", its value appended
    to `args`)."""
    if kind == "const":
        return b.constant(w, "f32")
    args.append(w)
    return b.parameter(Shape.array("f32", w.shape))


def convolution_case(b, rng, args: list, dims, kernel_dims, weight: str, window, fused: bool,
                     **attrs):
    """One case of an edge module: an f32 input of `dims` (its values appended to `args`),
    a random kernel of `kernel_dims` (constant or fed, `kernel_operand`), the convolution
    over `window` (TensorFlow's labels; `attrs` such as feature_group_count), and with
    `fused` the bias + ReLU6 epilogue."""
    x = b.parameter(Shape.array("f32", dims))
    args.append(rng.standard_normal(dims).astype(np.float32))
    w = rng.standard_normal(kernel_dims).astype(np.float32)
    out = b.convolution(x, kernel_operand(b, w, weight, args), window, labels(len(dims)),
                        **attrs)
    return bias_relu6(b, out, rng) if fused else out


def convolutions(module) -> list:
    """The convolutions of `module`'s entry, in order."""
    return [i for i in module.entry.instructions if i.opcode == "convolution"]
