"""Dot as a tiled shared-memory GEMM (batched), and convolution as an implicit GEMM, for
float results.

The dot's output index is (batch..., lhs free..., rhs free...); the kernel sees it as a
batch of M x N matrices with a K-long contraction, where M, N and K are the products of
the lhs free, rhs free and contracting extents (each multi-index is recovered
row-major over its dimensions, and every load goes through the operand's layout, so
any dimension numbers and layouts work). One block of TILE x TILE threads computes one
TILE x TILE output tile: for each K tile, every thread loads one lhs and one rhs
element into shared memory (zero outside the matrices), a barrier, then each thread
accumulates its row of the lhs tile times its column of the rhs tile. Thread (ty, tx)
finally stores output (m0 + ty, n0 + tx) and applies a fused epilogue there.
Operands that are fused producers (a transpose, a convert) are computed as they are
loaded. f16 accumulates in f32, as on the CPU.

A convolution without feature groups is the same kernel over (output positions) x
(output features) with a (kernel taps x input features) contraction, its lhs tile
gathered from the input on the fly (`implicit_gemm_kernel`).
"""

from __future__ import annotations

from dataclasses import dataclass

import llvmlite.ir as ir

from aotc.backends.cpu.convolution import ConvGeometry
from aotc.backends.cpu.elemental import accumulator_type, dot_dimensions, dot_operand_indices
from aotc.backends.cpu.half import float_to_half, half_to_float
from aotc.backends.cpu.llvm_types import HALF, int_const, register_type
from aotc.hlo import Instruction

from .fusion import hero_kernel
from .hooks import guarded
from .kernel_emitter import HeroContext, KernelEmitter, ceil_div, kernel_rule, parallel_elementwise

TILE = 16
_PITCH = TILE + 1  # one extra column: a tile column spans all shared memory banks


def _split(b: ir.IRBuilder, linear: ir.Value, extents: list[int]) -> list:
    """The row-major multi-index of `linear` over `extents`."""
    index = []
    for k in range(len(extents) - 1, -1, -1):
        extent = extents[k]
        index.append(b.urem(linear, int_const(extent)) if k else linear)
        if k:
            linear = b.udiv(linear, int_const(extent))
    return list(reversed(index))


@kernel_rule("dot")
def dot_kernel(em: KernelEmitter, inst: Instruction) -> None:
    if not gemm_kernel(em, inst, HeroContext(em, inst)):
        parallel_elementwise(em, inst)


@hero_kernel("dot")
def gemm_kernel(em: KernelEmitter, inst: Instruction, context: HeroContext) -> bool:
    """The tiled kernel of a float dot; False for other element types."""
    t = inst.shape.element_type
    lhs, rhs = inst.operands
    lb, rb, lc, rc, lf, rf = dot_dimensions(inst)
    batch_extents = [lhs.shape.dims[d] for d in lb]
    m_extents = [lhs.shape.dims[d] for d in lf]
    n_extents = [rhs.shape.dims[d] for d in rf]
    k_extents = [lhs.shape.dims[d] for d in lc]
    if not t.is_float or inst.shape.num_elements == 0 or _product(k_extents) == 0:
        return False  # (an empty contraction: zeros, from the elemental generator)

    def out_index(b, batch, row, col):
        return (_split(b, batch, batch_extents) + _split(b, row, m_extents)
                + _split(b, col, n_extents))

    def element(ctx, b, k, batch, row, col):
        """Operand k's element (row, col) of the batch's matrix (lhs: M x K, rhs: K x N)."""
        if k == 0:
            index = out_index(b, batch, row, int_const(0))
            contracting = _split(b, col, k_extents)
        else:
            index = out_index(b, batch, int_const(0), col)
            contracting = _split(b, row, k_extents)
        lhs_index, rhs_index = dot_operand_indices(inst, index, contracting)
        return ctx.value(inst.operands[k], lhs_index if k == 0 else rhs_index)

    emit_tiled_gemm(em, inst, context, GemmShape(*(_product(e) for e in (
        batch_extents, m_extents, n_extents, k_extents))), element, out_index)
    return True


@hero_kernel("convolution")
def implicit_gemm_kernel(em: KernelEmitter, inst: Instruction, context: HeroContext) -> bool:
    """A float convolution without feature groups as an implicit GEMM: rows are output
    positions (batch and spatial indices), columns output features, and the contraction
    runs over (kernel taps, input features); the lhs tile is gathered from the input as
    it is loaded (zero where a tap falls into padding or a dilation hole)."""
    t = inst.shape.element_type
    geometry = ConvGeometry(inst)
    if not t.is_float or geometry.groups != 1 or inst.shape.num_elements == 0:
        return False
    dn = geometry.dn
    dims = inst.shape.dims
    row_dims = [dn.output_batch, *dn.output_spatial]
    row_extents = [dims[d] for d in row_dims]
    k_extents = geometry.kernel_sizes + [geometry.group_inputs]
    if _product(k_extents) == 0:
        return False
    spatial = len(geometry.kernel_sizes)

    def out_index(b, batch, row, col):
        index = [None] * inst.shape.rank
        for d, i in zip(row_dims, _split(b, row, row_extents)):
            index[d] = i
        index[dn.output_feature] = col
        return index

    def element(ctx, b, k, batch, row, col):
        if k == 0:  # input at output position `row`, tap and input feature `col`
            taps = _split(b, col, k_extents)
            position = out_index(b, batch, row, int_const(0))
            positions, inside = geometry.taps(b, position, taps[:spatial])
            value = ctx.value(inst.operands[0], geometry.lhs_index(position, taps[spatial], positions))
            return b.select(inside, _widen_value(em, value), ir.Constant(accumulator_type(t), 0.0))
        taps = _split(b, row, k_extents)  # kernel at tap and input feature `row`, output `col`
        return ctx.value(inst.operands[1], geometry.rhs_index(taps[:spatial], taps[spatial], col))

    emit_tiled_gemm(em, inst, context, GemmShape(1, _product(row_extents), geometry.outputs,
                                                 _product(k_extents)), element, out_index)
    return True


@kernel_rule("convolution")
def convolution_kernel(em: KernelEmitter, inst: Instruction) -> None:
    """Implicit GEMM where it applies; else (feature groups: depthwise) one thread per
    output element."""
    if not implicit_gemm_kernel(em, inst, HeroContext(em, inst)):
        parallel_elementwise(em, inst)


@dataclass(frozen=True)
class GemmShape:
    """`batches` independent products of an M x K and a K x N matrix."""

    batches: int
    m: int
    n: int
    k: int


def _widen_value(em: KernelEmitter, value):
    return half_to_float(em.cg, value) if value.type == HALF else value


def emit_tiled_gemm(em: KernelEmitter, inst: Instruction, context: HeroContext, shape: GemmShape,
                    element, out_index) -> None:
    """The tiled kernel. element(ctx, b, k, batch, row, col) is operand k's element
    (called only inside the matrix); out_index(b, batch, row, col) the output index."""
    t = inst.shape.element_type
    tiles_m, tiles_n = ceil_div(shape.m, TILE), ceil_div(shape.n, TILE)
    acc_type = accumulator_type(t)
    zero = ir.Constant(acc_type, 0.0)

    with em.kernel(inst, shape.batches * tiles_m * tiles_n, TILE * TILE) as hooks:
        ctx = context.open()
        cg, b = em.cg, em.cg.builder
        block = hooks.block_index()
        tile_n = b.urem(block, int_const(tiles_n))
        rest = b.udiv(block, int_const(tiles_n))
        tile_m = b.urem(rest, int_const(tiles_m))
        batch = b.udiv(rest, int_const(tiles_m))
        lhs_tile = hooks.shared(acc_type, TILE * _PITCH)
        rhs_tile = hooks.shared(acc_type, TILE * _PITCH)
        acc = hooks.local(acc_type)

        def coordinates(tid):
            return b.udiv(tid, int_const(TILE)), b.urem(tid, int_const(TILE))

        def load(k, row, col, rows, cols, slot, tile):
            """tile[slot] = operand k's element (row, col), 0 outside the matrix."""
            inside = b.and_(b.icmp_unsigned("<", row, int_const(rows)),
                            b.icmp_unsigned("<", col, int_const(cols)))
            b.store(zero, b.gep(tile, [slot], source_etype=acc_type))
            with guarded(cg, inside):
                value = _widen_value(em, element(ctx, b, k, batch, row, col))
                b.store(value, b.gep(tile, [slot], source_etype=acc_type))

        def clear(tid):
            acc.store(tid, zero)

        def fill(kt):
            def body(tid):
                ty, tx = coordinates(tid)
                slot = b.add(b.mul(ty, int_const(_PITCH)), tx)
                k0 = b.mul(kt, int_const(TILE))
                row = b.add(b.mul(tile_m, int_const(TILE)), ty)
                col = b.add(b.mul(tile_n, int_const(TILE)), tx)
                load(0, row, b.add(k0, tx), shape.m, shape.k, slot, lhs_tile)
                load(1, b.add(k0, ty), col, shape.k, shape.n, slot, rhs_tile)

            def multiply(tid):
                ty, tx = coordinates(tid)
                total = acc.load(tid)
                for kk in range(TILE):
                    a = b.load(b.gep(lhs_tile, [b.add(b.mul(ty, int_const(_PITCH)), int_const(kk))],
                                     source_etype=acc_type), typ=acc_type)
                    c = b.load(b.gep(rhs_tile, [b.add(int_const(kk * _PITCH), tx)],
                                     source_etype=acc_type), typ=acc_type)
                    total = b.fadd(total, b.fmul(a, c))
                acc.store(tid, total)

            hooks.phase(body)
            hooks.phase(multiply)

        def store(tid):
            ty, tx = coordinates(tid)
            row = b.add(b.mul(tile_m, int_const(TILE)), ty)
            col = b.add(b.mul(tile_n, int_const(TILE)), tx)
            inside = b.and_(b.icmp_unsigned("<", row, int_const(shape.m)),
                            b.icmp_unsigned("<", col, int_const(shape.n)))
            with guarded(cg, inside):
                total = acc.load(tid)
                if register_type(t) == HALF:
                    total = float_to_half(cg, total)
                ctx.store(out_index(b, batch, row, col), total)

        hooks.phase(clear)
        hooks.loop(ceil_div(shape.k, TILE), fill, name="kt")
        hooks.phase(store)


def _product(extents: list[int]) -> int:
    result = 1
    for e in extents:
        result *= e
    return result
