"""`while` and `conditional` on the CPU: each called computation is its own function.

Buffer assignment (passes/control_flow_buffers.py) turns every computation a while or
conditional calls into a flat clone with one array parameter per element and a tuple of
results, with its own region of the temp arena. Such a computation is emitted exactly
like the entry's implementation function, by an `EntryEmitter` of its own:

    internal void f(arg0, ..., argN-1, result0, ..., resultM-1, temps)

with every pointer `noalias align 64`: the arguments are the caller's buffers of the
state or operand, the results are buffers the caller reads afterwards, and `temps` is the
computation's region. LLVM inlines these functions where that pays off.

A while copies the initial values into its state buffers (one per element of its tuple
value, owned by the caller), then loops:

    header:  condition(state..., &pred, region);  if (!pred) goto exit
    body:    body(state..., next..., region);  state[k] = next[r] for each changing k
             goto header

The body never writes the state directly, since it may still read an element after
computing that element's next value; elements it passes through unchanged are neither
results nor copied. A conditional loads its selector and switches to one call per
branch, the branch writing straight into the conditional's buffers; an index outside
[0, N) takes the last branch (the switch's default), as XLA defines it.
"""

from __future__ import annotations

import weakref

import llvmlite.ir as ir

from aotc.hlo import Instruction

from .emitter import EntryEmitter, materializer
from .llvm_types import I8, int_const


#: emitter -> {id of a FlatComputation: its function}: a computation called from several
#: places of one caller (CSE merges identical ones) is emitted once.
_EMITTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _emit_computation(em: EntryEmitter, flat, label: str) -> ir.Function:
    """The function computing `flat` (a FlatComputation), sharing the caller's module and
    constant pool."""
    emitted = _EMITTED.setdefault(em, {})
    if id(flat) not in emitted:
        child = EntryEmitter(em.llvm_module, flat.module, flat.assignment, em.target,
                             threads=em.threads)
        child.constants = em.constants
        child.kernels = em.kernels
        emitted[id(flat)] = (flat, child._emit_impl(em.llvm_module.get_unique_name(label)))
    return emitted[id(flat)][1]


def _temp(em: EntryEmitter, offset: int) -> ir.Value:
    """A pointer `offset` bytes into the caller's temp region."""
    temps = em.temps_arg
    return em.cg.builder.gep(temps, [int_const(offset)], inbounds=True, source_etype=I8)


def element_pointers(em: EntryEmitter, inst: Instruction) -> list[ir.Value]:
    """The buffer of each element of `inst`'s value (the value itself for an array)."""
    if not inst.shape.is_tuple:
        return [em.pointer_of(inst)]
    if inst.opcode == "tuple":
        if any(op.shape.is_tuple for op in inst.operands):
            raise NotImplementedError(f"{inst.name}: nested tuples passed to control flow")
        return [em.pointer_of(op) for op in inst.operands]
    pieces = em.assignment.tuple_slices[inst]
    return [em._slice_pointer(piece) for piece in pieces]


@materializer("while")
def _materialize_while(em: EntryEmitter, inst: Instruction) -> None:
    buffers = em.assignment.nested[inst]
    condition = _emit_computation(em, buffers.condition, f"{inst.name}.condition")
    body = _emit_computation(em, buffers.body, f"{inst.name}.body")
    b = em.cg.builder
    state = element_pointers(em, inst)
    sizes = [s.byte_size for s in inst.shape.tuple_shapes]
    for target, source, size in zip(state, element_pointers(em, inst.operands[0]), sizes):
        em._copy(target, source, size)
    region = _temp(em, buffers.temp_offset)
    pred = _temp(em, buffers.condition_result_offset)
    following = [_temp(em, offset) for offset in buffers.body_result_offsets]

    header = em.function.append_basic_block(f"{inst.name}.header")
    loop = em.function.append_basic_block(f"{inst.name}.body")
    exit_ = em.function.append_basic_block(f"{inst.name}.exit")
    b.branch(header)
    b.position_at_end(header)
    b.call(condition, [*state, pred, region, em.options])
    holds = b.icmp_unsigned("!=", b.load(pred, typ=I8), ir.Constant(I8, 0))
    b.cbranch(holds, loop, exit_)
    b.position_at_end(loop)
    b.call(body, [*state, *following, region, em.options])
    for result, element in zip(following, buffers.body.result_elements):
        em._copy(state[element], result, sizes[element])
    b.branch(header)
    b.position_at_end(exit_)


@materializer("conditional")
def _materialize_conditional(em: EntryEmitter, inst: Instruction) -> None:
    buffers = em.assignment.nested[inst]
    branches = [_emit_computation(em, flat, f"{inst.name}.branch{k}")
                for k, flat in enumerate(buffers.branches)]
    b = em.cg.builder
    results = element_pointers(em, inst)
    operands = [element_pointers(em, op) for op in inst.operands[1:]]
    region = _temp(em, buffers.temp_offset)
    selector = em.view(inst.operands[0]).load([])
    if inst.operands[0].shape.element_type.is_pred:
        i32 = ir.IntType(32)
        selector = b.select(selector, ir.Constant(i32, 0), ir.Constant(i32, 1))  # true: 0

    blocks = [em.function.append_basic_block(f"{inst.name}.branch{k}")
              for k in range(len(branches))]
    merge = em.function.append_basic_block(f"{inst.name}.merge")
    switch = b.switch(selector, blocks[-1])
    for k, block in enumerate(blocks[:-1]):
        switch.add_case(ir.Constant(selector.type, k), block)
    for fn, block, args in zip(branches, blocks, operands):
        b.position_at_end(block)
        b.call(fn, [*args, *results, region, em.options])
        b.branch(merge)
    b.position_at_end(merge)
