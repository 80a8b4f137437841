"""Evaluator rules for control flow, `while` and `conditional` (XLA's semantics).

Registered into `EVALUATORS` on import (the package `aotc.hlo.evaluation` imports this
module). Called computations run through `evaluate_computation`, so every value they produce
is checked against its shape like the entry's.
"""

from __future__ import annotations

import numpy as np

from .interpreter import evaluate_computation, rule


@rule("while")
def _while(inst, ops):
    condition, body = inst.called_computations
    state = ops[0]
    while bool(evaluate_computation(condition, [state])):
        state = evaluate_computation(body, [state])
    return state


def branch_index(selector: np.ndarray, branch_count: int) -> int:
    """The branch a conditional runs: a pred picks branch 0 (true) or 1 (false); an index
    outside [0, branch_count) picks the last branch, as XLA defines it."""
    if selector.dtype == np.bool_:
        return 0 if bool(selector) else 1
    k = int(selector)
    return k if 0 <= k < branch_count else branch_count - 1


@rule("conditional")
def _conditional(inst, ops):
    branches = inst.called_computations
    k = branch_index(ops[0], len(branches))
    return evaluate_computation(branches[k], [ops[k + 1]])
