"""Counted loops for rules: `fori_loop` builds an HLO while loop whose body a rule writes
with the same LoweringContext helpers it uses for the entry computation.

Long chains of elementwise work (Philox rounds, matrix factorization steps) stay one loop
body instead of being unrolled, which keeps modules small and fusion cheap."""

from __future__ import annotations

import copy
from typing import Callable, Sequence

from ...hlo import Builder, Instruction, Shape
from ...hlo.dtypes import S32


def fori_loop(ctx, name: str, trips: int, values: Sequence[Instruction],
              body: Callable[[object, Instruction, list], list]) -> list[Instruction]:
    """Run `body(scope, i, values) -> values` for i = 0 .. trips - 1 in an HLO while loop;
    `scope` is a copy of ctx building into the loop body, `i` an s32 scalar. Returns the
    final values."""
    values = list(values)
    state = Shape.tuple([Shape(S32)] + [v.shape for v in values])
    suffix = next(Instruction._ids)  # parameter names are module-wide in HLO

    cond_b = Builder(f"{name}_cond")
    param = cond_b.parameter(state, f"{name}.cond.{suffix}")
    cond_b.compare(cond_b.get_tuple_element(param, 0), cond_b.constant(trips, S32), "LT")
    condition = cond_b.build()

    body_b = Builder(f"{name}_body")
    body_b.metadata = ctx.b.metadata
    param = body_b.parameter(state, f"{name}.body.{suffix}")
    scope = copy.copy(ctx)
    scope.b = body_b
    scope._static = {}  # id()-keyed: the body's instructions are not the entry's
    i = body_b.get_tuple_element(param, 0)
    current = [body_b.get_tuple_element(param, k + 1) for k in range(len(values))]
    new = list(body(scope, i, current))
    for k, (old, value) in enumerate(zip(values, new)):
        if old.shape.dims != value.shape.dims or (old.shape.element_type
                                                  != value.shape.element_type):
            raise ValueError(f"{name}: loop value {k} changes shape from {old.shape.short()} "
                             f"to {value.shape.short()}")
    next_i = body_b.binary("add", i, body_b.constant(1, S32))
    body_comp = body_b.build(body_b.tuple([next_i] + new))

    b = ctx.b
    loop = b.while_loop(condition, body_comp, b.tuple([b.constant(0, S32)] + values))
    return [b.get_tuple_element(loop, k + 1) for k in range(len(values))]
