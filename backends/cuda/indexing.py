"""scatter and sort as kernels.

scatter: a copy kernel (operand -> output, none when they share a buffer), then one
thread per update element combining it into its target with an atomic
read-combine-write (updates may collide); 8- and 16-bit elements, which have no atomic
compare-and-swap, run the CPU backend's loop on one thread.

sort: copy kernels (operands -> outputs), then one thread per row sorting the row in
place with the CPU backend's scratch-free stable merge sort (backends/cpu/sort.py).
"""

from __future__ import annotations

from dataclasses import replace

from aotc.backends.cpu.emitter import materialize
from aotc.backends.cpu.indexing import scatter_target
from aotc.backends.cpu.sort import SortEmitter
from aotc.hlo import Instruction

from .kernel_emitter import KernelEmitter, kernel_rule


def _copy_kernel(em: KernelEmitter, inst: Instruction, target, operand: Instruction) -> None:
    """target (a buffer of `inst`) = operand, unless they are the same buffer."""
    piece = em.assignment.slice_of(inst) if not inst.shape.is_tuple else None
    if piece is not None and piece.kind != "constant" and piece == em.assignment.slice_of(operand):
        return
    em.elementwise_kernel(inst, operand.shape, lambda index: target().store(
        index, em.elemental.value(operand, index)))


@kernel_rule("scatter")
def scatter_kernel(em: KernelEmitter, inst: Instruction) -> None:
    operand, _, updates = inst.operands
    if inst.shape.element_type.bits not in (32, 64):
        serial_kernel_from_cpu(em, inst)
        return
    _copy_kernel(em, inst, lambda: em.view(inst), operand)
    combine = inst.to_apply()

    def update_one(u_index):
        e = em.elemental
        target, valid = scatter_target(em.cg, e, inst, u_index)
        value = e.value(updates, u_index)
        with em.cg.builder.if_then(valid):
            em.hooks.atomic_combine(em.view(inst).address(target), value,
                                    lambda old, new: e.apply(combine, [old, new])[0])

    em.elementwise_kernel(inst, updates.shape, update_one)


def serial_kernel_from_cpu(em: KernelEmitter, inst: Instruction) -> None:
    """The CPU backend's materializer of `inst` on one device thread."""
    em.serial(inst, lambda: materialize(em, inst))


@kernel_rule("sort")
def sort_kernel(em: KernelEmitter, inst: Instruction) -> None:
    operands = inst.operands
    shapes = inst.shape.tuple_shapes if inst.shape.is_tuple else [inst.shape]

    def views():
        return em.element_views(inst) if inst.shape.is_tuple else [em.view(inst)]

    if any(v is None for v in _probe(em, inst)):
        raise NotImplementedError(f"{inst.name}: sort needs a buffer for every operand")
    for k, operand in enumerate(operands):
        em.elementwise_kernel(inst, operand.shape, lambda index, k=k, operand=operand:
                              views()[k].store(index, em.elemental.value(operand, index)))
    (dim,) = inst.attrs["dimensions"]
    shape = shapes[0]
    if shape.dims[dim] <= 1 or shape.num_elements == 0:
        return
    sorter = SortEmitter(em.llvm_module, em.target, em.constants, inst)
    # One element per row: the sort dimension pinned to 1, the layout kept.
    rows = replace(shape, dims=tuple(1 if d == dim else n for d, n in enumerate(shape.dims)))

    def sort_row(index):
        em.cg.builder.call(sorter.sort_row, [view.address(index) for view in views()])

    em.elementwise_kernel(inst, rows, sort_row)


def _probe(em: KernelEmitter, inst: Instruction) -> list:
    pieces = em.assignment.tuple_slices.get(inst) if inst.shape.is_tuple else [True]
    shapes = inst.shape.tuple_shapes if inst.shape.is_tuple else [inst.shape]
    pieces = list(pieces or [])
    return [pieces[i] if i < len(pieces) else None for i in range(len(shapes))]


__all__ = ["scatter_kernel", "sort_kernel"]
