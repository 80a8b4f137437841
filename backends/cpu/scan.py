"""Scans on the CPU: a reduce-window whose window spans one whole dimension, padded so
that window i ends (or, reversed, starts) at element i, is a running fold. That is how
Cumsum, Cumprod and CumulativeLogsumexp lower (frontend/ops/scan.py, as in tf2xla); the
elemental rule would fold n taps per element, O(n^2) per row. Materialized here instead:

    forward:  acc = init; for i in 0..n-1:     acc = f(acc, x[i]); out[i] = acc
    reverse:  acc = init; for i in n-1..0:     acc = f(acc, x[i]); out[i] = acc

When the scanned dimension is the most minor, each row keeps its accumulator in a
register; otherwise the loop over the scanned dimension is outside the loops over the more
minor dimensions, which read the previous output row (contiguous, so they vectorize).
Forward scans fold in the evaluator's order (bit-identical); reverse scans fold from the
end, as TensorFlow does, which for floats may round differently from the evaluator's
window order.

Rows are independent: with --threads above 1 a big scan (a constant init, at least one
dimension outside the scanned one) is a kernel whose tasks each take a range of the
rows (backends/cpu/tasks.py), every row scanned by one task in the same order.
"""

from __future__ import annotations

from aotc.hlo import Instruction

from aotc.runtime.program import BUFFER_ALIGNMENT

from .buffers import BufferView, iteration_order
from .elemental import ElementalEmitter
from .emitter import EntryEmitter, materialize_elementwise, materializer
from .llvm_types import int_const, register_type
from .tasks import split_count, split_loop_nest, task_kernel


def scan_axis(inst: Instruction) -> tuple[int, bool] | None:
    """(axis, reverse) when the reduce-window `inst` is a scan along `axis`, else None."""
    if inst.shape.is_tuple or len(inst.operands) != 2:
        return None
    dims = inst.operands[0].shape.dims
    found = None
    for d, w in enumerate(inst.attrs["window"]):
        if (w.stride, w.window_dilation, w.base_dilation) != (1, 1, 1):
            return None
        if (w.size, w.padding_low, w.padding_high) == (1, 0, 0):
            continue
        n = dims[d]
        if found is not None or w.size != n or n < 2:
            return None
        if (w.padding_low, w.padding_high) == (n - 1, 0):
            found = (d, False)
        elif (w.padding_low, w.padding_high) == (0, n - 1):
            found = (d, True)
        else:
            return None
    return found


@materializer("reduce-window")
def _materialize_reduce_window(em: EntryEmitter, inst: Instruction) -> None:
    scan = scan_axis(inst)
    if scan is None:
        materialize_elementwise(em, inst)
        return
    axis, _ = scan
    order = iteration_order(inst.shape)
    outer = order[:order.index(axis)]
    tasks = 1
    if em.threads > 1 and outer and inst.operands[1].opcode == "constant":
        tasks = split_count(inst.shape.dims, outer, inst.shape.num_elements, em.threads)
    if tasks == 1:
        _emit_scan(em.cg, em.elemental, inst, em.view(inst), em.view(inst.operands[0]), scan)
        return
    kernel, cg = task_kernel(em.llvm_module, f"scan.{inst.name}", 2, em.target,
                             BUFFER_ALIGNMENT)
    out, x = (BufferView(cg, arg, i.shape) for arg, i in zip(kernel.args, (inst, inst.operands[0])))
    # The init is a constant: nothing but the two buffers is read.
    elemental = ElementalEmitter(cg, em.constants, lambda _inst: None)
    _emit_scan(cg, elemental, inst, out, x, scan, (kernel.args[-1], tasks))
    cg.builder.ret_void()
    em.run_tasks(kernel, [em.pointer_of(inst), em.pointer_of(inst.operands[0])], tasks)


def _emit_scan(cg, e, inst: Instruction, out, x, scan, split=None) -> None:
    """The running fold of the module docstring into `cg`'s function (out and x: views
    of the output and the operand): all rows, or with split = (task, tasks) that task's
    range of the rows (the dimensions outside the scanned one)."""
    axis, reverse = scan
    b = cg.builder
    init = inst.operands[1]
    reducer = inst.to_apply()
    n = inst.shape.dims[axis]
    order = iteration_order(inst.shape)
    outer = order[:order.index(axis)]
    inner = order[order.index(axis) + 1:]

    def rows(extents, dims, body, name):  # the loops over the independent rows
        if split is None:
            cg.loop_nest(extents, dims, body, name=name)
        else:
            split_loop_nest(cg, extents, dims, body, *split, name=name)

    def position(step):  # the element the step-th iteration visits
        return b.sub(int_const(n - 1), step) if reverse else step

    if not inner:  # the scanned dimension is the most minor: a register accumulator
        ty = register_type(inst.shape.element_type)

        def row(index):
            slot = cg.alloca(ty, name="scan.acc")
            b.store(e.value(init, []), slot)
            with cg.for_range(n, name="scan") as step:
                at = list(index)
                at[axis] = position(step)
                (acc,) = e.apply(reducer, [b.load(slot, typ=ty), x.load(at)])
                b.store(acc, slot)
                out.store(at, acc)

        extents = list(inst.shape.dims)
        extents[axis] = 1
        rows(extents, outer, row, "scan_row")
        return

    def plane(index):  # one step of the scan, over every index of the more minor dims
        step = index[axis]
        at = position(step)
        previous = b.add(at, int_const(1)) if reverse else b.sub(at, int_const(1))
        first = b.icmp_signed("==", step, int_const(0))

        def element(full):
            here = list(full)
            here[axis] = at
            before = list(full)
            before[axis] = b.select(first, at, previous)  # a valid index, unused when first
            acc = b.select(first, e.value(init, []), out.load(before))
            (value,) = e.apply(reducer, [acc, x.load(here)])
            out.store(here, value)

        extents = list(inst.shape.dims)
        for d in outer + [axis]:
            extents[d] = 1
        cg.loop_nest(extents, inner, lambda full: element(
            [index[d] if d in outer or d == axis else full[d] for d in range(inst.shape.rank)]),
            name="scan_in")

    extents = list(inst.shape.dims)
    for d in inner:
        extents[d] = 1

    def row(index):  # one independent row: the steps along the axis, in order
        cg.loop_nest(extents, [axis], lambda at: plane(
            [at[d] if d == axis else index[d] for d in range(inst.shape.rank)]), name="scan_step")

    extents_outer = list(extents)
    extents_outer[axis] = 1
    rows(extents_outer, outer, row, "scan_out")
