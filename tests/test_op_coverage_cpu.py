"""The op-coverage cases through the CPU backend, against TensorFlow.

tests/test_op_coverage.py checks the lowering on the HLO evaluator; this file compiles
the same cases to machine code. LLVM compiles are the slow part, so the cases are
batched: each group below becomes one TensorFlow graph (every case with its own
placeholders and fetches), one HLO module through the default pass pipeline, one object
file, and one call, and every fetch is compared with what TensorFlow computed, under the
case's own tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)

from aotc.frontend.lower import lower  # noqa: E402
from aotc.hlo.verifier import verify  # noqa: E402
from aotc.passes.pipeline import default_pipeline  # noqa: E402
from op_coverage_cases import (  # noqa: E402
    ACTIVATIONS, ARITHMETIC, CASTS, CLASSIFY, COMPARISONS, DTYPE_SWEEP, EINSUMS, LOGIC,
    MATMULS, PASS_THROUGH, REDUCTIONS, SELECTS, UNARY,
)
from tf2xla_op_cases import TF2XLA_GROUPS  # noqa: E402
from compiled import Compiled  # noqa: E402
from tf_graphs import assert_matches  # noqa: E402
from tf_graphs import make_config, parse_graph_def  # noqa: E402
from aotc.frontend.prune import prune  # noqa: E402

#: One compiled module per group; grouped so codegen variety (dtypes, transcendental
#: math, dots, reductions, converts) is spread over modules of similar size.
GROUPS = {
    "compare-logic-select": COMPARISONS + LOGIC + SELECTS + PASS_THROUGH,
    "arithmetic-unary": ARITHMETIC + UNARY + CLASSIFY,
    "activations-reductions": ACTIVATIONS + REDUCTIONS,
    "matmul-einsum": MATMULS + EINSUMS,
    "cast": CASTS,
    "dtype-sweep": DTYPE_SWEEP,
    **TF2XLA_GROUPS,
}


def _run_batch_in_tf(cases):
    """One graph holding every case; returns (graph_def, feeds, fetches, inputs, expected,
    per-case fetch ranges)."""
    graph = tf.Graph()
    feeds, inputs, outputs, ranges = [], [], [], []
    with graph.as_default():
        for k, case in enumerate(cases):
            values = case.inputs()
            names = [f"case{k}_in{i}" for i in range(len(values))]
            placeholders = [tf.compat.v1.placeholder(tf.as_dtype(v.dtype), v.shape, name=n)
                            for v, n in zip(values, names)]
            with tf.name_scope(f"case{k}"):
                result = case.build(*placeholders)
            result = list(result) if isinstance(result, (list, tuple)) else [result]
            ranges.append(range(len(outputs), len(outputs) + len(result)))
            feeds += names
            inputs += values
            outputs += result
        with tf.compat.v1.Session(graph=graph) as sess:
            expected = sess.run(outputs, dict(zip(
                [graph.get_tensor_by_name(f"{n}:0") for n in feeds], inputs)))
    fetches = [(t.op.name, t.value_index) for t in outputs]
    return graph.as_graph_def().SerializeToString(), feeds, fetches, inputs, expected, ranges


assert not any(k.xla for cases in GROUPS.values() for k in cases), (
    "XLA-only ops run in TensorFlow one case at a time; they are compared on the evaluator")


@pytest.fixture(scope="module", params=list(GROUPS), ids=list(GROUPS))
def batch(request):
    cases = GROUPS[request.param]
    graph_def, feeds, fetches, inputs, expected, ranges = _run_batch_in_tf(cases)
    module = lower(prune(parse_graph_def(graph_def), make_config(feeds, fetches)))
    verify(module)
    default_pipeline().run(module)
    got = Compiled(module)(*inputs)
    return cases, got, expected, ranges


def test_cpu_backend_matches_tensorflow(batch):
    cases, got, expected, ranges = batch
    failures = []
    for case, fetched in zip(cases, ranges):
        for k in fetched:
            try:
                assert_matches(got[k], np.asarray(expected[k]), case.tol, f"{case.id} result {k}")
            except AssertionError as e:
                failures.append(str(e))
    assert not failures, "\n\n".join(failures)
