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
import numpy as np

from aotc.hlo import Instruction

from .buffers import iteration_order, strides
from .codegen import CodeGen
from .gemm import carried_loop, element_gep, gemm_element_type, index_add, index_mul, vector_registers
from .llvm_types import F32, PTR, int_const

#: Vectors of channels per block (V).
VECTORS = 2


class Depthwise:
    """The geometry of depthwise convolution `inst` for the register-blocked loops."""

    def __init__(self, inst: Instruction, target, element: ir.Type):
        lhs, rhs = inst.operands
        self.inst = inst
        self.dn = dn = inst.attrs["dim_labels"]
        self.window = inst.attrs["window"]
        self.ty = element
        self.eb = 4 if element == F32 else 8
        width, registers = vector_registers(target)
        self.lanes = width // self.eb
        self.vty = ir.VectorType(element, self.lanes)
        # P pixels x V vectors of accumulators, V kernel vectors and one input vector.
        self.pixels = max(1, (registers - VECTORS - 2) // VECTORS)
        self.pixels = min(self.pixels, 8)
        self.channels = inst.shape.dims[dn.output_feature]
        self.kernel_sizes = [rhs.shape.dims[d] for d in dn.kernel_spatial]
        self.base_sizes = [lhs.shape.dims[d] for d in dn.input_spatial]
        self.in_strides, self.out_strides = strides(lhs.shape), strides(inst.shape)
        self.k_strides = strides(rhs.shape)
        order = [d for d in iteration_order(inst.shape) if d != dn.output_feature]
        self.line_dim = order[-1]  # the innermost position dimension: blocked by P
        self.outer = order[:-1]  # fixed per task
        # The spatial dimension (window index) that the line runs along, if any.
        self.line_spatial = (dn.output_spatial.index(self.line_dim)
                             if self.line_dim in dn.output_spatial else None)

    @property
    def tasks(self) -> int:
        """One task per output line."""
        return int(np.prod([self.inst.shape.dims[d] for d in self.outer], dtype=np.int64))

    def emit(self, cg: CodeGen, out, lhs, rhs, zeros, epilogue, task) -> None:
        """Task `task` (an i64 value, or None for all of them in turn): pointers to the
        output, input and kernel, and to at least V vectors of zeros. epilogue, when
        given, is the fusion's Epilogue (its apply(index, value) stores an element)."""
        self.cg, self.out, self.lhs, self.rhs, self.zeros = cg, out, lhs, rhs, zeros
        self.epilogue, self._row = epilogue, None
        if task is None:
            with cg.for_range(self.tasks, name="line") as each:
                self._emit_line(each)
        else:
            self._emit_line(task)

    # -- one line --

    def _emit_line(self, task) -> None:
        cg, b, dn = self.cg, self.cg.builder, self.dn
        shape = self.inst.shape
        position = [None] * shape.rank  # output index, feature and line entries unset
        remaining = task
        for i, d in enumerate(reversed(self.outer)):
            extent = shape.dims[d]
            if i == len(self.outer) - 1:
                position[d] = remaining
            else:
                position[d] = b.urem(remaining, int_const(extent))
                remaining = b.udiv(remaining, int_const(extent))
        # Outer spatial dimensions: the range of taps inside the input, per dimension.
        ranges = {}
        for s, d in enumerate(dn.output_spatial):
            if s != self.line_spatial:
                ranges[s] = tap_range(b, position[d], self.window[s], self.kernel_sizes[s],
                                       self.base_sizes[s])
        self._position, self._ranges = position, ranges
        length = shape.dims[self.line_dim]
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
        fma = _fmuladd(cg, vty)
        xs = [index_add(self.cg.builder, x0, p) for p in range(count)]
        spatial_outer = sorted(self._ranges)

        def line_taps(outer_taps, accumulators):
            """The innermost dimension's taps (unrolled) for the outer taps `outer_taps`."""
            base = int_const(0)  # the line's batch item (added per pixel along a batch line)
            if self.line_dim != dn.output_batch:
                base = index_mul(b, self._position[dn.output_batch], self.in_strides[dn.input_batch])
            kernel = c0  # kernel input feature index is 0; output feature c0
            for s, k in zip(spatial_outer, outer_taps):
                dim = self.window[s]
                at = self._position[dn.output_spatial[s]]
                row = b.sub(index_add(b, index_mul(b, at, dim.stride), index_mul(b, k, dim.window_dilation)),
                            int_const(dim.padding_low))
                base = b.add(base, b.mul(row, int_const(self.in_strides[dn.input_spatial[s]])))
                kernel = b.add(kernel, b.mul(k, int_const(self.k_strides[dn.kernel_spatial[s]])))
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

        def over(level, taps, accumulators):
            if level == len(spatial_outer):
                return line_taps(taps, accumulators)
            first, tap_count = self._ranges[spatial_outer[level]]
            return carried_loop(cg, tap_count, accumulators,
                                lambda t, acc: over(level + 1, taps + [b.add(first, t)], acc),
                                name=f"k{level}")

        final = over(0, [], [zero] * (count * vectors))
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
            index = list(self._position)
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


def _fmuladd(cg: CodeGen, ty: ir.Type) -> ir.Function:
    """llvm.fmuladd on `ty` (a float or a vector of floats)."""
    if isinstance(ty, ir.VectorType):
        name = f"llvm.fmuladd.v{ty.count}{'f32' if ty.element == F32 else 'f64'}"
    else:
        name = f"llvm.fmuladd.{'f32' if ty == F32 else 'f64'}"
    if name in cg.module.globals:
        return cg.module.globals[name]
    return ir.Function(cg.module, ir.FunctionType(ty, [ty] * 3), name=name)


def _ceil_div(b: ir.IRBuilder, numerator, divisor: int):
    """ceil(numerator / divisor) for a signed i64 numerator and a positive constant."""
    if divisor == 1:
        return numerator
    up = b.sdiv(b.add(numerator, int_const(divisor - 1)), int_const(divisor))
    toward_zero = b.sdiv(numerator, int_const(divisor))  # is the ceiling when <= 0
    return b.select(b.icmp_signed(">", numerator, int_const(0)), up, toward_zero)


def _clamp(b: ir.IRBuilder, value, low: int, high: int):
    value = b.select(b.icmp_signed("<", value, int_const(low)), int_const(low), value)
    return b.select(b.icmp_signed(">", value, int_const(high)), int_const(high), value)


def tap_range(b: ir.IRBuilder, out_position, dim, kernel_size: int, base_size: int):
    """(first, count): the kernel taps k of one dimension whose input position
    out_position * stride + k * dilation - padding_low lies in [0, base_size), which are
    consecutive. Only for windows without base dilation."""
    start = b.sub(int_const(dim.padding_low), b.mul(out_position, int_const(dim.stride)))
    first = _clamp(b, _ceil_div(b, start, dim.window_dilation), 0, kernel_size)
    end = _ceil_div(b, b.add(start, int_const(base_size)), dim.window_dilation)
    last = _clamp(b, end, 0, kernel_size)
    return first, b.sub(last, first)  # a negative count runs no iterations


def prepare_depthwise(target, inst: Instruction) -> Depthwise | None:
    """The register-blocked depthwise loops for convolution `inst`, or None where they do
    not apply (module docstring)."""
    ty = gemm_element_type(inst)
    return Depthwise(inst, target, ty) if _applies(inst) else None


def depthwise_tasks(inst: Instruction) -> int | None:
    """The task count of `prepare_depthwise`'s loops for `inst` (one per output line), or
    None where they do not apply."""
    if not _applies(inst):
        return None
    dn = inst.attrs["dim_labels"]
    order = [d for d in iteration_order(inst.shape) if d != dn.output_feature]
    return int(np.prod([inst.shape.dims[d] for d in order[:-1]], dtype=np.int64))


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


__all__ = ["Depthwise", "depthwise_tasks", "prepare_depthwise", "tap_range"]
