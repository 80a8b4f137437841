"""Scans (backends/cpu/scan.py): reduce-windows spanning one whole dimension run as O(n)
running folds. Compiled against the HLO evaluator at the edges (rows of 1, primes,
lengths around the vector widths, the scanned dimension minor or not, forward and
reverse, add/multiply/max/min, NaN and infinities through max/min), and Cumsum, Cumprod
and CumulativeLogsumexp against TensorFlow. Each group is one compiled module.

Tolerances: forward scans fold in the evaluator's order (exact); reverse scans fold from
the end, as TensorFlow does, while the evaluator folds each window from its start, so
float sums may differ by a few ulps of the running sum: rtol = atol = 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)

from aotc.backends.cpu.scan import scan_axis
from aotc.hlo import Builder, Shape, scalar_computation
from aotc.hlo.evaluation import evaluate
from aotc.hlo.window import make_window
from compiled import Compiled  # noqa: E402
from tf_graphs import ACCUMULATE, EXACT, R, assert_matches, c, optimized_batch  # noqa: E402

INITS = {"add": 0, "multiply": 1, "maximum": -np.inf, "minimum": np.inf}

# (dtype, dims, axis, reverse, reducer)
SCANS = [("f32", (3, n), 1, reverse, "add") for n in (1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 65)
         for reverse in (False, True)] + [
    ("f32", (17, 5), 0, False, "add"), ("f32", (17, 5), 0, True, "add"),
    ("f32", (3, 13, 4), 1, False, "add"), ("f32", (3, 13, 4), 1, True, "add"),
    ("f32", (2, 9, 1), 1, True, "add"), ("f32", (1, 1), 1, False, "add"),
    ("f32", (4, 9), 1, False, "multiply"), ("f32", (9, 4), 0, True, "multiply"),
    ("s32", (4, 33), 1, False, "add"), ("s32", (4, 33), 1, True, "add"),
    ("s32", (33, 4), 0, True, "maximum"),
    ("f32", (5, 17), 1, False, "maximum"), ("f32", (5, 17), 1, True, "minimum"),
    ("f32", (17, 5), 0, False, "maximum"), ("f32", (17, 5), 0, True, "minimum"),
]


def _scan_module():
    b = Builder("main")
    roots = []
    for k, (dtype, dims, axis, reverse, reducer) in enumerate(SCANS):
        x = b.parameter(Shape.array(dtype, list(dims)), f"x{k}")
        n = dims[axis]
        padding = [(0, 0)] * len(dims)
        padding[axis] = (0, n - 1) if reverse else (n - 1, 0)
        sizes = [1] * len(dims)
        sizes[axis] = n
        init = INITS[reducer]
        if dtype == "s32" and not np.isfinite(init):
            init = np.iinfo(np.int32).min
        roots.append(b.reduce_window(x, b.constant(np.array(init, dtype=np.dtype(
            "float32" if dtype == "f32" else "int32"))), make_window(sizes, None, padding),
            scalar_computation(reducer, dtype)))
    return b.module(b.tuple(roots), name="scans")


def _inputs(rng):
    inputs = []
    for dtype, dims, _, _, reducer in SCANS:
        if dtype == "s32":
            inputs.append(rng.integers(-50, 50, dims).astype(np.int32))
            continue
        low, high = (0.5, 1.5) if reducer == "multiply" else (-2.0, 2.0)
        x = rng.uniform(low, high, dims).astype(np.float32)
        if reducer in ("maximum", "minimum"):  # NaN and infinities must run through
            flat = x.reshape(-1)
            flat[rng.choice(flat.size, 6, replace=False)] = [np.nan, np.inf, -np.inf,
                                                            np.inf, -np.inf, np.nan]
        inputs.append(x)
    return inputs


@pytest.fixture(scope="module")
def scans():
    module = _scan_module()
    inputs = _inputs(np.random.default_rng(5))
    expected = evaluate(module, *inputs)
    return module, inputs, Compiled(module)(*inputs), expected


def test_scans_are_recognized(scans):
    module = scans[0]
    found = [scan_axis(root) for root in module.entry.root.operands]
    assert [f is not None for f in found] == [spec[1][spec[2]] > 1 for spec in SCANS]


@pytest.mark.parametrize("k", range(len(SCANS)), ids=["-".join(map(str, (
    s[0], "x".join(map(str, s[1])), f"axis{s[2]}", "rev" if s[3] else "fwd", s[4]))) for s in SCANS])
def test_scan_matches_evaluator(scans, k):
    _, _, got, expected = scans
    dtype, _, _, reverse, reducer = SCANS[k]
    g, e = got[k], np.asarray(expected[k])
    if dtype == "f32" and reducer in ("add", "multiply") and reverse:
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(g, e)


TF_CASES = [
    c("Cumsum", "exclusive-reverse-4x256",
      lambda x: tf.cumsum(x, 1, exclusive=True, reverse=True), R(4, 256), tol=ACCUMULATE),
    c("Cumsum", "axis0-65x3", lambda x: tf.cumsum(x, 0), R(65, 3), tol=ACCUMULATE),
    c("Cumsum", "int32-reverse", lambda x: tf.cumsum(x, 1, reverse=True),
      R(3, 17, dtype=np.int32, low=-9, high=9), tol=EXACT),
    c("Cumprod", "3x17", lambda x: tf.math.cumprod(x, 1), R(3, 17, low=0.5, high=1.5),
      tol=ACCUMULATE),
    c("Cumprod", "exclusive-reverse-axis0", lambda x: tf.math.cumprod(x, 0, exclusive=True,
                                                                      reverse=True),
      R(9, 4, low=0.5, high=1.5), tol=ACCUMULATE),
    c("Cumprod", "int32", lambda x: tf.math.cumprod(x, 1), R(2, 7, dtype=np.int32, low=-3,
                                                             high=3), tol=EXACT),
    c("CumulativeLogsumexp", "4x33", lambda x: tf.math.cumulative_logsumexp(x, 1),
      R(4, 33, low=-20, high=20), tol=ACCUMULATE),
    c("CumulativeLogsumexp", "exclusive-reverse",
      lambda x: tf.math.cumulative_logsumexp(x, 1, exclusive=True, reverse=True),
      R(3, 16, low=-5, high=5), tol=ACCUMULATE),
    c("CumulativeLogsumexp", "axis0-with-inf", lambda x: tf.math.cumulative_logsumexp(x, 0),
      np.array([[-np.inf, 1.0], [-np.inf, -np.inf], [0.5, 2.0], [-np.inf, 3.0]], np.float32),
      tol=ACCUMULATE),
]


@pytest.fixture(scope="module")
def tf_batch():
    module, inputs, expected, ranges = optimized_batch(TF_CASES)
    return Compiled(module)(*inputs), expected, ranges


@pytest.mark.parametrize("k", range(len(TF_CASES)), ids=[case.id for case in TF_CASES])
def test_tf_scan_matches_tensorflow(tf_batch, k):
    got, expected, ranges = tf_batch
    for i in ranges[k]:
        assert_matches(got[i], np.asarray(expected[i]), TF_CASES[k].tol, TF_CASES[k].id)
