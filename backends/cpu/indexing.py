"""Indexing ops on the CPU: gather, scatter, dynamic-slice, dynamic-update-slice, sort
(semantics in hlo/indexing.py).

gather, dynamic-slice and dynamic-update-slice have elemental rules, so they can be
fused: an output element is one operand element at a computed index. Start indices are
widened to i64 and clamped as XLA defines, which also keeps every load in bounds without
a branch.

dynamic-update-slice in the entry computation is materialized as a copy of the operand
(none when the result shares the operand's buffer) followed by a loop over the update
only. scatter and sort have no elemental form (an
output element depends on every update, or on the whole row): scatter copies the operand
into its output and then combines each update in, in row-major order of the updates,
skipping windows that are not wholly inside the operand; sort copies its operands into
the output buffers and sorts each row there (backends/cpu/sort.py).
"""

from __future__ import annotations

import llvmlite.ir as ir

from aotc.hlo import Instruction
from aotc.hlo.dtypes import S64
from aotc.hlo.indexing import (gather_offset_operand_dims, gather_output_batch_dims,
                               scatter_update_scatter_dims, scatter_window_operand_dims,
                               scatter_window_sizes)

from .buffers import iteration_order
from .elemental import ElementalEmitter, elemental
from .emitter import EntryEmitter, materializer
from .llvm_types import int_const
from .scalar_ops import emit_convert
from .sort import SortEmitter


def _widen(e: ElementalEmitter, index_inst: Instruction, value: ir.Value) -> ir.Value:
    """An index element as i64 (sign- or zero-extended by its type)."""
    return emit_convert(e.cg, index_inst.shape.element_type, S64, value)


def _clamp(b: ir.IRBuilder, value: ir.Value, high: int) -> ir.Value:
    """`value` clamped into [0, high] (signed; high >= 0)."""
    value = b.select(b.icmp_signed("<", value, int_const(0)), int_const(0), value)
    return b.select(b.icmp_signed(">", value, int_const(high)), int_const(high), value)


def index_vector_element(e: ElementalEmitter, indices: Instruction, index_vector_dim: int,
                          batch_index: list, k: int) -> ir.Value:
    """Element k of the index vector at `batch_index` (indices' non-vector dims), as i64."""
    full = list(batch_index)
    if index_vector_dim < indices.shape.rank:
        full.insert(index_vector_dim, int_const(k))
    return _widen(e, indices, e.value(indices, full))


def _clamped_starts(e: ElementalEmitter, starts: list[Instruction], operand_dims,
                    sizes) -> list[ir.Value]:
    """dynamic-slice/-update-slice starts clamped into [0, dim - size] (constant 0 when
    the size is the whole dimension, with no load at all)."""
    result = []
    for start, extent, size in zip(starts, operand_dims, sizes):
        high = extent - size
        if high == 0:
            result.append(int_const(0))
        else:
            result.append(_clamp(e.b, _widen(e, start, e.value(start, [])), high))
    return result


# -- elemental rules ------------------------------------------------------------------------


@elemental("gather")
def _gather(e: ElementalEmitter, inst: Instruction, index):
    b = e.b
    operand, indices = inst.operands
    attrs = inst.attrs
    sizes = attrs["slice_sizes"]
    batch_index = [index[p] for p in gather_output_batch_dims(attrs, inst.shape.rank)]
    operand_index = [int_const(0)] * operand.shape.rank
    for k, d in enumerate(attrs["start_index_map"]):
        high = operand.shape.dims[d] - sizes[d]
        if high > 0:  # else the slice spans the dimension and the start is always 0
            start = index_vector_element(e, indices, attrs["index_vector_dim"], batch_index, k)
            operand_index[d] = _clamp(b, start, high)
    offset_dims = gather_offset_operand_dims(attrs, operand.shape.rank)
    for position, d in zip(attrs["offset_dims"], offset_dims):
        start = operand_index[d]
        is_zero = isinstance(start, ir.Constant) and start.constant == 0
        operand_index[d] = index[position] if is_zero else b.add(start, index[position])
    return e.value(operand, operand_index)


@elemental("dynamic-slice")
def _dynamic_slice(e: ElementalEmitter, inst: Instruction, index):
    operand, starts = inst.operands[0], inst.operands[1:]
    begin = _clamped_starts(e, starts, operand.shape.dims, inst.attrs["dynamic_slice_sizes"])
    return e.value(operand, [e.b.add(i, s) for i, s in zip(index, begin)])


@elemental("dynamic-update-slice")
def _dynamic_update_slice(e: ElementalEmitter, inst: Instruction, index):
    b = e.b
    operand, update, starts = inst.operands[0], inst.operands[1], inst.operands[2:]
    original = e.value(operand, index)
    if update.shape.num_elements == 0:
        return original
    begin = _clamped_starts(e, starts, operand.shape.dims, update.shape.dims)
    inside = e.cg.bool_const(True)
    update_index = []
    for i, start, extent in zip(index, begin, update.shape.dims):
        relative = b.sub(i, start)
        # Unsigned: a negative offset wraps to a huge value and fails the test too.
        ok = b.icmp_unsigned("<", relative, int_const(extent))
        inside = b.and_(inside, ok)
        update_index.append(b.select(ok, relative, int_const(0)))  # always a valid load
    return b.select(inside, e.value(update, update_index), original)


# -- materializers --------------------------------------------------------------------------


def _copy_operand(em: EntryEmitter, inst: Instruction, operand: Instruction) -> None:
    """inst's buffer = operand's value (the starting point of an in-place update). Nothing
    to do when buffer assignment put the result in the operand's own buffer
    (passes/in_place/indexing.py)."""
    piece = em.assignment.slice_of(inst)
    if piece is not None and piece.kind != "constant" and piece == em.assignment.slice_of(operand):
        return
    em.store_loop(em.view(inst), lambda index: em.elemental.value(operand, index))


@materializer("dynamic-update-slice")
def _materialize_dynamic_update_slice(em: EntryEmitter, inst: Instruction) -> None:
    """Copy the operand, then write the update over it: only the update is looped over."""
    b = em.cg.builder
    operand, update, starts = inst.operands[0], inst.operands[1], inst.operands[2:]
    _copy_operand(em, inst, operand)
    if update.shape.num_elements == 0:
        return
    begin = _clamped_starts(em.elemental, starts, operand.shape.dims, update.shape.dims)
    out = em.view(inst)

    def write(index):
        target = [b.add(i, s) for i, s in zip(index, begin)]
        out.store(target, em.elemental.value(update, index))

    em.cg.loop_nest(list(update.shape.dims), iteration_order(update.shape), write, name="u")


def scatter_target(cg, e: ElementalEmitter, inst: Instruction, u_index):
    """The operand index that update element `u_index` of scatter `inst` lands on, and an
    i1 that is false when its window does not fit in the operand (XLA then skips it).

    Both backends' scatters share this index arithmetic; only the read-modify-write of
    the output differs (a plain load/store on the CPU, an atomic on a GPU)."""
    b = cg.builder
    operand, indices, updates = inst.operands
    attrs = inst.attrs
    rank = operand.shape.rank
    window = scatter_window_sizes(attrs, rank, updates.shape.dims)
    batch_index = [u_index[d] for d in scatter_update_scatter_dims(attrs, updates.shape.rank)]
    target = [int_const(0)] * rank
    valid = cg.bool_const(True)
    for k, d in enumerate(attrs["scatter_dims_to_operand_dims"]):
        start = index_vector_element(e, indices, attrs["index_vector_dim"], batch_index, k)
        # 0 <= start <= dim - window, as one unsigned compare (negatives wrap high).
        fits = b.icmp_unsigned("<=", start, int_const(operand.shape.dims[d] - window[d]))
        valid = b.and_(valid, fits)
        target[d] = start
    for d, u in zip(scatter_window_operand_dims(attrs, rank), attrs["update_window_dims"]):
        target[d] = b.add(target[d], u_index[u])
    return target, valid


@materializer("scatter")
def _materialize_scatter(em: EntryEmitter, inst: Instruction) -> None:
    b = em.cg.builder
    e = em.elemental
    operand, _, updates = inst.operands
    _copy_operand(em, inst, operand)
    out = em.view(inst)
    combine = inst.to_apply()

    def update_one(u_index):
        target, valid = scatter_target(em.cg, e, inst, u_index)
        value = e.value(updates, u_index)
        # Everything above is computed unconditionally; only the read-modify-write of the
        # output (whose address is valid only for a valid window) is guarded.
        with b.if_then(valid):
            (combined,) = e.apply(combine, [out.load(target), value])
            out.store(target, combined)

    if updates.shape.num_elements:
        em.cg.loop_nest(list(updates.shape.dims), iteration_order(updates.shape), update_one,
                        name="u")


#: Longest prefix for which a sort selects instead of sorting (the selection moves up to
#: this many elements per replacement; a full sort is cheaper past it).
MAX_SELECTED_PREFIX = 64


def prefix_read(computation, inst: Instruction, dim: int) -> int | None:
    """The length of the prefix along `dim` that every reader of `inst` (through
    get-tuple-elements and into fusions) is limited to by a slice starting at 0; None when
    some reader may read the whole row, or the prefix is longer than MAX_SELECTED_PREFIX."""
    users = computation.users()
    need = 0
    for user in users.get(inst, []):
        if user.opcode == "get-tuple-element":
            found = prefix_read(computation, user, dim)
        elif user.opcode == "slice" and user.attrs["slice"][dim][0] == 0 and (
                user.attrs["slice"][dim][2] == 1):
            found = user.attrs["slice"][dim][1]
        elif user.opcode == "fusion":
            fused = user.called_computations[0]
            found = 0
            for k, operand in enumerate(user.operands):
                if operand is inst:
                    inner = prefix_read(fused, fused.parameter(k), dim)
                    found = None if inner is None else max(found, inner)
                    if found is None:
                        break
        else:
            found = None
        if found is None:
            return None
        need = max(need, found)
    return need if need <= MAX_SELECTED_PREFIX else None


@materializer("sort")
def _materialize_sort(em: EntryEmitter, inst: Instruction) -> None:
    operands = inst.operands
    views = em.element_views(inst) if inst.shape.is_tuple else [em.view(inst)]
    if any(v is None for v in views):
        raise NotImplementedError(f"{inst.name}: sort needs a buffer for every operand")
    for view, operand in zip(views, operands):
        em.store_loop(view, lambda index, operand=operand: em.elemental.value(operand, index))
    shape = views[0].shape
    (dim,) = inst.attrs["dimensions"]
    if shape.dims[dim] <= 1 or shape.num_elements == 0:
        return
    sorter = SortEmitter(em.llvm_module, em.target, em.constants, inst,
                         keep=prefix_read(em.module.entry, inst, dim))
    b = em.cg.builder
    # One call per row: every index with the sort dimension pinned to 0.
    row_dims = list(shape.dims)
    row_dims[dim] = 1

    def sort_row(index):
        bases = [view.address(index) for view in views]
        b.call(sorter.sort_row, bases)

    em.cg.loop_nest(row_dims, iteration_order(shape), sort_row, name="row")
