"""Reductions as kernels.

Row reduction (the input's most minor dimension is reduced): one block per output
element. Each thread folds the elements at reduced positions tid, tid + B, tid + 2B, ...
(B threads per block; consecutive threads read consecutive addresses) into a partial
value; a warp shuffle tree reduces each warp's partials into its lane 0, lane 0 writes
them to shared memory, and the first warp reduces those the same way. Thread 0 then
combines the block's value with the init value, stores the output element and applies
a fused epilogue to it (a softmax or layer-norm row's reductions are one kernel each).

Partial values start from a thread's first element rather than from the init value (the
init value is only assumed to be *an* operand of the reducer, not its identity), so
each partial carries a flag saying whether it holds anything yet.

Column reduction (the most minor dimension is kept): one thread per output element,
looping over the reduced dimensions (the elemental generator); neighbouring threads read
neighbouring addresses at every step.
"""

from __future__ import annotations

import llvmlite.ir as ir

from aotc.backends.cpu.llvm_types import I1, int_const, register_type
from aotc.hlo import Instruction, Shape

from .fusion import hero_kernel
from .hooks import WARP_SIZE, guarded
from .kernel_emitter import HeroContext, KernelEmitter, ceil_div, delinearize, kernel_rule, \
    parallel_elementwise

#: Threads per block of a row reduction (at most 32 warps, so one warp reduces the
#: warps' partials).
ROW_BLOCK = 256


def is_row_reduction(inst: Instruction) -> bool:
    """Whether `inst` reduces its input's most minor dimension (an array result)."""
    if inst.shape.is_tuple or len(inst.operands) != 2:
        return False
    operand = inst.operands[0].shape
    dims = set(inst.attrs["dimensions"])
    minor = [d for d in operand.layout if operand.dims[d] != 1]
    return bool(minor) and minor[0] in dims


@kernel_rule("reduce")
def reduce_kernel(em: KernelEmitter, inst: Instruction) -> None:
    if not row_reduction_kernel(em, inst, HeroContext(em, inst)):
        parallel_elementwise(em, inst)


@hero_kernel("reduce")
def row_reduction_kernel(em: KernelEmitter, inst: Instruction, context: HeroContext) -> bool:
    """The block-per-row kernel of a row reduction; False for other reductions."""
    if not is_row_reduction(inst) or inst.shape.num_elements == 0:
        return False
    operand, init = inst.operands
    source = operand.shape
    dims = list(inst.attrs["dimensions"])
    kept = [d for d in range(source.rank) if d not in dims]
    # The reduced positions, in the input's memory order, as a shape of their own.
    reduced = Shape.array(source.element_type, [source.dims[d] for d in dims],
                          layout=[dims.index(d) for d in source.layout if d in dims])
    count = reduced.num_elements
    block = min(ROW_BLOCK, max(WARP_SIZE, ceil_div(count, WARP_SIZE) * WARP_SIZE))
    warps = block // WARP_SIZE
    ty = register_type(inst.shape.element_type)
    reducer = inst.to_apply()

    with em.kernel(inst, inst.shape.num_elements, block) as hooks:
        ctx = context.open()
        cg, b = em.cg, em.cg.builder
        row = delinearize(b, hooks.block_index(), inst.shape)
        valid, value = hooks.local(I1), hooks.local(ty)

        def combine(left, right):
            (lv, la), (rv, ra) = left, right
            (both,) = ctx.elemental.apply(reducer, [la, ra])
            merged = b.select(rv, both, la)
            return [b.or_(lv, rv), b.select(lv, merged, ra)]

        def fold(tid):
            valid.store(tid, cg.bool_const(False))  # nothing folded yet
            value.store(tid, ir.Constant(ty, ir.Undefined))

            def step(j):
                position = b.add(b.mul(j, int_const(block)), tid)
                with guarded(cg, b.icmp_unsigned("<", position, int_const(count))):
                    full = [None] * source.rank
                    for d, i in zip(kept, row):
                        full[d] = i
                    for d, i in zip(dims, delinearize(b, position, reduced)):
                        full[d] = i
                    x = ctx.value(operand, full)
                    _, merged = combine([valid.load(tid), value.load(tid)], [cg.bool_const(True), x])
                    valid.store(tid, cg.bool_const(True))
                    value.store(tid, merged)

            with cg.for_range(ceil_div(count, block), name="r") as j:
                step(j)

        hooks.phase(fold)
        hooks.warp_reduce([valid, value], combine)
        if warps > 1:
            shared_valid = hooks.shared(ir.IntType(8), warps)
            shared_value = hooks.shared(ty, warps)

            def publish(tid):
                lane_zero = b.icmp_unsigned("==", b.urem(tid, int_const(WARP_SIZE)), int_const(0))
                with guarded(cg, lane_zero):
                    warp = b.udiv(tid, int_const(WARP_SIZE))
                    b.store(b.zext(valid.load(tid), ir.IntType(8)),
                            b.gep(shared_valid, [warp], source_etype=ir.IntType(8)))
                    b.store(value.load(tid), b.gep(shared_value, [warp], source_etype=ty))

            def gather(tid):
                mine = b.icmp_unsigned("<", tid, int_const(warps))
                slot = b.select(mine, tid, int_const(0))
                flag = b.load(b.gep(shared_valid, [slot], source_etype=ir.IntType(8)), typ=ir.IntType(8))
                valid.store(tid, b.and_(mine, b.trunc(flag, I1)))
                value.store(tid, b.load(b.gep(shared_value, [slot], source_etype=ty), typ=ty))

            hooks.phase(publish)
            hooks.phase(gather)
            hooks.warp_reduce([valid, value], combine)

        def finish(tid):
            with guarded(cg, b.icmp_unsigned("==", tid, int_const(0))):
                start = ctx.value(init, [])
                (total,) = ctx.elemental.apply(reducer, [start, value.load(tid)])
                ctx.store(row, b.select(valid.load(tid), total, start))

        hooks.phase(finish)
    return True
