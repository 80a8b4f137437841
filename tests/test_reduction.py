"""Row reductions with a vector of accumulators (backends/cpu/reduction.py) against the
HLO evaluator at the edges: rows of 1, primes, lengths just below and above the vector
widths (4, 8, 16 lanes) and around the steps of four vectors, rows reduced over two
dimensions, add/multiply/max/min, integer sums, NaN and infinities through max/min, and
softmax rows holding NaN and infinities, whose exp the sum's fusion stores as a second
output (passes/multi_output_fusion.py), on 1 and 4 threads (bit-identical). Every reduce
is an entry reduce or the hero of a kInput fusion; one module of each kind.

Tolerances: max, min and integer reductions are exact; float sums and products fold
`lanes` partial results pairwise, as XLA reassociates them, so they differ from the
evaluator's sequential fold by a few ulps of the row's magnitude: rtol = atol = 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotc.backends.cpu.reduction import accumulator_lanes
from aotc.backends.cpu.target import resolve_target
from aotc.hlo import Builder, Shape, scalar_computation
from aotc.hlo.evaluation import evaluate
from aotc.passes.multi_output_fusion import MultiOutputFusion
from aotc.passes.pipeline import default_pipeline
from compiled import Compiled  # noqa: E402

INITS = {"add": 0, "multiply": 1, "maximum": -np.inf, "minimum": np.inf}
LENGTHS = (1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 64, 65, 100, 127)

# (dtype, dims, reduced dimensions, reducer)
REDUCES = [("f32", (3, n), (1,), "add") for n in LENGTHS] + [
    ("f32", (3, n), (1,), reducer) for n in (9, 17, 33) for reducer in ("maximum", "minimum")
] + [
    ("f32", (4, 33), (1,), "multiply"), ("f32", (5, 3, 17), (1, 2), "add"),
    ("f32", (2, 17, 3), (0, 2), "maximum"), ("f32", (37,), (0,), "add"),
    ("f32", (17, 6), (0,), "add"), ("s32", (3, 67), (1,), "add"), ("s32", (3, 67), (1,), "maximum"),
]


def _module():
    b = Builder("main")
    roots = []
    for k, (dtype, dims, reduced, reducer) in enumerate(REDUCES):
        x = b.parameter(Shape.array(dtype, list(dims)), f"x{k}")
        init = INITS[reducer]
        if dtype == "s32":
            init = {"add": 0, "maximum": np.iinfo(np.int32).min}[reducer]
        np_type = np.float32 if dtype == "f32" else np.int32
        # abs() before the reduce: a kInput fusion computing its operand inline.
        operand = b.unary("abs", x) if k % 2 else x
        roots.append(b.reduce(operand, b.constant(np.array(init, np_type)), list(reduced),
                              scalar_computation(reducer, dtype)))
    return b.module(b.tuple(roots), name="reduces")


def _inputs(rng):
    inputs = []
    for dtype, dims, _, reducer in REDUCES:
        if dtype == "s32":
            inputs.append(rng.integers(-1000, 1000, dims).astype(np.int32))
            continue
        low, high = (0.9, 1.1) if reducer == "multiply" else (-2.0, 2.0)
        x = rng.uniform(low, high, dims).astype(np.float32)
        if reducer in ("maximum", "minimum"):
            flat = x.reshape(-1)
            flat[rng.choice(flat.size, 4, replace=False)] = [np.nan, np.inf, -np.inf, np.nan]
        inputs.append(x)
    return inputs


@pytest.fixture(scope="module")
def reduced():
    module = _module()
    inputs = _inputs(np.random.default_rng(3))
    expected = evaluate(module, *inputs)
    default_pipeline().run(module)
    return module, Compiled(module)(*inputs), expected


def test_vectorized_rows_are_chosen():
    """Contiguous rows of plain reducers get a vector of accumulators once the row holds
    two vectors; strided rows, custom reducers and short rows fold sequentially."""
    target = resolve_target("x86_64-unknown-linux-gnu", "x86-64-v3", "+avx,+avx2")
    module = _module()
    lanes = [accumulator_lanes(target, root) for root in module.entry.root.operands]
    expected = [8 if dims[max(reduced)] >= 16 and max(reduced) == len(dims) - 1 else 1
                for dtype, dims, reduced, _ in REDUCES]
    assert lanes == expected


@pytest.mark.parametrize("k", range(len(REDUCES)), ids=[
    f"{d}-{'x'.join(map(str, s))}-over{''.join(map(str, r))}-{op}" for d, s, r, op in REDUCES])
def test_reduce_matches_evaluator(reduced, k):
    _, got, expected = reduced
    dtype, _, _, reducer = REDUCES[k]
    if dtype == "f32" and reducer in ("add", "multiply"):
        np.testing.assert_allclose(got[k], np.asarray(expected[k]), rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(got[k], np.asarray(expected[k]))


def _softmax(b, rows, n):
    x = b.parameter(Shape.array("f32", [rows, n]), f"x{rows}_{n}")
    high = b.reduce(x, b.constant(np.float32(-np.inf)), [1], scalar_computation("maximum", "f32"))
    shifted = b.unary("exponential", b.binary("subtract", x, b.broadcast(high, [rows, n], [0])))
    total = b.reduce(shifted, b.constant(np.float32(0)), [1], scalar_computation("add", "f32"))
    # As frontend/ops/nn.py lowers Softmax: a reciprocal per row, a multiply per element.
    scale = b.binary("divide", b.constant(np.ones(rows, np.float32)), total)
    return b.binary("multiply", shifted, b.broadcast(scale, [rows, n], [0]))


# Softmax row lengths: 1, primes, around the vector widths and the four-vector steps.
# (rows, length): rows enough for exp(x - max) to be stored (more elements than fusion.py
# copies), so that the CPU backend's multi-output fusion computes, stores and sums it in
# one pass (101 rows of 1000: three tasks of uneven rows on 4 threads, backends/cpu/tasks.py);
# and 5 rows, whose exp fusion.py copies into the division, which then reads it from the
# sum's fusion instead. Lengths: 1, primes, around the vector widths and the four-vector steps.
SOFTMAX_SHAPES = [(max(5, 4096 // n + 1), n) for n in (1, 7, 8, 9, 17, 31, 33, 63, 64, 65)] + [
    (101, 1000), (5, 7), (5, 33), (5, 100)]


@pytest.fixture(scope="module")
def softmaxes():
    """One module: a softmax per length, and exp(y) returned with its row and column sums
    (a sibling output that is a result; the column sum folds sequentially). Optimized as the
    driver does for the CPU (fusion, then multi-output fusion), compiled for 1 and for 4
    threads (run inline: every task in turn), against the evaluator."""
    b = Builder("main")
    roots = [_softmax(b, rows, n) for rows, n in SOFTMAX_SHAPES]
    y = b.parameter(Shape.array("f32", [67, 97]), "y")
    e = b.unary("exponential", y)
    zero = b.constant(np.float32(0))
    roots += [e, b.reduce(e, zero, [1], scalar_computation("add", "f32")),
              b.reduce(e, zero, [0], scalar_computation("add", "f32"))]
    module = b.module(b.tuple(roots), name="softmaxes")
    rng = np.random.default_rng(5)
    inputs = []
    for rows, n in SOFTMAX_SHAPES:
        x = rng.uniform(-5, 5, (rows, n)).astype(np.float32)
        x[1, n // 2] = np.nan  # a NaN row stays NaN
        x[2, n - 1] = np.inf  # an infinite max: NaN (inf - inf), as TensorFlow gives
        x[3, 0] = -np.inf  # -inf contributes exp(-inf) = 0
        inputs.append(x)
    inputs.append(rng.uniform(-3, 3, (67, 97)).astype(np.float32))
    expected = [np.asarray(r) for r in evaluate(module, *inputs)]
    default_pipeline().run(module)
    MultiOutputFusion().run(module)
    results = [Compiled(module, threads=t)(*inputs) for t in (1, 4)]
    return module, results, expected


def test_softmax_exp_is_stored_by_its_sum(softmaxes):
    """Each softmax's exp, and the returned exp, is a sibling output of a reduce fusion
    (two reductions of the same exp: the second reads the first one's sibling), and no
    other fusion computes an exp."""
    module, _, _ = softmaxes
    merged = [i for i in module.entry.instructions if i.opcode == "fusion" and i.shape.is_tuple]
    assert len(merged) == len(SOFTMAX_SHAPES) + 1
    assert not any(i.opcode == "exponential" for f in module.entry.instructions
                   if f.opcode == "fusion" and not f.shape.is_tuple
                   for i in f.called_computations[0].instructions)


@pytest.mark.parametrize("k", range(len(SOFTMAX_SHAPES) + 3), ids=[
    f"softmax{rows}x{n}" for rows, n in SOFTMAX_SHAPES] + ["exp", "rows", "columns"])
def test_softmax_rows_with_nan_and_infinity(softmaxes, k):
    _, (one, four), expected = softmaxes
    np.testing.assert_array_equal(four[k], one[k])  # bit-identical for any thread count
    np.testing.assert_allclose(one[k], expected[k], rtol=1e-5, atol=1e-7, equal_nan=True)
