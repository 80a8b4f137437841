"""Depthwise convolution (one input feature per group, one output feature per group) with
a block of output pixels x channels in vector registers.

For float depthwise convolutions whose features are contiguous in memory (NHWC input,
output and kernel, as TensorFlow stores them), each task is one output line: the
positions of all output dimensions but the innermost spatial one (batch and row in NHWC)
are fixed. Along the line, blocks of P pixels times V vectors of channels accumulate in
P * V vector registers:

    for each block of P pixels x, each block of V * lanes channels c:
      acc[p][v] = 0
      for each tap k of the outer spatial dimensions inside the input (a range, computed
          once per line):
        for each tap j of the innermost dimension (unrolled):
          w[v] = kernel[k, j, c + v * lanes]                    (loaded once, used P times)
          for each pixel p: acc[p][v] += input[row(k), x_p(j), c + v * lanes] * w[v]
            (a pixel whose tap falls into the padding reads a row of zeros)
      store acc, through the fusion's epilogue when there is one

Channels past the last whole vector run the same code on scalars. Each output element
is one sum over the taps in a fixed order, whatever the task split. Taken for
multiplier-1 depthwise convolutions without base dilation; others keep the direct loops
of convolution.py.
"""

from __future__ import annotations

import llvmlite.ir as ir

from aotc.hlo import Instruction

from .buffers import strides
from .codegen import CodeGen
from .gemm import element_gep, fmuladd, gemm_element_type, index_add, index_mul
from .lines import LineKernel, line_tasks
from .llvm_types import PTR, int_const

#: Vectors of channels per block (V).
VECTORS = 2


class Depthwise(LineKernel):
    """The geometry of depthwise convolution `inst` for the register-blocked loops (the
    line, the innermost position dimension, is blocked by P pixels)."""

    def __init__(self, inst: Instruction, target, element: ir.Type):
        super().__init__(inst, target, element)
        # P pixels x V vectors of accumulators, V kernel vectors and one input vector.
        self.pixels = min(8, max(1, (self.registers - VECTORS - 2) // VECTORS))
        self.channels = inst.shape.dims[self.dn.output_feature]

    def emit(self, cg: CodeGen, out, lhs, rhs, zeros, epilogue, task) -> None:
        """Task `task` (an i64 value, or None for all of them in turn): pointers to the
        output, input and kernel, and to at least V vectors of zeros. epilogue, when
        given, is the fusion's Epilogue (its apply(index, value) stores an element)."""
        self.cg, self.out, self.lhs, self.rhs, self.zeros = cg, out, lhs, rhs, zeros
        self.epilogue, self._row = epilogue, None
        self.emit_lines(cg, task, self._emit_line)

    # -- one line --

    def _emit_line(self) -> None:
        cg, b = self.cg, self.cg.builder
        length = self.inst.shape.dims[self.line_dim]
        full, rest = divmod(length, self.pixels)
        with cg.for_range(full, name="px") as block:
            self._emit_pixels(index_mul(b, block, self.pixels), self.pixels)
        if rest:
            self._emit_pixels(int_const(full * self.pixels), rest)

    def _emit_pixels(self, x0, count: int) -> None:
        """Pixels x0 .. x0 + count - 1 of the line, every channel."""
        cg, b = self.cg, self.cg.builder
        block = VECTORS * self.lanes
        full = self.channels // block
        if full:
            with cg.for_range(full, name="ch") as c:
                self._emit_block(x0, count, index_mul(b, c, block), self.vty, VECTORS)
        done = full * block
        if self.channels - done >= self.lanes:
            self._emit_block(x0, count, int_const(done), self.vty, 1)
            done += self.lanes
        if done < self.channels:
            with cg.for_range(self.channels - done, name="cs") as c:
                self._emit_block(x0, count, index_add(b, c, done), self.ty, 1)

    def _emit_block(self, x0, count: int, c0, vty, vectors: int) -> None:
        """acc[count pixels][vectors] over every tap, then stored."""
        cg, b, dn = self.cg, self.cg.builder, self.dn
        zero = ir.Constant(vty, 0.0) if vty == self.ty else ir.Constant(vty, [0.0] * self.lanes)
        lanes = 1 if vty == self.ty else self.lanes
        fma = fmuladd(cg, vty)
        xs = [index_add(self.cg.builder, x0, p) for p in range(count)]

        def line_taps(outer_taps, accumulators):
            """The innermost dimension's taps (unrolled) for the outer taps `outer_taps`
            (along a batch line, each pixel adds its own batch item)."""
            base, kernel = self.outer_row_offsets(b, self.position, outer_taps)
            kernel = b.add(kernel, c0)  # kernel input feature index is 0; output feature c0
            updated = list(accumulators)
            sizes = [1] if self.line_spatial is None else [self.kernel_sizes[self.line_spatial]]
            for j in range(sizes[0]):
                k_offset = kernel
                if self.line_spatial is not None:
                    k_offset = index_add(b, kernel, j * self.k_strides[dn.kernel_spatial[self.line_spatial]])
                weights = [self._load(self.rhs, index_add(b, k_offset, v * lanes), vty)
                           for v in range(vectors)]
                for p, x in enumerate(xs):
                    pointer = self._input_pointer(base, x, j, c0)
                    for v in range(vectors):
                        value = self._load(pointer, v * lanes, vty)
                        i = p * vectors + v
                        updated[i] = b.call(fma, [value, weights[v], updated[i]])
            return updated

        final = self.over_outer_taps(cg, self.ranges, [zero] * (count * vectors), line_taps)
        self._store(final, xs, c0, vty, vectors, lanes)

    def _input_pointer(self, base, x, j: int, c0):
        """Where pixel x reads innermost tap j (channels from c0): its input pixel, or the
        zeros when that tap is in the padding."""
        b, dn = self.cg.builder, self.dn
        if self.line_spatial is None:  # no spatial dimension along the line: x is a batch
            offset = b.add(base, index_mul(b, x, self.in_strides[dn.input_batch]))
            return element_gep(b, self.lhs, index_add(b, offset, c0), self.ty)
        s = self.line_spatial
        dim = self.window[s]
        position = index_add(b, index_mul(b, x, dim.stride), j * dim.window_dilation)
        position = b.sub(position, int_const(dim.padding_low))
        inside = b.icmp_unsigned("<", position, int_const(self.base_sizes[s]))
        offset = b.add(base, b.mul(position, int_const(self.in_strides[dn.input_spatial[s]])))
        pointer = b.gep(self.lhs, [b.add(offset, c0)], source_etype=self.ty)
        return b.select(inside, pointer, self.zeros)

    def _load(self, pointer, offset, vty):
        b = self.cg.builder
        return b.load(element_gep(b, pointer, offset, self.ty), typ=vty, align=self.eb)

    def _store(self, final, xs, c0, vty, vectors: int, lanes: int) -> None:
        cg, b, dn = self.cg, self.cg.builder, self.dn
        for p, x in enumerate(xs):
            index = list(self.position)
            index[self.line_dim] = x
            for v in range(vectors):
                value = final[p * vectors + v]
                column = index_add(b, c0, v * lanes)
                if self.epilogue is None:
                    offset = int_const(0)
                    for d, stride in enumerate(self.out_strides):
                        at = column if d == dn.output_feature else index[d]
                        offset = index_add(b, offset, index_mul(b, at, stride))
                    b.store(value, element_gep(b, self.out, offset, self.ty), align=self.eb)
                    continue
                if lanes == 1:
                    index[dn.output_feature] = column
                    self.epilogue.apply(list(index), value)
                    continue
                row = self._scratch()
                b.store(value, row, align=self.eb)
                with cg.for_range(lanes, name="el") as lane:
                    element = b.load(element_gep(b, row, lane, self.ty), typ=self.ty)
                    index[dn.output_feature] = index_add(b, column, lane)
                    self.epilogue.apply(list(index), element)

    def _scratch(self):
        if self._row is None:
            self._row = self.cg.alloca(ir.ArrayType(self.ty, self.lanes), name="dw.row")
            self._row.type = PTR  # an opaque pointer (IR text says `ptr` either way)
        return self._row


def prepare_depthwise(target, inst: Instruction) -> Depthwise | None:
    """The register-blocked depthwise loops for convolution `inst`, or None where they do
    not apply (module docstring)."""
    ty = gemm_element_type(inst)
    return Depthwise(inst, target, ty) if _applies(inst) else None


def depthwise_tasks(inst: Instruction) -> int | None:
    """The task count of `prepare_depthwise`'s loops for `inst` (one per output line), or
    None where they do not apply."""
    return line_tasks(inst) if _applies(inst) else None


def _applies(inst: Instruction) -> bool:
    if gemm_element_type(inst) is None or inst.attrs.get("batch_group_count", 1) != 1:
        return False
    lhs, rhs = inst.operands
    dn = inst.attrs["dim_labels"]
    channels = lhs.shape.dims[dn.input_feature]
    if inst.attrs.get("feature_group_count", 1) != channels or channels < 2 \
            or rhs.shape.dims[dn.kernel_input_feature] != 1 \
            or inst.shape.dims[dn.output_feature] != channels:
        return False
    if any(dim.base_dilation != 1 for dim in inst.attrs["window"]):
        return False
    if (strides(inst.shape)[dn.output_feature] != 1 or strides(lhs.shape)[dn.input_feature] != 1
            or strides(rhs.shape)[dn.kernel_output_feature] != 1):
        return False
    return all(d != 0 for d in (*inst.shape.dims, *lhs.shape.dims, *rhs.shape.dims))


__all__ = ["Depthwise", "depthwise_tasks", "prepare_depthwise"]
