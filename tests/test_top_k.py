"""TopKV2 on the CPU: the sort whose readers take only a prefix of each row selects that
prefix in one pass (backends/cpu/sort.py, `prefix_read` in backends/cpu/indexing.py).
Against TensorFlow: k = 1, 5, 64 (the longest selected prefix) and 65 (a full sort), rows
with many ties (TF's tie-break: the lower index first), rows sorted ascending (every
element replaces the last kept one), batches of rows; one compiled module."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)

from aotc.backends.cpu.indexing import MAX_SELECTED_PREFIX, prefix_read
from compiled import Compiled  # noqa: E402
from tf_graphs import EXACT, R, assert_matches, c, optimized_batch  # noqa: E402

_RNG = np.random.default_rng(11)
TIES = _RNG.integers(-3, 4, (4, 200)).astype(np.float32)
ASCENDING = np.tile(np.arange(300, dtype=np.float32), (2, 1))


def _top_k(k):
    return lambda x: list(tf.math.top_k(x, k=k))


CASES = [
    c("TopKV2", "k1", _top_k(1), R(3, 200), tol=EXACT),
    c("TopKV2", "k5-ties", _top_k(5), TIES, tol=EXACT),
    c("TopKV2", f"k{MAX_SELECTED_PREFIX}-ties", _top_k(MAX_SELECTED_PREFIX), TIES, tol=EXACT),
    c("TopKV2", f"k{MAX_SELECTED_PREFIX + 1}-full-sort", _top_k(MAX_SELECTED_PREFIX + 1), TIES,
      tol=EXACT),
    c("TopKV2", "k7-ascending", _top_k(7), ASCENDING, tol=EXACT),
    c("TopKV2", "k3-int32", _top_k(3), R(2, 3, 50, dtype=np.int32, low=-5, high=5), tol=EXACT),
    c("TopKV2", "values-softmax", lambda x: tf.nn.softmax(tf.math.top_k(x, k=5).values),
      R(2, 1000), tol=1e-6),
]


@pytest.fixture(scope="module")
def batch():
    module, inputs, expected, ranges = optimized_batch(CASES)
    return module, Compiled(module)(*inputs), expected, ranges


def test_prefix_reads_are_found(batch):
    module = batch[0]
    sorts = [i for i in module.entry.instructions if i.opcode == "sort"]
    prefixes = sorted(prefix_read(module.entry, s, s.attrs["dimensions"][0]) or 0 for s in sorts)
    assert prefixes == sorted([1, 5, MAX_SELECTED_PREFIX, 0, 7, 3, 5])


@pytest.mark.parametrize("k", range(len(CASES)), ids=[case.id for case in CASES])
def test_top_k_matches_tensorflow(batch, k):
    _, got, expected, ranges = batch
    for i in ranges[k]:
        assert_matches(got[i], np.asarray(expected[i]), CASES[k].tol, CASES[k].id)
