"""Convolutions computed one output line per task: the geometry and loops that
depthwise.py (channels in vectors) and line_conv.py (pixels in vectors) share.

A line is the output positions along the innermost position dimension (x in NHWC) with
every other position index fixed (batch and row): task t fixes those outer indices, and
each outer spatial dimension's taps that read inside the input form a range, computed
once per line (`tap_range`), so the padding costs no test per tap.
"""

from __future__ import annotations

from typing import Callable

import llvmlite.ir as ir
import numpy as np

from aotc.hlo import Instruction

from .buffers import iteration_order, strides
from .codegen import CodeGen
from .gemm import carried_loop, vector_registers
from .llvm_types import F32, int_const


class LineKernel:
    """The geometry of convolution `inst` for a kernel that runs one output line per task."""

    def __init__(self, inst: Instruction, target, element: ir.Type):
        lhs, rhs = inst.operands
        self.inst = inst
        self.dn = dn = inst.attrs["dim_labels"]
        self.window = inst.attrs["window"]
        self.ty = element
        self.eb = 4 if element == F32 else 8
        width, self.registers = vector_registers(target)
        self.lanes = width // self.eb
        self.vty = ir.VectorType(element, self.lanes)
        self.kernel_sizes = [rhs.shape.dims[d] for d in dn.kernel_spatial]
        self.base_sizes = [lhs.shape.dims[d] for d in dn.input_spatial]
        self.in_strides, self.out_strides = strides(lhs.shape), strides(inst.shape)
        self.k_strides = strides(rhs.shape)
        order = line_order(inst)
        self.line_dim = order[-1]  # the innermost position dimension
        self.outer = order[:-1]  # fixed per task
        # The spatial dimension (window index) that the line runs along, if any.
        self.line_spatial = (dn.output_spatial.index(self.line_dim)
                             if self.line_dim in dn.output_spatial else None)

    @property
    def tasks(self) -> int:
        """One task per output line."""
        return line_tasks(self.inst)

    def emit_lines(self, cg: CodeGen, task, emit_line: Callable[[], None]) -> None:
        """Line `task` (an i64 value), or every line in turn (None), into `cg`'s function:
        emit_line() emits one with `self.position` and `self.ranges` set (`line_start`)."""
        def one(t):
            self.position, self.ranges = self.line_start(cg.builder, t)
            emit_line()

        if task is None:
            with cg.for_range(self.tasks, name="line") as each:
                one(each)
        else:
            one(task)

    def line_start(self, b: ir.IRBuilder, task) -> tuple[list, dict]:
        """(position, ranges) of line `task`: the output index with its outer entries set
        (feature and line entries None), and for each outer spatial dimension s,
        ranges[s] = (first tap, count) of the taps inside the input."""
        shape, dn = self.inst.shape, self.dn
        position = [None] * shape.rank
        remaining = task
        for i, d in enumerate(reversed(self.outer)):
            if i == len(self.outer) - 1:
                position[d] = remaining
            else:
                position[d] = b.urem(remaining, int_const(shape.dims[d]))
                remaining = b.udiv(remaining, int_const(shape.dims[d]))
        ranges = {s: tap_range(b, position[d], self.window[s], self.kernel_sizes[s],
                               self.base_sizes[s])
                  for s, d in enumerate(dn.output_spatial) if s != self.line_spatial}
        return position, ranges

    def over_outer_taps(self, cg: CodeGen, ranges: dict, accumulators: list,
                        body: Callable[[list, list], list]) -> list:
        """body(taps, accumulators) for every combination of the outer spatial dimensions'
        taps in `ranges` (nested loops carrying the accumulators, in dimension order);
        returns the final accumulators."""
        b, outer = cg.builder, sorted(ranges)

        def over(level, taps, values):
            if level == len(outer):
                return body(taps, values)
            first, count = ranges[outer[level]]
            return carried_loop(cg, count, values,
                                lambda t, acc: over(level + 1, taps + [b.add(first, t)], acc),
                                name=f"k{level}")

        return over(0, [], accumulators)

    def outer_row_offsets(self, b: ir.IRBuilder, position: list, taps: list):
        """(input offset, kernel offset) of outer taps `taps` (in the order of
        `sorted(ranges)`) for the line at `position`: the batch item's and the tapped
        rows' input strides, and the taps' kernel strides."""
        dn = self.dn
        base = int_const(0)
        if self.line_dim != dn.output_batch:
            base = b.mul(position[dn.output_batch], int_const(self.in_strides[dn.input_batch]))
        kernel = int_const(0)
        outer = [s for s in range(len(self.window)) if s != self.line_spatial]
        for s, k in zip(outer, taps):
            dim = self.window[s]
            row = b.mul(position[dn.output_spatial[s]], int_const(dim.stride))
            row = b.sub(b.add(row, b.mul(k, int_const(dim.window_dilation))),
                        int_const(dim.padding_low))
            base = b.add(base, b.mul(row, int_const(self.in_strides[dn.input_spatial[s]])))
            kernel = b.add(kernel, b.mul(k, int_const(self.k_strides[dn.kernel_spatial[s]])))
        return base, kernel


def line_order(inst: Instruction) -> list[int]:
    """The output's position dimensions (all but the feature), major to minor."""
    feature = inst.attrs["dim_labels"].output_feature
    return [d for d in iteration_order(inst.shape) if d != feature]


def line_tasks(inst: Instruction) -> int:
    """The number of output lines of convolution `inst`."""
    return int(np.prod([inst.shape.dims[d] for d in line_order(inst)[:-1]], dtype=np.int64))


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


__all__ = ["LineKernel", "line_order", "line_tasks", "tap_range"]
