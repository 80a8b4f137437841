"""The NumPy reference evaluator: the oracle every backend and every pass is tested against.

    from aotc.hlo.evaluation import evaluate
    result = evaluate(module, x, y)          # NumPy arrays in, NumPy array (or tuple) out

Semantics are XLA's (the "Operation Semantics" page), including its integer corner cases:
`x / 0 == -1` (all bits set), `x % 0 == x`, `INT_MIN / -1 == INT_MIN`, `INT_MIN % -1 == 0`,
shifts by at least the bit width give 0 (or the sign fill for arithmetic right shifts), and
float -> int conversion saturates with NaN -> 0.

Floats are computed in their own type (f32 stays f32). f16 arithmetic, dots and reductions are
computed in f32 and rounded once at the end, as XLA's CPU backend does. `erf` and `erfc`
are computed in f64 with `math.erf` and `math.erfc` and rounded, which makes them the
correctly rounded references.

`interpreter` holds the table (`EVALUATORS`) and the driver; each family module registers
its rules into the table; importing this package imports every family once, so the table
is complete for anyone who imports the evaluator from here.
"""

from . import core, elementwise  # noqa: F401  (register the core and elementwise rules)
from . import complex, control_flow, indexing, window  # noqa: F401  (register the op families)
from .interpreter import (EVALUATORS, EvaluationError, evaluate, evaluate_computation,
                          evaluate_instruction, run_computation)

__all__ = [
    "EVALUATORS", "EvaluationError", "evaluate", "evaluate_computation", "evaluate_instruction",
    "run_computation",
]
