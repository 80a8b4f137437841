"""Reductions as kernels.

Row reduction (the input's most minor dimension is reduced): one block per output
element. Each thread folds the elements at reduced positions tid, tid + B, tid + 2B, ...
(B threads per block; consecutive threads read consecutive addresses) into a partial
value; a warp shuffle tree reduces each warp's partials into its lane 0, lane 0 writes
them to shared memory, and the first warp reduces those the same way. Thread 0 then
combines the block's value with the init value, stores the output element and applies
a fused epilogue to it. A row group (row_fusion.py: a softmax or layer-norm row) runs
these phases for each of its reduces in one block, keeping each value in shared memory,
then writes the row's outputs (`row_group_kernel`).

Partial values start from a thread's first element rather than from the init value (the
init value is only assumed to be *an* operand of the reducer, not its identity), so
each partial carries a flag saying whether it holds anything yet.

Column reduction (the most minor dimension is kept): a block of 32 x 8 threads for 32
neighbouring output elements; each of the 8 thread rows folds every 8th reduced position
(a warp reads 32 neighbouring addresses at each step), the partials meet in shared memory
and the first thread row folds them in order. With fewer than 32 reduced elements, and
for variadic reduces: one thread per output element looping over the reduced dimensions.
"""

from __future__ import annotations

import llvmlite.ir as ir

from aotc.backends.cpu.fusion_emitter import FusionScope
from aotc.backends.cpu.llvm_types import I1, int_const, register_type
from aotc.hlo import Instruction, Shape
from aotc.passes.fusion_analysis import fused_computation

from .fusion import group_kernel, hero_kernel
from .hooks import WARP_SIZE, guarded
from .row_fusion import row_geometry
from .kernel_emitter import HeroContext, KernelEmitter, ceil_div, delinearize, kernel_rule, \
    parallel_elementwise

#: Threads per block of a row reduction (at most 32 warps, so one warp reduces the
#: warps' partials).
ROW_BLOCK = 256
#: Thread rows of a column reduction's block (32 columns wide), and the fewest reduced
#: elements for which it pays (below, one thread per output element).
COLUMN_ROWS = 8
COLUMN_MIN_REDUCED = 32


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
    if not reduction_kernel(em, inst, HeroContext(em, inst)):
        parallel_elementwise(em, inst)


@hero_kernel("reduce")
def reduction_kernel(em: KernelEmitter, inst: Instruction, context: HeroContext) -> bool:
    """The row or column kernel of a single-output reduce; False where neither applies
    (the caller then computes one output element per thread)."""
    if inst.shape.is_tuple or len(inst.operands) != 2 or inst.shape.num_elements == 0:
        return False
    if is_row_reduction(inst):
        return row_reduction_kernel(em, inst, context)
    if _reduced_count(inst) >= COLUMN_MIN_REDUCED:
        return column_reduction_kernel(em, inst, context)
    return False


def _reduced_shape(inst: Instruction) -> Shape:
    """The reduced positions, in the input's memory order, as a shape of their own."""
    source = inst.operands[0].shape
    dims = list(inst.attrs["dimensions"])
    return Shape.array(source.element_type, [source.dims[d] for d in dims],
                       layout=[dims.index(d) for d in source.layout if d in dims])


def _reduced_count(inst: Instruction) -> int:
    return _reduced_shape(inst).num_elements


def _combiner(ctx, b, reducer):
    """Combines (has value, value) pairs: a side without a value is skipped."""
    def combine(left, right):
        (lv, la), (rv, ra) = left, right
        (both,) = ctx.elemental.apply(reducer, [la, ra])
        merged = b.select(rv, both, la)
        return [b.or_(lv, rv), b.select(lv, merged, ra)]

    return combine


def _input_index(inst: Instruction, out_index: list, reduced_index: list) -> list:
    source = inst.operands[0].shape
    dims = list(inst.attrs["dimensions"])
    full = [None] * source.rank
    for d, i in zip([d for d in range(source.rank) if d not in dims], out_index):
        full[d] = i
    for d, i in zip(dims, reduced_index):
        full[d] = i
    return full


def column_reduction_kernel(em: KernelEmitter, inst: Instruction, context: HeroContext) -> bool:
    """Column reduction: a block of 32 x COLUMN_ROWS threads for 32 consecutive output
    elements (in the output's memory order, so a warp reads 32 neighbouring input
    addresses); thread row ty folds the reduced positions ty, ty + COLUMN_ROWS, ...; the
    partials meet in shared memory and thread row 0 folds them in order and stores."""
    operand, init = inst.operands
    reduced = _reduced_shape(inst)
    count = reduced.num_elements
    outputs = inst.shape.num_elements
    ty = register_type(inst.shape.element_type)
    reducer = inst.to_apply()
    pitch = WARP_SIZE + 1  # a column of the partials spans all shared memory banks

    with em.kernel(inst, ceil_div(outputs, WARP_SIZE), WARP_SIZE * COLUMN_ROWS) as hooks:
        ctx = context.open()
        cg, b = em.cg, em.cg.builder
        combine = _combiner(ctx, b, reducer)
        shared_valid = hooks.shared(ir.IntType(8), COLUMN_ROWS * pitch)
        shared_value = hooks.shared(ty, COLUMN_ROWS * pitch)

        def column(tid):
            lane, row = b.urem(tid, int_const(WARP_SIZE)), b.udiv(tid, int_const(WARP_SIZE))
            out = b.add(b.mul(hooks.block_index(), int_const(WARP_SIZE)), lane)
            slot = b.add(b.mul(row, int_const(pitch)), lane)
            return out, row, slot, b.icmp_unsigned("<", out, int_const(outputs))

        def fold(tid):
            out, row, slot, inside = column(tid)
            has = cg.alloca(I1)
            acc = cg.alloca(ty)
            b.store(cg.bool_const(False), has)
            b.store(ir.Constant(ty, ir.Undefined), acc)
            with guarded(cg, inside):
                out_index = delinearize(b, out, inst.shape)
                with cg.for_range(ceil_div(count, COLUMN_ROWS), name="r") as j:
                    position = b.add(b.mul(j, int_const(COLUMN_ROWS)), row)
                    with guarded(cg, b.icmp_unsigned("<", position, int_const(count))):
                        x = ctx.value(operand, _input_index(inst, out_index,
                                                            delinearize(b, position, reduced)))
                        valid, value = combine([b.load(has, typ=I1), b.load(acc, typ=ty)],
                                               [cg.bool_const(True), x])
                        b.store(valid, has)
                        b.store(value, acc)
            b.store(b.zext(b.load(has, typ=I1), ir.IntType(8)),
                    b.gep(shared_valid, [slot], source_etype=ir.IntType(8)))
            b.store(b.load(acc, typ=ty), b.gep(shared_value, [slot], source_etype=ty))

        def finish(tid):
            out, row, _, inside = column(tid)
            with guarded(cg, b.and_(inside, b.icmp_unsigned("==", row, int_const(0)))):
                has, acc = cg.bool_const(False), ir.Constant(ty, ir.Undefined)
                for r in range(COLUMN_ROWS):  # in order: partial r holds positions = r mod R
                    slot = b.add(int_const(r * pitch), b.urem(tid, int_const(WARP_SIZE)))
                    flag = b.load(b.gep(shared_valid, [slot], source_etype=ir.IntType(8)),
                                  typ=ir.IntType(8))
                    value = b.load(b.gep(shared_value, [slot], source_etype=ty), typ=ty)
                    has, acc = combine([has, acc], [b.trunc(flag, I1), value])
                start = ctx.value(init, [])
                (total,) = ctx.elemental.apply(reducer, [start, acc])
                ctx.store(delinearize(b, out, inst.shape), b.select(has, total, start))

        hooks.phase(fold)
        hooks.phase(finish)
    return True


def _row_block(count: int) -> int:
    """Threads per block for rows of `count` elements: whole warps, at most ROW_BLOCK."""
    return min(ROW_BLOCK, max(WARP_SIZE, ceil_div(count, WARP_SIZE) * WARP_SIZE))


def row_reduction_kernel(em: KernelEmitter, inst: Instruction, context: HeroContext) -> bool:
    """The block-per-row kernel of a row reduction."""
    block = _row_block(_reduced_count(inst))
    with em.kernel(inst, inst.shape.num_elements, block) as hooks:
        ctx = context.open()
        row = delinearize(em.cg.builder, hooks.block_index(), inst.shape)
        block_reduce(em, ctx, inst, row, block, lambda total: ctx.store(row, total))
    return True


def block_reduce(em: KernelEmitter, ctx, inst: Instruction, row: list, block: int,
                 store) -> None:
    """The phases reducing row `row` of `inst` (a row reduce) across the block: partials
    per thread, warp trees, the warps' results through shared memory, a last warp tree;
    then thread 0 calls store(the reduced value). `ctx.value` reads the operand."""
    hooks = em.hooks
    operand, init = inst.operands
    reduced = _reduced_shape(inst)
    count = reduced.num_elements
    warps = block // WARP_SIZE
    ty = register_type(inst.shape.element_type)
    reducer = inst.to_apply()
    cg, b = em.cg, em.cg.builder
    valid, value = hooks.local(I1), hooks.local(ty)
    combine = _combiner(ctx, b, reducer)

    def fold(tid):
        valid.store(tid, cg.bool_const(False))  # nothing folded yet
        value.store(tid, ir.Constant(ty, ir.Undefined))

        def step(j):
            position = b.add(b.mul(j, int_const(block)), tid)
            with guarded(cg, b.icmp_unsigned("<", position, int_const(count))):
                full = _input_index(inst, row, delinearize(b, position, reduced))
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
            store(b.select(valid.load(tid), total, start))

    hooks.phase(finish)


class _SharedValue:
    """A reduce's value for the block's row, kept in one shared-memory slot: read at any
    index of the row (row_fusion.row_group_reduces guarantees only those are asked)."""

    def __init__(self, b: ir.IRBuilder, slot: ir.Value, ty: ir.Type):
        self.b, self.slot, self.ty = b, slot, ty

    def load(self, index: list) -> ir.Value:
        return self.b.load(self.slot, typ=self.ty)


def _logical(shape: Shape) -> Shape:
    """`shape` with the row-major layout: delinearize gives logical linear positions."""
    return Shape.array(shape.element_type, shape.dims)


@group_kernel("kInput")
def row_group_kernel(em: KernelEmitter, fusion: Instruction) -> bool:
    """A row group (row_fusion.py) as one kernel: one block per row, each reduce of the
    fused computation in order as a block reduction into a shared slot, then the root per
    element of the row. False where the fusion is not a row group."""
    computation = fused_computation(fusion)
    geometry = row_geometry(computation)
    if geometry is None or fusion.shape.is_tuple:
        return False
    reduces, rows, count = geometry
    block = _row_block(count)
    with em.kernel(fusion, rows, block) as hooks:
        views = {inst: em.view(inst) for inst in [fusion, *fusion.operands]
                 if not inst.shape.is_tuple}
        scope = FusionScope(em, fusion, em.cg, views)
        ctx = HeroContext(em, reduces[0], fusion)  # reads through the scope, no epilogue
        ctx.elemental, ctx.out = scope.elemental, views[fusion]
        cg, b = em.cg, em.cg.builder
        row = hooks.block_index()
        for inst in reduces:
            ty = register_type(inst.shape.element_type)
            slot = hooks.shared(ty, 1)
            block_reduce(em, ctx, inst, delinearize(b, row, _logical(inst.shape)), block,
                         lambda total, slot=slot: b.store(total, slot))
            scope.place(inst, _SharedValue(b, slot, ty))

        def write(tid):
            def step(j):
                position = b.add(b.mul(j, int_const(block)), tid)
                with guarded(cg, b.icmp_unsigned("<", position, int_const(count))):
                    linear = b.add(b.mul(row, int_const(count)), position)
                    index = delinearize(b, linear, _logical(fusion.shape))
                    ctx.out.store(index, ctx.value(computation.root, index))

            with cg.for_range(ceil_div(count, block), name="w") as j:
                step(j)

        hooks.phase(write)
    return True
