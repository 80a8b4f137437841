"""An instruction computed per output element, split into tasks: a kernel function whose
task t computes its range of the output's rows (backends/cpu/tasks.py: split_loop_nest).

For instructions the entry function would otherwise compute in a loop of its own: an
elementwise op or a pooling window outside any fusion, or a row reduction (each output element one contiguous row folded in registers,
backends/cpu/reduction.py). Every element is computed by one task with the same code as
the unsplit loop, so the results do not depend on the split or the pool.
"""

from __future__ import annotations

import numpy as np

from aotc.hlo import Instruction
from aotc.runtime.program import BUFFER_ALIGNMENT

from .buffers import BufferView, iteration_order
from .elemental import ElementalEmitter
from .reduction import accumulator_lanes
from .tasks import split_count, split_loop_nest, task_kernel


def row_reduce_tasks(em, inst: Instruction) -> int:
    """Tasks worth splitting reduce `inst` into in the entry function: rows of its output
    when it folds contiguous rows in registers and is big enough; 1 otherwise (a full
    reduction to one element keeps its one fixed order)."""
    if not em.in_entry or em.threads <= 1 or inst.shape.is_tuple \
            or any(op.shape.is_tuple for op in inst.operands) \
            or accumulator_lanes(em.cg.target, inst) <= 1:
        return 1
    shape = inst.shape
    return split_count(shape.dims, iteration_order(shape),
                       inst.operands[0].shape.num_elements, em.threads)


def elementwise_tasks(em, inst: Instruction) -> int:
    """Tasks worth splitting `inst` into when the entry function computes it element by
    element (an elementwise op outside any fusion, a pooling reduce-window): rows of its
    output, from MIN_TASK_ELEMENTS of work (elements, times the window for a
    reduce-window) per task; 1 otherwise."""
    if not em.in_entry or em.threads <= 1 or inst.shape.is_tuple \
            or any(op.shape.is_tuple for op in inst.operands):
        return 1
    work = inst.shape.num_elements
    if inst.opcode == "reduce-window":
        work *= int(np.prod([w.size for w in inst.attrs["window"]], dtype=np.int64))
    return split_count(inst.shape.dims, iteration_order(inst.shape), work, em.threads)


def emit_split_elementwise(em, inst: Instruction, tasks: int) -> None:
    """Compute `inst` element by element from its operands' buffers in a kernel of `tasks`
    tasks run from the entry function (em: the entry emitter)."""
    operands = [op for op in dict.fromkeys(inst.operands) if op.opcode != "constant"]
    pointers = [em.pointer_of(inst), *(em.pointer_of(op) for op in operands)]
    kernel, cg = task_kernel(em.llvm_module, f"{inst.opcode}.{inst.name}", len(pointers),
                             em.target, BUFFER_ALIGNMENT)
    views = {op: BufferView(cg, arg, op.shape) for op, arg in zip(operands, kernel.args[1:])}
    elemental = ElementalEmitter(cg, em.constants,
                                 lambda i: views[i].load if i in views else None)
    out = BufferView(cg, kernel.args[0], inst.shape)
    split_loop_nest(cg, list(inst.shape.dims), iteration_order(inst.shape),
                    lambda index: out.store(index, elemental.generate(inst, index)),
                    kernel.args[-1], tasks)
    cg.builder.ret_void()
    em.run_tasks(kernel, pointers, tasks)


__all__ = ["elementwise_tasks", "emit_split_elementwise", "row_reduce_tasks"]
