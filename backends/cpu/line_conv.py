"""Convolutions with one input feature and few output features (a grayscale image's first
layer: LeNet's 1 -> 6), vectorized along the output line instead of over the features.

With one input feature, the output pixels of a line (stride 1 along it) read consecutive
input elements for each tap, so L of them load as one vector, and every output feature
multiplies that vector by a broadcast weight:

    for each output line (batch and outer spatial positions fixed: one task):
      for each block of L pixels x0 of the line:
        acc[o] = 0                        (one vector of L pixels per output feature o)
        for each tap k of the outer spatial dimensions inside the input (a range):
          for each tap j of the line's dimension (unrolled):
            v = input[row(k), x0 + j * dilation - padding_low : ... + L]
                (a masked load: lanes in the padding read 0 and touch no memory)
            for each o: acc[o] += v * kernel[k, j, 0, o]
        store acc transposed: pixel-major, features minor (through the fusion's
        epilogue when there is one)

The GEMM tile would put the few features in one vector (6 of its lanes busy) and test
every tap of the border rows; here every lane is a pixel and a tap's padding costs one
vector compare. Each output element is one sum over the taps in a fixed order, whatever
the task split.
"""

from __future__ import annotations

import llvmlite.ir as ir

from aotc.hlo import Instruction

from .buffers import strides
from .codegen import CodeGen
from .gemm import element_gep, fmuladd, gemm_element_type, index_add, index_mul, splat
from .lines import LineKernel, line_order, line_tasks
from .llvm_types import I1, I32, PTR, int_const

#: The most output features: one accumulator vector each, beside the input vector and a
#: broadcast weight.
MAX_FEATURES = 8


class LineConv(LineKernel):
    """The geometry of convolution `inst` for the line-vectorized loops (the line, the
    innermost position dimension, is a spatial one: `line_spatial`)."""

    def __init__(self, inst: Instruction, target, element: ir.Type):
        super().__init__(inst, target, element)
        self.features = inst.shape.dims[self.dn.output_feature]

    def emit(self, cg: CodeGen, out, lhs, rhs, epilogue, task) -> None:
        """Task `task` (an i64 value, or None for all of them in turn): pointers to the
        output, input and kernel. epilogue, when given, is the fusion's Epilogue (its
        apply(index, value) stores an element)."""
        self.cg, self.out, self.lhs, self.rhs, self.epilogue = cg, out, lhs, rhs, epilogue
        self._tile = None
        self.emit_lines(cg, task, self._emit_line)

    def _emit_line(self) -> None:
        cg, b = self.cg, self.cg.builder
        length = self.inst.shape.dims[self.line_dim]
        full, rest = divmod(length, self.lanes)
        if full:
            with cg.for_range(full, name="px") as block:
                self._emit_block(index_mul(b, block, self.lanes), self.lanes)
        if rest:
            self._emit_block(int_const(full * self.lanes), rest)

    def _emit_block(self, x0, count: int) -> None:
        """Pixels x0 .. x0 + count - 1 of the line (count <= L), every output feature."""
        cg, b, dn = self.cg, self.cg.builder, self.dn
        zero = ir.Constant(self.vty, [0.0] * self.lanes)
        fma = fmuladd(cg, self.vty)
        line = self.line_spatial
        line_dim = self.window[line]
        lane_index = ir.Constant(ir.VectorType(ir.IntType(64), self.lanes), list(range(self.lanes)))

        def line_taps(taps, accumulators):
            """The line dimension's taps (unrolled) for outer taps `taps`."""
            base, kernel = self.outer_row_offsets(b, self.position, taps)
            updated = list(accumulators)
            line_stride = self.in_strides[dn.input_spatial[line]]  # 1 (checked)
            for j in range(self.kernel_sizes[line]):
                # Input positions x0 + lane + j * dilation - padding_low, lanes in [0, size).
                first = b.sub(index_add(b, x0, j * line_dim.window_dilation),
                              int_const(line_dim.padding_low))
                positions = b.add(splat(b, first, lane_index.type), lane_index)
                inside = b.icmp_unsigned("<", positions, ir.Constant(positions.type, [self.base_sizes[line]] * self.lanes))
                if count < self.lanes:  # lanes past the block's pixels read nothing either
                    inside = b.and_(inside, ir.Constant(inside.type, [p < count for p in range(self.lanes)]))
                pointer = b.gep(self.lhs, [b.add(base, b.mul(first, int_const(line_stride)))],
                                source_etype=self.ty)  # may point before the row: masked lanes
                value = b.call(_masked_load(cg, self.vty), [pointer, ir.Constant(I32, self.eb),
                                                            inside, zero])
                k_offset = index_add(b, kernel, j * self.k_strides[dn.kernel_spatial[line]])
                for o in range(self.features):
                    w_offset = index_add(b, k_offset, o * self.k_strides[dn.kernel_output_feature])
                    w = b.load(element_gep(b, self.rhs, w_offset, self.ty), typ=self.ty)
                    updated[o] = b.call(fma, [value, splat(b, w, self.vty), updated[o]])
            return updated

        final = self.over_outer_taps(cg, self.ranges, [zero] * self.features, line_taps)
        self._store(final, x0, count)

    def _store(self, final, x0, count: int) -> None:
        """The accumulators (one vector of pixels per feature) to the output, pixel-major,
        through a stack tile [feature][pixel]: a loop over the pixels reads it back."""
        cg, b, dn = self.cg, self.cg.builder, self.dn
        tile = self._scratch()
        for o, vector in enumerate(final):
            b.store(vector, element_gep(b, tile, o * self.lanes, self.ty), align=self.eb)
        with cg.for_range(count, name="pp") as p:
            index = list(self.position)
            index[self.line_dim] = b.add(x0, p)
            for o in range(self.features):
                value = b.load(element_gep(b, tile, index_add(b, p, o * self.lanes), self.ty),
                               typ=self.ty)
                index[dn.output_feature] = int_const(o)
                if self.epilogue is not None:
                    self.epilogue.apply(list(index), value)
                    continue
                offset = int_const(0)
                for d, stride in enumerate(self.out_strides):
                    offset = index_add(b, offset, index_mul(b, index[d], stride))
                b.store(value, element_gep(b, self.out, offset, self.ty))

    def _scratch(self):
        if self._tile is None:
            self._tile = self.cg.alloca(ir.ArrayType(self.ty, self.features * self.lanes),
                                        name="line.tile")
            self._tile.align = self.lanes * self.eb
            self._tile.type = PTR  # an opaque pointer (IR text says `ptr` either way)
        return self._tile


def _masked_load(cg: CodeGen, vty: ir.VectorType) -> ir.Function:
    """llvm.masked.load: lanes whose mask bit is clear read `passthru` and no memory."""
    return cg.intrinsic("llvm.masked.load", vty, [PTR, I32, ir.VectorType(I1, vty.count), vty],
                        overloads=[vty, PTR])


def prepare_line_conv(target, inst: Instruction) -> LineConv | None:
    """The line-vectorized loops for convolution `inst`, or None where they do not apply
    (one input feature, at most MAX_FEATURES output features, float, no base dilation,
    stride 1 along a contiguous innermost spatial line, features contiguous)."""
    ty = gemm_element_type(inst)
    return LineConv(inst, target, ty) if _applies(inst) else None


def line_conv_tasks(inst: Instruction) -> int | None:
    """The task count of `prepare_line_conv`'s loops (one per output line), or None."""
    return line_tasks(inst) if _applies(inst) else None


def _applies(inst: Instruction) -> bool:
    if gemm_element_type(inst) is None or inst.attrs.get("batch_group_count", 1) != 1 \
            or inst.attrs.get("feature_group_count", 1) != 1:
        return False
    lhs, rhs = inst.operands
    dn = inst.attrs["dim_labels"]
    window = inst.attrs["window"]
    if lhs.shape.dims[dn.input_feature] != 1 or not window \
            or not 0 < inst.shape.dims[dn.output_feature] <= MAX_FEATURES:
        return False
    if any(dim.base_dilation != 1 for dim in window) or 0 in inst.shape.dims:
        return False
    order = line_order(inst)
    if not order or order[-1] not in dn.output_spatial:
        return False
    line = dn.output_spatial.index(order[-1])
    return (window[line].stride == 1
            and strides(lhs.shape)[dn.input_spatial[line]] == 1
            and strides(inst.shape)[dn.output_feature] == 1)


__all__ = ["LineConv", "MAX_FEATURES", "line_conv_tasks", "prepare_line_conv"]
