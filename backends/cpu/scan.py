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
"""

from __future__ import annotations

from aotc.hlo import Instruction

from .buffers import iteration_order
from .emitter import EntryEmitter, materialize_elementwise, materializer
from .llvm_types import int_const, register_type


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
    axis, reverse = scan
    cg, b, e = em.cg, em.cg.builder, em.elemental
    operand, init = inst.operands
    out, x = em.view(inst), em.view(operand)
    reducer = inst.to_apply()
    n = inst.shape.dims[axis]
    order = iteration_order(inst.shape)
    outer = order[:order.index(axis)]
    inner = order[order.index(axis) + 1:]

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
        cg.loop_nest(extents, outer, row, name="scan_row")
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
    cg.loop_nest(extents, outer + [axis], plane, name="scan_out")
