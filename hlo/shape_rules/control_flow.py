"""Shape inference for control flow, `while` and `conditional` (XLA's rules).

Both take their result shape from their called computations, so the rules here check the
signatures of those computations against the operands:

    while(init)            condition: (S) -> pred[],  body: (S) -> S,  result S = init's shape
    conditional(p, o0, o1) p: pred[]; true: (o0) -> R, false: (o1) -> R
    conditional(i, o0..)   i: s32[]; branch k: (ok) -> R, every branch returning the same R

Registered into `SHAPE_RULES` on import (the package `aotc.hlo.shape_rules` imports this
module).
"""

from __future__ import annotations

from ..dtypes import PRED, dtype
from ..shape import Shape
from .inference import require, rule

_S32 = dtype("s32")


def _single_parameter(opcode: str, role: str, comp, operand: Shape) -> None:
    params = comp.parameters
    require(len(params) == 1,
             f"{opcode} {role} computation {comp.name} must take 1 parameter, takes {len(params)}")
    require(params[0].shape.same_array(operand),
             f"{opcode} {role} computation {comp.name} takes {params[0].shape.short()}, "
             f"but is passed {operand.short()}")


@rule("while")
def _while(opcode, shapes, attrs, called):
    (state,) = shapes
    require(len(called) == 2,
             f"while calls a condition and a body, got {len(called)} computations")
    condition, body = called
    require(state.is_tuple, f"while operand must be a tuple (the loop state), got {state.short()}")
    _single_parameter(opcode, "condition", condition, state)
    _single_parameter(opcode, "body", body, state)
    require(condition.root.shape.same_array(Shape(PRED)),
             f"while condition {condition.name} must return pred[], returns "
             f"{condition.root.shape.short()}")
    require(body.root.shape.same_array(state),
             f"while body {body.name} must return the loop state {state.short()}, returns "
             f"{body.root.shape.short()}")
    return state


@rule("conditional")
def _conditional(opcode, shapes, attrs, called):
    require(len(shapes) >= 2, "conditional needs a branch selector and at least one operand")
    selector, operands = shapes[0], shapes[1:]
    require(not selector.is_tuple and selector.rank == 0
             and selector.element_type in (PRED, _S32),
             f"conditional selector must be pred[] or s32[], got {selector.short()}")
    if selector.element_type == PRED:
        require(len(operands) == 2,
                 f"a pred conditional has a true and a false branch, got {len(operands)} operands")
    require(len(called) == len(operands),
             f"conditional has {len(operands)} branch operands but calls {len(called)} "
             "computations")
    result = called[0].root.shape
    for k, (branch, operand) in enumerate(zip(called, operands)):
        _single_parameter(opcode, f"branch {k}", branch, operand)
        require(branch.root.shape.same_array(result),
                 f"conditional branches return different shapes: {called[0].name} returns "
                 f"{result.short()}, {branch.name} returns {branch.root.shape.short()}")
    return result
