"""Function calls and TF2 (functional) control flow: PartitionedCall, If, Case, While.

    PartitionedCall, StatefulPartitionedCall   the body is inlined (frontend/functions.py)
    If, StatelessIf                            conditional(pred, ...), true/false branches
    Case, StatelessCase                        conditional(s32 index, ...), last branch
                                               for an out-of-range index (tf.switch_case)
    While, StatelessWhile                      while over a tuple of the loop variables

Branch and loop functions become called computations taking one tuple parameter. Two
things keep them small:

- Inputs that are compile-time constants (frozen weights, shape vectors) are not passed
  through the tuple: each computation gets its own copy of the constant, so rules that
  need static inputs still see them and the backend need not copy them in. For a While
  this applies to loop variables the body returns unchanged (TF2 writes those as a `ret`
  naming the input arg), whose value therefore never changes.
- An If or Case whose selector is a compile-time constant is inlined like a call.

Resource variables passed in (TF2 captures a variable a loop body reads, e.g. a Keras
LSTM's kernel in a SavedModel) travel as their current value: the called computation
binds the arg to a VariableState of that value, so its reads and assignments work as
anywhere else; a variable the Config does not mark readonly is carried through the loop
(or out of the branches as an extra result) and its caller's state takes the final value.
A readonly variable whose value is a constant (a frozen SavedModel variable) is copied in
like any other constant.

TF's V1 control flow (Switch, Merge, Enter, Exit, NextIteration) never reaches these rules:
frontend/functionalize.py turns it into While and If nodes first. `parallel_iterations` is
ignored: loop iterations run one after the other.
Loop variables must keep their shapes (XLA's while has one state shape).
"""

from __future__ import annotations

import copy
import itertools

from ...hlo import Builder, Instruction, Shape
from ...hlo.dtypes import PRED
from ..functions import lower_function_body
from .registry import lowering
from .tensor_list import PendingList
from .variables import VariableState

_ids = itertools.count()  # makes parameter names unique across computations


def _function(ctx, node, attr: str):
    functions = getattr(ctx, "functions", None)
    if functions is None:
        ctx.error(node, "calls a function, but no function library is available")
    return functions.get(node.attr[attr].func.name, node, attr)


def _values(ctx, node, inputs, what: str) -> tuple[list[Instruction], dict]:
    """`inputs` as HLO values (a variable as its current value), and the variables among
    them by position."""
    values, variables = [], {}
    for k, x in enumerate(inputs):
        if isinstance(x, PendingList):
            x = x.materialize(ctx, node)
        elif isinstance(x, VariableState):
            variables[k] = x
            x = x.value
        elif not isinstance(x, Instruction):
            ctx.error(node, f"{what} input {k} is neither a tensor nor a variable")
        values.append(x)
    return values, variables


def _lists_materialized(ctx, node, inputs) -> list:
    return [x.materialize(ctx, node) if isinstance(x, PendingList) else x for x in inputs]


def _shape_text(x: Instruction) -> str:
    return x.shape.short()


# -- calls ------------------------------------------------------------------------------


@lowering("PartitionedCall", "StatefulPartitionedCall")
def _call(ctx, node, inputs):
    return lower_function_body(ctx, _function(ctx, node, "f"), list(inputs), node)


# -- nested computations ----------------------------------------------------------------


class _Signature:
    """How a called computation sees the caller's inputs: input k is element `slot[k]` of
    the tuple parameter or, for k not in `slot`, a copy of the constant `inputs[k]`."""

    def __init__(self, inputs: list[Instruction], constant: set[int]):
        self.inputs = inputs
        self.passed = [k for k in range(len(inputs)) if k not in constant]
        self.slot = {k: n for n, k in enumerate(self.passed)}

    @property
    def operand_shape(self) -> Shape:
        return Shape.tuple([self.inputs[k].shape for k in self.passed])

    def operand(self, b: Builder) -> Instruction:
        return b.tuple([self.inputs[k] for k in self.passed])


def _lower_nested(ctx, node, fn, label: str, signature: _Signature,
                  overrides: dict | None = None,
                  variables: dict | None = None) -> tuple[Builder, list, dict]:
    """Lower `fn` into a new computation whose parameter is `signature`'s tuple; returns
    the builder (to finish with a root), the function's results and the final values of
    `variables` (position -> the caller's VariableState, bound inside to a state of the
    passed value). `overrides` binds some inputs to given values instead (a trial run's
    pending lists)."""
    b = Builder(f"{fn.signature.name}")
    b.metadata = {"op_type": node.op, "op_name": node.name}
    param = b.parameter(signature.operand_shape, f"{label}.param.{next(_ids)}")
    args = []
    for k, x in enumerate(signature.inputs):
        if overrides and k in overrides:
            args.append(overrides[k])
        elif k in signature.slot:
            args.append(b.get_tuple_element(param, signature.slot[k]))
        else:
            args.append(b.add("constant", [], {"literal": x.attrs["literal"]}, shape=x.shape))
    inner = {k: VariableState(v.name, v.node_name, v.readonly, args[k], args[k], v.ref)
             for k, v in (variables or {}).items()}
    args = [inner.get(k, x) for k, x in enumerate(args)]
    scope = copy.copy(ctx)
    scope.b = b
    if overrides:
        # A trial's instructions die with its builder, and a dead instruction's id() may be
        # reused; keep the id-keyed cache of static values from seeing them.
        scope._static = {}
    results = lower_function_body(scope, fn, args, node)
    # A variable handle returned as it came in (TF's loop bodies do) is its final value.
    results = [x.value if any(x is state for state in inner.values()) else x
               for x in results]
    for k, x in enumerate(results):
        if not isinstance(x, Instruction) and not overrides:
            ctx.error(node, f"{label} function '{fn.signature.name}' returns output {k} that "
                            "is not a tensor (a resource handle, or a list whose element "
                            "shape is unknown); aotc returns only tensors")
    return b, results, {k: state.value for k, state in inner.items()}


def _is_constant(x: Instruction) -> bool:
    return x.opcode == "constant"


# -- If and Case ------------------------------------------------------------------------


def _truth(ctx, node, b: Builder, x: Instruction) -> Instruction:
    """TF's If/While reading of a condition: a bool scalar as is, a number != 0; for a
    non-scalar, whether it has elements (known at compile time)."""
    if x.shape.rank:
        return b.constant(x.shape.num_elements > 0, PRED)
    if x.shape.element_type == PRED:
        return x
    if x.shape.element_type.is_float or x.shape.element_type.is_integer:
        return b.compare(x, b.constant(0, x.shape.element_type), "NE")
    ctx.error(node, f"condition has type {x.shape.element_type}, which is not a bool or number")


def _branches(ctx, node, fns: list, args: list[Instruction], labels: list[str],
              variables: dict, updated: list[int]):
    """Lower each branch over the same signature; returns (computations, operand). Each
    branch also returns the final values of the `updated` variables, after its results."""
    signature = _Signature(args, {k for k, x in enumerate(args) if _is_constant(x)
                                  and (k not in variables or variables[k].readonly)})
    comps, results = [], []
    for fn, label in zip(fns, labels):
        b, outs, finals = _lower_nested(ctx, node, fn, label, signature, variables=variables)
        comps.append(b.build(b.tuple(outs + [finals[k] for k in updated])))
        results.append(outs)
    first = results[0]
    for fn, label, outs in zip(fns[1:], labels[1:], results[1:]):
        if len(outs) != len(first) or any(not a.shape.same_array(o.shape)
                                           for a, o in zip(first, outs)):
            ctx.error(node, f"{labels[0]} function '{fns[0].signature.name}' returns "
                            f"({', '.join(map(_shape_text, first))}) but {label} function "
                            f"'{fn.signature.name}' returns ({', '.join(map(_shape_text, outs))}); "
                            "aotc needs branches that return the same shapes")
    return comps, signature.operand(ctx.b)


def _conditional(ctx, node, selector: Instruction, fns: list, inputs, labels) -> list:
    args, variables = _values(ctx, node, inputs, node.op)
    updated = sorted(k for k, v in variables.items() if not v.readonly)
    comps, operand = _branches(ctx, node, fns, args, labels, variables, updated)
    result = ctx.b.conditional(selector, [operand] * len(comps), comps)
    outs = [ctx.b.get_tuple_element(result, k) for k in range(len(result.shape.tuple_shapes))]
    count = len(outs) - len(updated)
    for k, value in zip(updated, outs[count:]):
        variables[k].value = value
    return outs[:count]


@lowering("If", "StatelessIf")
def _if(ctx, node, inputs):
    fns = [_function(ctx, node, "then_branch"), _function(ctx, node, "else_branch")]
    cond = inputs[0]
    args = _resolve_pending_lists(ctx, node, inputs[1:], fns)  # variables stay variables
    pred = _truth(ctx, node, ctx.b, cond)
    known = ctx.static_value(pred)
    if known is not None:  # a constant condition: only one branch can run
        return lower_function_body(ctx, fns[0 if bool(known) else 1], args, node)
    return _conditional(ctx, node, pred, fns, args, ["then_branch", "else_branch"])


@lowering("Case", "StatelessCase")
def _case(ctx, node, inputs):
    index, args = inputs[0], _lists_materialized(ctx, node, inputs[1:])
    names = [f.name for f in node.attr["branches"].list.func]
    if not names:
        ctx.error(node, "has no branches")
    if index.shape.rank or not index.shape.element_type.is_integer:
        ctx.error(node, f"branch_index must be an integer scalar, got {_shape_text(index)}")
    fns = [ctx.functions.get(name, node, "branches") for name in names]
    known = ctx.static_value(index)
    if known is not None:
        k = int(known)
        return lower_function_body(ctx, fns[k if 0 <= k < len(fns) else -1], args, node)
    if index.shape.element_type.name != "s32":
        index = ctx.b.convert(index, "s32")
    return _conditional(ctx, node, index, fns, args, [f"branch {k}" for k in range(len(fns))])


# -- While ------------------------------------------------------------------------------


def _unchanged_inputs(fn) -> set[int]:
    """Loop variables the body returns as they came in (`ret` names the input arg)."""
    inputs = fn.signature.input_arg
    outputs = fn.signature.output_arg
    return {k for k, (i, o) in enumerate(zip(inputs, outputs)) if fn.ret.get(o.name) == i.name}


def _resolve_pending_lists(ctx, node, inputs: list, fns: list) -> list:
    """Inputs that are lists of unknown element shape, as arrays: a trial run of a loop
    body (or of each branch, until the shapes are known) on a scratch builder lets its
    writes fix the shapes (ops/tensor_list.py, ops/tensor_array.py)."""
    pending = {k: x for k, x in enumerate(inputs) if isinstance(x, PendingList)}
    for fn in fns:
        if all(x.element_dims is not None for x in pending.values()):
            break
        others = [x for k, x in enumerate(inputs) if k not in pending]
        _values(ctx, node, others, node.op)
        values = [x.value if isinstance(x, VariableState) else x for x in inputs]
        # The trial binds copies of the variables: its assignments must not reach them.
        overrides = pending | {k: VariableState(x.name, x.node_name, x.readonly, x.value,
                                                x.value, x.ref)
                               for k, x in enumerate(inputs) if isinstance(x, VariableState)}
        _lower_nested(ctx, node, fn, "trial", _Signature(values, set(overrides)), overrides)
    return [x.materialize(ctx, node) if k in pending else x for k, x in enumerate(inputs)]


@lowering("While", "StatelessWhile")
def _while(ctx, node, inputs):
    cond_fn = _function(ctx, node, "cond")
    body_fn = _function(ctx, node, "body")
    values, variables = _values(ctx, node,
                                _resolve_pending_lists(ctx, node, inputs, [body_fn]), "While")
    # A variable's handle comes back unchanged even when the body assigns it.
    constant = {k for k in _unchanged_inputs(body_fn)
                if k < len(values) and _is_constant(values[k])
                and (k not in variables or variables[k].readonly)}
    signature = _Signature(values, constant)

    cond_b, cond_outs, _ = _lower_nested(ctx, node, cond_fn, "cond", signature,
                                         variables=variables)
    if len(cond_outs) != 1:
        ctx.error(node, f"cond function '{cond_fn.signature.name}' returns {len(cond_outs)} "
                        "values, expected one")
    condition = cond_b.build(_truth(ctx, node, cond_b, cond_outs[0]))

    body_b, outs, finals = _lower_nested(ctx, node, body_fn, "body", signature,
                                         variables=variables)
    outs = [finals.get(k, x) for k, x in enumerate(outs)]
    if len(outs) != len(values):
        ctx.error(node, f"body function '{body_fn.signature.name}' returns {len(outs)} "
                        f"values for {len(values)} loop variables")
    for k in signature.passed:
        if not outs[k].shape.same_array(values[k].shape):
            ctx.error(node, f"loop variable {k} is {_shape_text(values[k])} on entry but the "
                            f"body returns {_shape_text(outs[k])}; aotc needs loop variables "
                            "whose shapes do not change")
    body = body_b.build(body_b.tuple([outs[k] for k in signature.passed]))

    loop = ctx.b.while_loop(condition, body, signature.operand(ctx.b))
    results = [ctx.b.get_tuple_element(loop, signature.slot[k]) if k in signature.slot
               else values[k] for k in range(len(values))]
    for k, state in variables.items():  # the handle out, its final value in the state
        state.value, results[k] = results[k], state
    return results
