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


from op_coverage_cases import (  # noqa: E402
    ACTIVATIONS, ARITHMETIC, CASTS, CLASSIFY, COMPARISONS, DTYPE_SWEEP, EINSUMS, LOGIC,
    MATMULS, PASS_THROUGH, REDUCTIONS, SELECTS, UNARY,
)
from tf2xla_op_cases import TF2XLA_GROUPS  # noqa: E402
from compiled import Compiled  # noqa: E402
from tf_graphs import assert_matches, optimized_batch  # noqa: E402

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


assert not any(k.xla for cases in GROUPS.values() for k in cases), (
    "XLA-only ops run in TensorFlow one case at a time; they are compared on the evaluator")


@pytest.fixture(scope="module", params=list(GROUPS), ids=list(GROUPS))
def batch(request):
    cases = GROUPS[request.param]
    module, inputs, expected, ranges = optimized_batch(cases)
    got = Compiled(module)(*inputs)
    return cases, got, expected, ranges


def test_cpu_backend_matches_tensorflow(batch):
    cases, got, expected, ranges = batch
    failures = []
    for case, fetched in zip(cases, ranges):
        for k in fetched:
            want = np.asarray(expected[k])
            value = got[k]
            if want.dtype.kind == "c":  # expanded: (re, im) pairs, the same bytes
                value = np.ascontiguousarray(value).view(want.dtype)[..., 0]
            try:
                assert_matches(value, want, case.tol, f"{case.id} result {k}")
            except AssertionError as e:
                failures.append(str(e))
    assert not failures, "\n\n".join(failures)
