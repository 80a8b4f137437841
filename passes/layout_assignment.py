"""Layout assignment (XLA's LayoutAssignment): a minor-to-major layout for every array value
of the entry computation, chosen so that data is moved as little as possible.

Until this pass every shape has the default row-major layout. The CPU backend addresses
every buffer through its layout, so any choice is *correct*; the choice decides what is
*free*. A `transpose` whose operand is laid out as the permuted result layout, or a
`reshape` between layouts that list the same bytes in the same order, moves nothing: after
choosing layouts this pass replaces such instructions by `bitcast`, which owns no buffer
(buffer assignment gives it its operand's bytes) and emits no code.

Constraints, strongest first:

- *Fixed.* Entry parameters and the values the entry returns keep row-major layout (the C
  API contract). Opcodes without a rule below (while, conditional, convolution, ...) keep
  row-major operands and results, since their emitters may assume it; `get-tuple-element`
  and tuple-shaped values keep theirs. Where a fixed operand layout disagrees with the
  layout its producer ended up with, a `copy` relayouts it.
- *Anchors.* A `dot` computes its result in row-major order and prefers an rhs layout
  that lets its inner loop stream memory: rhs free dims minor (`OPERAND_RULES["dot"]`).
  A constant, or any temporary, feeding a dot takes that layout at no cost; the
  transposed weights of `x @ W.T` are stored transposed at compile time.
- *Propagation.* Every other value takes the layout its users ask for, when they agree
  (else row-major). Users ask through `OPERAND_RULES`: elementwise ops want their operands
  in their own layout (same index, same address, so they stream and can work in place), a
  transpose wants the permuted layout (which makes it a bitcast), a reshape the layout
  that makes it a bitcast when there is one, a broadcast its own layout restricted to the
  operand's dims. Instructions are visited users-first, so requests flow from the anchors
  and results back towards the parameters.

Only the entry computation is laid out; called computations (fused computations, reducers,
loop bodies) see their operands through the caller's buffers or keep their own layouts.
"""

from __future__ import annotations

from typing import Callable

from ..hlo import Computation, Instruction, Module, Shape
from ..hlo.layout_util import (is_bitcast, reshape_operand_layout, row_major,
                               transpose_operand_layout)
from ..hlo.registry import Registry
from .in_place import reaches_root_elementwise
from .pass_base import ModulePass

Layout = tuple[int, ...]

class Required(tuple):
    """A layout an operand must have (its user's emitter needs it). An operand rule returns
    one of these, a plain layout tuple (a preference), or None (no preference)."""


#: opcode -> fn(user, operand index, user's layout) -> Layout | Required | None.
OperandRule = Callable[[Instruction, int, Layout], "Layout | Required | None"]
OPERAND_RULES: Registry[OperandRule] = Registry("operand layout rule")

#: opcode -> fn(instruction) -> its own result layout, for instructions that do not take
#: their users' requests (anchors).
RESULT_RULES: Registry[Callable[[Instruction], Layout]] = Registry("result layout rule")


def operand_rule(*opcodes: str):
    """Register the decorated function as the operand layout rule of `opcodes`."""
    return OPERAND_RULES.register(*opcodes)


def _own_layout(inst: Instruction, k: int, layout: Layout):
    """Same dims, same layout: elementwise ops, slices, pads, concatenation, reverse."""
    operand = inst.operands[k].shape
    same_rank = layout is not None and operand.rank == len(layout)
    return layout if same_rank and not operand.is_tuple else None


def _no_preference(inst: Instruction, k: int, layout: Layout):
    return None


operand_rule("slice", "reverse", "pad", "concatenate")(_own_layout)
operand_rule("reduce", "get-tuple-element")(_no_preference)


@operand_rule("tuple")
def _tuple(inst: Instruction, k: int, layout):
    # Tuples are results or operands of loops and calls, whose callees see row-major.
    return Required(row_major(inst.operands[k].shape.rank))


@operand_rule("transpose")
def _transpose(inst: Instruction, k: int, layout: Layout):
    return transpose_operand_layout(inst.attrs["dimensions"], layout)


@operand_rule("reshape")
def _reshape(inst: Instruction, k: int, layout: Layout):
    return reshape_operand_layout(inst.operands[0].shape.dims, inst.shape.with_layout(layout))


@operand_rule("broadcast")
def _broadcast(inst: Instruction, k: int, layout: Layout):
    # Operand dim i is result dim dimensions[i]: keep the result's order of those dims.
    dims = list(inst.attrs["dimensions"])
    return tuple(dims.index(d) for d in layout if d in dims)


@operand_rule("fusion", "call")
def _fusion(inst: Instruction, k: int, layout: Layout):
    if inst.opcode == "fusion" and inst.attrs.get("kind") != "kLoop":
        return Required(row_major(inst.operands[k].shape.rank))
    operand, computation = inst.operands[k].shape, inst.called_computations[0]
    if operand.is_tuple or inst.shape.is_tuple or operand.dims != inst.shape.dims:
        return None
    return layout if reaches_root_elementwise(computation, computation.parameters[k]) else None


@operand_rule("dot")
def _dot(inst: Instruction, k: int, layout: Layout):
    """rhs: batch, contracting, free dims most minor, so that the emitter's innermost loop
    (over the rhs free dims) streams the rhs and the output row. The lhs is read once per
    (row, contraction step), so its layout barely matters: no request, which lets a
    transposed or reshaped lhs stay a bitcast instead of becoming a copy."""
    if k == 0:
        return None
    rank = inst.operands[k].shape.rank
    batch = list(inst.attrs.get("rhs_batch_dims", ()))
    contracting = list(inst.attrs.get("rhs_contracting_dims", ()))
    free = [d for d in range(rank) if d not in batch + contracting]
    return tuple(reversed(batch + contracting + free))


RESULT_RULES.add("dot", lambda inst: row_major(inst.shape.rank))


def _operand_request(inst: Instruction, k: int, layout: Layout | None):
    """What `inst` asks of its operand k (see OPERAND_RULES); unknown opcodes require
    row-major operands."""
    operand = inst.operands[k].shape
    if operand.is_tuple:
        return None
    if inst.is_elementwise:
        return _own_layout(inst, k, layout)
    rule = OPERAND_RULES.get(inst.opcode)
    if rule is None:
        return Required(row_major(operand.rank))
    # `layout` is None only for tuple-shaped users (variadic reduce, multi-output fusion),
    # whose rules do not look at it.
    return rule(inst, k, layout)


def _physical(shape: Shape, layout: Layout) -> list[int]:
    return [d for d in reversed(layout) if shape.dims[d] != 1]


def _canonical(shape: Shape, layout: Layout) -> Layout:
    """`layout`, or row-major when the two place every element at the same address."""
    default = row_major(shape.rank)
    return default if _physical(shape, layout) == _physical(shape, default) else tuple(layout)


class LayoutAssignment(ModulePass):
    """Chooses layouts for the entry computation and turns free relabelings into bitcasts;
    see the module docstring."""

    name = "layout-assignment"

    def run(self, module: Module) -> bool:
        comp = module.entry
        layouts, required = _choose_layouts(comp)
        changed = _apply(comp, layouts)
        changed |= _insert_copies(comp, required)
        changed |= _make_bitcasts(comp)
        return changed


def _choose_layouts(comp: Computation):
    """Instruction -> chosen layout, and the (user, operand index) -> layout requirements
    the choice may violate (fixed producers), for `_insert_copies`."""
    root = comp.root
    returned = set(root.operands) if root.opcode == "tuple" else {root}
    requests: dict[Instruction, list] = {}
    layouts: dict[Instruction, Layout] = {}
    required: dict[tuple[Instruction, int], Layout] = {}
    for inst in reversed(comp.instructions):
        if inst.shape.is_tuple:
            layout = None
        else:
            layout = _result_layout(inst, inst in returned, requests.get(inst, []))
            layouts[inst] = layout
        for k, operand in enumerate(inst.operands):
            request = _operand_request(inst, k, layout)
            if request is None:
                continue
            request_type = type(request)
            request = request_type(_canonical(operand.shape, request))
            requests.setdefault(operand, []).append(request)
            if isinstance(request, Required):  # the root tuple's operands among them
                required[(inst, k)] = tuple(request)
    return layouts, required


def _result_layout(inst: Instruction, returned: bool, requests: list) -> Layout:
    shape = inst.shape
    if inst.opcode in ("parameter", "get-tuple-element", "bitcast"):
        return shape.layout  # fixed by the caller or by the tuple it reads
    if returned:
        return row_major(shape.rank)
    if inst.opcode in RESULT_RULES:
        return RESULT_RULES[inst.opcode](inst)
    if not inst.is_elementwise and inst.opcode not in OPERAND_RULES and inst.opcode not in (
            "constant", "iota", "parameter"):
        return row_major(shape.rank)  # an opcode this pass knows nothing about
    if inst.opcode == "fusion" and inst.attrs.get("kind") != "kLoop":
        return row_major(shape.rank)
    required = {tuple(r) for r in requests if isinstance(r, Required)}
    if required:
        return min(required)  # several distinct requirements need a copy for all but one
    wanted = {tuple(r) for r in requests}
    return wanted.pop() if len(wanted) == 1 else row_major(shape.rank)


def _apply(comp: Computation, layouts: dict[Instruction, Layout]) -> bool:
    """Set the chosen layouts, then refresh the shapes that merely mirror their operands'
    (tuples, and get-tuple-element of a tuple instruction)."""
    changed = False
    for inst, layout in layouts.items():
        if tuple(inst.shape.layout) != tuple(layout):
            inst.shape = inst.shape.with_layout(layout)
            changed = True
    _refresh_views(comp)
    return changed


def _refresh_views(comp: Computation) -> None:
    for inst in comp.instructions:
        if inst.opcode == "tuple":
            inst.shape = Shape.tuple([op.shape for op in inst.operands])
        elif inst.opcode == "get-tuple-element" and inst.operands[0].opcode == "tuple":
            inst.shape = inst.operands[0].shape.tuple_shapes[inst.attrs["index"]]


def _insert_copies(comp: Computation, required: dict) -> bool:
    """A `copy` wherever an operand's layout is not one its user requires."""
    changed = False
    for (user, k), layout in required.items():
        operand = user.operands[k]
        if operand.shape.is_tuple or _physical(operand.shape, operand.shape.layout) == \
                _physical(operand.shape, layout):
            continue
        copy = Instruction("copy", operand.shape.with_layout(layout), [operand],
                           name=f"{operand.name}.relayout", metadata=operand.metadata)
        comp.add(copy)
        user.operands[k] = copy
        changed = True
    if changed:
        comp.sort()
        _refresh_views(comp)
    return changed


def _make_bitcasts(comp: Computation) -> bool:
    """Replace every transpose, reshape, copy and broadcast that moves no byte by a
    bitcast."""
    changed = False
    for i, inst in enumerate(comp.instructions):
        if inst.opcode not in ("transpose", "reshape", "copy", "broadcast"):
            continue
        operand = inst.operands[0]
        if not is_bitcast(inst.opcode, operand.shape, inst.shape, inst.attrs):
            continue
        bitcast = Instruction("bitcast", inst.shape, [operand], name=inst.name,
                              metadata=inst.metadata)
        comp.instructions[i] = bitcast
        for user in comp.instructions:
            if inst in user.operands:
                user.replace_operand(inst, bitcast)
        if comp.root is inst:
            comp.root = bitcast
        changed = True
    return changed
