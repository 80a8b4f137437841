"""Variables: resource and reference variables listed in the Config.

A compiled function has no state of its own. Each Config variable is an entry parameter
holding the value it has when the function starts (after the feeds, in Config order), and
every variable that is not readonly is also a result holding the value it has when the
function returns (after the fetches, in Config order). The generated class copies those
results back into the variables' buffers, so updates persist across Run() calls.

Between the two, a variable is a `VariableState` whose `value` is the HLO instruction of
its current value. The node that produces the variable (VarHandleOp, VariableV2) outputs
the state itself instead of an instruction; ops that take the variable (ReadVariableOp,
AssignAddVariableOp, ...) receive the state and read or replace `value`. Because nodes are
lowered in a topological order that honours control edges, reads and assignments apply in
the order the graph's control dependencies give them, as they do in TensorFlow. Where
those leave the order open, `schedule` runs each read as early as its inputs allow, as
TensorFlow's executor does: a read that depends only on an assignment (what
`v.assign_add(x)` returns in graph mode) sees the value right after that assignment.

Resource variables (VarHandleOp) are only read through ReadVariableOp. Reference variables
(VariableV2) are read by any op that consumes them: every consumer except the ref-updating
ops (Assign, AssignAdd, AssignSub) and Identity sees the value at the point it is lowered.
Identity passes the ref on, because in TensorFlow it forwards the variable's buffer: the
value is read when the Identity's consumer runs (`x/read`, the snapshot every ref variable
has, is such an Identity).

`schedule` and `bind` (before lowering) and `final_values` (after) are called by
`frontend.lower`.
"""

from __future__ import annotations

from dataclasses import dataclass
import heapq

import numpy as np

from ...hlo import Instruction, Shape
from ..errors import FrontendError
from ..prune import parse_input
from .indexing import scatter_nd
from .registry import LOWERINGS, lowering, to_hlo_dtype
from .slice_update import strided_slice_update

__all__ = ["VariableState", "schedule", "bind", "final_values", "resolve_inputs", "as_value"]

#: Ops that produce a variable; their output is the variable's state.
VARIABLE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable", "VariableV1"})

#: Ops that may take a resource handle as an input without reading it: they pass it on
#: (a call or control flow binds it to the function's arg, whose body reads and assigns
#: the same variable; TF2 SavedModels capture variables this way, see control_flow.py).
_HANDLE_PASSING_OPS = frozenset({"Identity", "IdentityN", "PartitionedCall",
                                 "StatefulPartitionedCall", "While", "StatelessWhile",
                                 "If", "StatelessIf", "Case", "StatelessCase"})

#: Ops that update a reference variable in place (their first input is the ref).
_REF_UPDATE_OPS = frozenset({"Assign", "AssignAdd", "AssignSub"})

#: Ops that read a variable without changing it: scheduled as early as possible.
_READ_OPS = frozenset({"ReadVariableOp", "ResourceGather"})

#: ResourceScatter* op -> the binary opcode combining (current, update); None replaces.
_RESOURCE_SCATTERS = {"ResourceScatterAdd": "add", "ResourceScatterSub": "subtract",
                      "ResourceScatterMul": "multiply", "ResourceScatterDiv": "divide",
                      "ResourceScatterMax": "maximum", "ResourceScatterMin": "minimum",
                      "ResourceScatterUpdate": None}
_RESOURCE_SCATTERS_ND = {"ResourceScatterNdAdd": "add", "ResourceScatterNdSub": "subtract",
                         "ResourceScatterNdUpdate": None}

#: Ops that take a resource variable as their first input.
_RESOURCE_OPS = frozenset({"ReadVariableOp", "AssignVariableOp", "AssignAddVariableOp",
                           "AssignSubVariableOp", "ResourceGather", "VariableShape",
                           "ResourceStridedSliceAssign", *_RESOURCE_SCATTERS,
                           *_RESOURCE_SCATTERS_ND})


@dataclass
class VariableState:
    """One Config variable while its graph is lowered.

    `value` is the instruction holding its current value (initially its entry parameter);
    `ref` is True for reference variables (VariableV2), whose consumers read it directly.
    """

    name: str  # the Config's name (the node name when the Config gives none)
    node_name: str
    readonly: bool
    parameter: Instruction
    value: Instruction
    ref: bool = False

    @property
    def shape(self) -> Shape:
        return self.parameter.shape


def schedule(subgraph) -> list:
    """The subgraph's nodes in the order to lower them: its topological order, except that
    variable reads move up to the first point where their inputs are ready."""
    nodes = subgraph.nodes
    if not subgraph.variables:
        return list(nodes)
    position = {node.name: i for i, node in enumerate(nodes)}
    users: dict[str, list[str]] = {node.name: [] for node in nodes}
    waiting: dict[str, int] = {}
    for node in nodes:
        deps = {parse_input(text)[0].node_name for text in node.input} & position.keys()
        waiting[node.name] = len(deps)
        for dep in deps:
            users[dep].append(node.name)

    def key(name: str) -> tuple[int, int]:
        return (0 if nodes[position[name]].op in _READ_OPS else 1, position[name])

    ready = [key(name) for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        node = nodes[heapq.heappop(ready)[1]]
        order.append(node)
        for user in users[node.name]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, key(user))
    return order  # complete: `nodes` is already a topological order


def bind(ctx, subgraph, param_name, frozen=None) -> list[VariableState]:
    """Add one entry parameter per Config variable; return their states, in Config order.

    Must run after the feeds' parameters are added (parameters are numbered in order).
    `param_name(label)` turns a variable's name into an HLO instruction name. A readonly
    variable in `frozen` (node name -> saved value, a SavedModel's) is that constant
    instead of a parameter; frozen variables come last, so the parameters stay numbered.
    """
    states = []
    for var in subgraph.variables:
        ctx.b.metadata = {"op_type": _op_of(subgraph, var.node_name), "op_name": var.node_name}
        t = to_hlo_dtype(var.dtype, lambda msg: _fail(f"variable '{var.name}': {msg}"))
        if frozen is not None and var.node_name in frozen:
            param = ctx.b.constant(frozen[var.node_name], t)
        else:
            param = ctx.b.parameter(Shape(t, var.shape), param_name(var.name))
        ref = var.node_name in subgraph and subgraph.node(var.node_name).op != "VarHandleOp"
        state = VariableState(var.name, var.node_name, var.readonly, param, param, ref)
        ctx.node_outputs[(var.node_name, 0)] = state
        states.append(state)
    ctx.b.metadata = {}
    return states


def final_values(states: list[VariableState]) -> list[Instruction]:
    """The values the non-readonly variables hold at the end: the extra results."""
    return [s.value for s in states if not s.readonly]


def resolve_inputs(node, inputs: list) -> list:
    """Read reference variables where `node` consumes their value, not the variable.

    Resource handles stay handles; an op that is neither a variable op nor a pass-through
    gets an error naming the node, since reading a resource takes a ReadVariableOp.
    """
    out = []
    for index, x in enumerate(inputs):
        if isinstance(x, VariableState):
            if x.ref and not (node.op in _REF_UPDATE_OPS and index == 0
                              or node.op in _HANDLE_PASSING_OPS):
                x = x.value
            elif not x.ref and node.op not in _RESOURCE_OPS | _HANDLE_PASSING_OPS:
                raise FrontendError(
                    f"node '{node.name}' ({node.op}) takes resource variable '{x.name}' as "
                    f"input {index}; aotc reads resource variables only through "
                    "ReadVariableOp and updates them through Assign*VariableOp")
        out.append(x)
    return out


def as_value(x, what: str) -> Instruction:
    """`x` as a value for a fetch: a reference variable reads as its final value."""
    if isinstance(x, VariableState):
        if not x.ref:
            raise FrontendError(f"{what} is the resource handle of variable '{x.name}'; "
                                "fetch a ReadVariableOp of it instead")
        return x.value
    return x


# ---------------------------------------------------------------------------------------
# Rules


@lowering(*sorted(VARIABLE_OPS))
def _variable(ctx, node, inputs):
    # `bind` already put the state of every Config variable in node_outputs; pruning
    # reports variables the Config does not list, so a miss here is a Config variable
    # of another op type under this node's name.
    state = ctx.node_outputs.get((node.name, 0))
    if not isinstance(state, VariableState):
        ctx.error(node, "the variable is not listed in the Config's variables")
    return state


@lowering("ReadVariableOp")
def _read_variable(ctx, node, inputs):
    state = _state(ctx, node, inputs)
    _check_dtype(ctx, node, state, "dtype")
    return state.value


@lowering("AssignVariableOp", "Assign")
def _assign(ctx, node, inputs):
    state, value = _state(ctx, node, inputs), inputs[1]
    _update(ctx, node, state, _check_value(ctx, node, state, value))
    return _updated_outputs(node, state)


def _accumulate(opcode: str):
    def rule(ctx, node, inputs):
        state, delta = _state(ctx, node, inputs), inputs[1]
        delta = _check_value(ctx, node, state, delta)
        _update(ctx, node, state, ctx.b.binary(opcode, state.value, delta))
        return _updated_outputs(node, state)

    return rule


for _ops, _opcode in ((("AssignAddVariableOp", "AssignAdd"), "add"),
                      (("AssignSubVariableOp", "AssignSub"), "subtract")):
    lowering(*_ops)(_accumulate(_opcode))


@lowering("ResourceGather")
def _resource_gather(ctx, node, inputs):
    # Gather along axis 0 of the current value: exactly GatherV2 with a constant axis,
    # so whichever GatherV2 lowering is registered does the work.
    state, indices = _state(ctx, node, inputs), inputs[1]
    _check_dtype(ctx, node, state, "dtype")
    if state.shape.rank == 0:
        ctx.error(node, f"variable '{state.name}' is a scalar; ResourceGather needs rank >= 1")
    axis = ctx.b.constant(0, "s32")
    return LOWERINGS["GatherV2"](ctx, node, [state.value, indices, axis])


@lowering("VariableShape")
def _variable_shape(ctx, node, inputs):
    state = _state(ctx, node, inputs)
    return ctx.b.constant(np.asarray(state.shape.dims, ctx.dtype(node, "out_type", np.int32)
                                     .np_dtype))


@lowering(*_RESOURCE_SCATTERS)
def _resource_scatter(ctx, node, inputs):
    # var[indices[i...], ...] (op)= updates[i..., ...]; scalar updates apply to every slice.
    state, indices, updates = _state(ctx, node, inputs), inputs[1], inputs[2]
    want = indices.shape.dims + state.shape.dims[1:]
    if updates.shape.rank == 0:
        updates = ctx.b.broadcast(updates, want, ())
    vectors = ctx.b.reshape(indices, indices.shape.dims + (1,))
    _update(ctx, node, state, scatter_nd(ctx, node, state.value, vectors, updates,
                                         _RESOURCE_SCATTERS[node.op]))
    return []


@lowering(*_RESOURCE_SCATTERS_ND)
def _resource_scatter_nd(ctx, node, inputs):
    state, indices, updates = _state(ctx, node, inputs), inputs[1], inputs[2]
    _update(ctx, node, state, scatter_nd(ctx, node, state.value, indices, updates,
                                         _RESOURCE_SCATTERS_ND[node.op]))
    return []


@lowering("ResourceStridedSliceAssign")
def _resource_strided_slice_assign(ctx, node, inputs):
    state = _state(ctx, node, inputs)
    _update(ctx, node, state, strided_slice_update(ctx, node, state.value, *inputs[1:]))
    return []


# ---------------------------------------------------------------------------------------
# Helpers


def _state(ctx, node, inputs) -> VariableState:
    if not inputs or not isinstance(inputs[0], VariableState):
        ctx.error(node, "input 0 must be a variable listed in the Config (a VarHandleOp or "
                        "VariableV2 node, or an Identity of one)")
    return inputs[0]


def _check_dtype(ctx, node, state: VariableState, attr: str) -> None:
    want = ctx.dtype(node, attr) if attr in node.attr else None
    if want is not None and want != state.shape.element_type:
        ctx.error(node, f"reads variable '{state.name}' as {want.name}, but it holds "
                        f"{state.shape.element_type.name}")


def _check_value(ctx, node, state: VariableState, value) -> Instruction:
    if isinstance(value, VariableState):
        value = value.value
    have, want = value.shape, state.shape
    if have.element_type != want.element_type or have.dims != want.dims:
        ctx.error(node, f"assigns {have.short()} to variable '{state.name}' of "
                        f"{want.short()}; the type and shape must match")
    return value


def _update(ctx, node, state: VariableState, value: Instruction) -> None:
    if state.readonly:
        ctx.error(node, f"assigns to variable '{state.name}', which the Config marks readonly; "
                        "drop 'readonly: true' from its Config entry")
    state.value = value


def _updated_outputs(node, state: VariableState) -> list:
    # Resource assignments have no outputs; the ref ops output the (updated) ref.
    return [state] if node.op in _REF_UPDATE_OPS else []


def _op_of(subgraph, node_name: str) -> str:
    return subgraph.node(node_name).op if node_name in subgraph else "VarHandleOp"


def _fail(message: str):
    raise FrontendError(message)
