"""Convolutions as implicit GEMM on the packed GEMM's micro-kernel (backends/cpu/gemm.py).

C[m, o] = sum over k of A[m, k] * B[k, o], where m is an output pixel (batch and spatial
indices, row-major), o an output feature, and k = (kernel tap, input feature): B is the
constant kernel, packed at compile time into the micro-kernel's panels (taps major, input
features minor, as an HWIO kernel is stored), and A is never built. For each tap, the
micro-kernel points each of its MR rows at the input pixel that tap reads (a row of input
features) and walks the input features; a tap that falls into padding, or into a hole
of the base dilation (a transposed convolution), points that row at a row of zeros. So no
element is tested: the bounds are checked once per tap and row, and a 1x1 convolution is
a plain GEMM over the input features.

Taken for float convolutions with a constant kernel, one feature group, and output
features contiguous in memory; others (depthwise among them) keep the direct emitter of
backends/cpu/convolution.py.
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np

from aotc.hlo import Instruction

from .buffers import strides
from .gemm import (GemmEmitter, GemmPlan, _gep, _loop, _mul, _add, choose_tile,
                   emit_tasks, gemm_element_type, panels)
from .llvm_types import F32, I1, int_const

#: Micro-tiles of rows per task (a task is a block of output pixels times all features).
TILES_PER_TASK = 8


class ConvGemm(GemmEmitter):
    """The implicit GEMM of convolution `inst` (see the module docstring)."""

    def __init__(self, inst: Instruction, tile, element: ir.Type):
        lhs, rhs = inst.operands
        self.inst = inst
        self.dn = dn = inst.attrs["dim_labels"]
        self.window = inst.attrs["window"]
        self.kernel_sizes = [rhs.shape.dims[d] for d in dn.kernel_spatial]
        self.inputs = rhs.shape.dims[dn.kernel_input_feature]
        self.base_sizes = [lhs.shape.dims[d] for d in dn.input_spatial]
        self.pixel_dims = [dn.output_batch, *dn.output_spatial]  # m, major to minor
        self.in_strides = strides(lhs.shape)
        self.out_strides = strides(inst.shape)
        m = int(np.prod([inst.shape.dims[d] for d in self.pixel_dims], dtype=np.int64))
        n = rhs.shape.dims[dn.kernel_output_feature]
        taps = int(np.prod(self.kernel_sizes, dtype=np.int64))
        plan = GemmPlan(m, n, taps * self.inputs, 0, [], [], [], [], 0,
                        self.in_strides[dn.input_feature], 0, 1, 0, [], [])
        super().__init__(plan, tile, element, constant=True)
        self.kc = plan.k  # the taps are the K blocks; A rows are gathered per tap
        if not self.skinny:
            self.mc = min(tile.rows * TILES_PER_TASK, -(-m // tile.rows) * tile.rows)
        self.zeros = None

    def pack(self) -> bytes:
        """The kernel as B: [taps * input features, output features], in panels."""
        rhs = self.inst.operands[1]
        literal = np.asarray(rhs.attrs["literal"], dtype=rhs.shape.element_type.np_dtype)
        literal = literal.reshape(rhs.shape.dims)
        order = [*self.dn.kernel_spatial, self.dn.kernel_input_feature,
                 self.dn.kernel_output_feature]
        matrix = np.transpose(literal, order).reshape(1, self.plan.k, self.plan.n)
        return panels(matrix, self.tile)

    def output_index(self, m, n) -> list:
        """The output index of pixel m, feature n."""
        index = [None] * self.inst.shape.rank
        index[self.dn.output_feature] = n
        for d, value in zip(self.pixel_dims, self._pixel(m)):
            index[d] = value
        return index

    def _pixel(self, m) -> list:
        """m -> its index along each of `pixel_dims`."""
        b = self.cg.builder
        extents = [self.inst.shape.dims[d] for d in self.pixel_dims]
        values, remaining = [None] * len(extents), m
        for i in reversed(range(len(extents))):
            if i == 0:
                values[i] = remaining if extents[i] != 1 else int_const(0)
            elif extents[i] == 1:
                values[i] = int_const(0)
            else:
                values[i] = b.urem(remaining, int_const(extents[i]))
                remaining = b.udiv(remaining, int_const(extents[i]))
        return values

    def _c_rows(self, c, m0, rows: int) -> list:
        b = self.cg.builder
        pointers = []
        for r in range(rows):
            offset = 0
            for d, value in zip(self.pixel_dims, self._pixel(_add(b, m0, r))):
                offset = _add(b, offset, _mul(b, value, self.out_strides[d]))
            pointers.append(_gep(b, c, offset, self.ty))
        return pointers

    def _accumulate(self, a, m0, rows: int, pc, kc, layout, initial) -> list:
        """For each tap: point each row at the input pixel it reads (or at zeros), then
        walk the input features."""
        cg, b, dn = self.cg, self.cg.builder, self.dn
        pixels = [self._pixel(_add(b, m0, r)) for r in range(rows)]
        feature_step = self.in_strides[dn.input_feature]

        def per_tap(tap, accumulators):
            taps, remaining = [None] * len(self.kernel_sizes), tap
            for i in reversed(range(len(self.kernel_sizes))):
                size = self.kernel_sizes[i]
                taps[i] = b.urem(remaining, int_const(size)) if i else remaining
                remaining = b.udiv(remaining, int_const(size)) if i else remaining
            row_pointers = []
            for pixel in pixels:
                offset = _mul(b, pixel[0], self.in_strides[dn.input_batch])
                inside = ir.Constant(I1, 1)
                for s, dim in enumerate(self.window):
                    position = _add(b, _mul(b, pixel[1 + s], dim.stride),
                                    _mul(b, taps[s], dim.window_dilation))
                    position = b.sub(position, int_const(dim.padding_low))
                    extent = (self.base_sizes[s] - 1) * dim.base_dilation + 1
                    inside = b.and_(inside, b.icmp_unsigned("<", position, int_const(extent)))
                    if dim.base_dilation != 1:
                        on_element = b.icmp_unsigned(
                            "==", b.urem(position, int_const(dim.base_dilation)), int_const(0))
                        inside = b.and_(inside, on_element)
                        position = b.udiv(position, int_const(dim.base_dilation))
                    offset = _add(b, offset, _mul(b, position, self.in_strides[dn.input_spatial[s]]))
                pointer = _gep(b, a, offset, self.ty)
                row_pointers.append(b.select(inside, pointer, self.zeros))
            first_k = _mul(b, tap, self.inputs)
            return _loop(cg, self.inputs, accumulators,
                         self._step(layout, row_pointers, feature_step, first_k), name="ci")

        taps = int(np.prod(self.kernel_sizes, dtype=np.int64))
        return _loop(cg, taps, initial, per_tap, name="tap")


def prepare_conv_gemm(target, inst: Instruction, constant_of) -> ConvGemm | None:
    """The implicit GEMM of convolution `inst`, or None where it does not apply (module
    docstring). constant_of(operand) is the constant an operand is, or None."""
    ty = gemm_element_type(inst)
    if ty is None or inst.attrs.get("feature_group_count", 1) != 1 \
            or inst.attrs.get("batch_group_count", 1) != 1:
        return None
    if constant_of(inst.operands[1]) is None:
        return None
    dn = inst.attrs["dim_labels"]
    if strides(inst.shape)[dn.output_feature] != 1:
        return None
    tile = choose_tile(target, 4 if ty == F32 else 8)
    if inst.shape.dims[dn.output_feature] < tile.lanes:
        return None
    if any(d == 0 for d in inst.shape.dims) or any(d == 0 for d in inst.operands[0].shape.dims):
        return None
    return ConvGemm(inst, tile, ty)


def emit_conv_gemm(em, inst: Instruction, after_row=None) -> bool:
    """Emit convolution `inst` as an implicit GEMM; False (nothing emitted) where
    `prepare_conv_gemm` says it does not apply. `em`, after_row: as for gemm.emit_gemm."""
    conv = prepare_conv_gemm(em.target, inst, em.constant_operand)
    if conv is None:
        return False
    rhs = em.constant_operand(inst.operands[1])
    packed = em.constants.raw(("conv", rhs, conv.tile, repr(conv.dn)), conv.pack,
                              f"packed.{rhs.name}")
    conv.zeros = em.constants.raw(("zeros", conv.inputs, conv.eb),
                                  lambda: bytes(conv.inputs * conv.eb), "zeros")
    pointers = [em.pointer_of(inst), em.pointer_of(inst.operands[0])]
    emit_tasks(em, inst, conv, pointers, packed, after_row,
               lambda batch_index, m, n: conv.output_index(m, n))
    return True


__all__ = ["ConvGemm", "emit_conv_gemm", "prepare_conv_gemm"]
