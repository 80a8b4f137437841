"""Convolution and reduce-window on the CPU: elemental generators and a fast materializer.

Elemental rules (usable inside fusions, any element type) compute one output element by
looping over the window taps with a register accumulator; taps that fall into padding or
base-dilation holes read a clamped, always-valid index and are discarded by a select, so
the loops stay branch-free.

Float convolutions in the entry computation are materialized differently, in the spirit
of the dot materializer: for each output position (batch and spatial indices) the row of
output features is accumulated in place,

    out[pos, :] = 0
    for each kernel tap k whose input position is inside the base:
        for each input feature i of the group:
            for each output feature o:                                   (innermost)
                out[pos, o] += in[pos*stride + k*dilation - pad, g(o)*I + i] * w[k, i, o]

With NHWC input, HWIO kernel and NHWC output (TensorFlow's layouts) the innermost loop
streams contiguous kernel and output rows, so LLVM vectorizes it; for an ordinary
convolution the input element is loop-invariant (hoisted), and for a depthwise one
(one input feature per group, one output feature per group) it is contiguous too. The
in-bounds taps of each spatial dimension form a range computed once per output position,
so padding costs no test per tap (with base dilation, a test per tap skips the holes).
Each convolution's loops get a function of their own (`_outlined`).
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np

from aotc.hlo import Instruction
from aotc.hlo.dtypes import F32 as F32_DTYPE
from aotc.hlo.window import dilated_bound

from aotc.runtime.program import BUFFER_ALIGNMENT
from .buffers import BufferView, iteration_order
from .codegen import CodeGen
from .conv_gemm import emit_conv_gemm
from .depthwise import VECTORS, depthwise_tasks, prepare_depthwise
from .lines import line_order, tap_range
from .line_conv import line_conv_tasks, prepare_line_conv
from .tasks import task_kernel
from .elemental import ElementalEmitter, accumulator_type, elemental, scalar_constant
from .emitter import EntryEmitter, materializer
from .half import float_to_half, half_to_float
from .llvm_types import HALF, int_const, register_type
from .scalar_ops import emit_elementwise


def dilated_position(b: ir.IRBuilder, out_position, tap, dim):
    """out_position * stride + tap * window_dilation - padding_low: where a window tap
    reads, in the coordinates of the padded, base-dilated operand shifted by the padding."""
    position = out_position
    if dim.stride != 1:
        position = b.mul(position, int_const(dim.stride))
    offset = tap if dim.window_dilation == 1 else b.mul(tap, int_const(dim.window_dilation))
    position = b.add(position, offset)
    if dim.padding_low:
        position = b.sub(position, int_const(dim.padding_low))
    return position


def window_position(b: ir.IRBuilder, out_position, tap, dim, base_size: int, out_size: int):
    """Where window tap `tap` of output position `out_position` (of `out_size`) reads the
    base, for one window dimension `dim` over a base of `base_size` elements.

    Returns (index, inside): `inside` is false when the tap lands in padding or in a
    base-dilation hole; `index` is then 0, so that a load through it is always valid.
    `inside` is None where every tap of every output position reads the base (no low
    padding, no base dilation, the last window inside): a VALID pooling or convolution
    tests nothing.
    """
    position = dilated_position(b, out_position, tap, dim)
    last = (out_size - 1) * dim.stride + (dim.size - 1) * dim.window_dilation - dim.padding_low
    if dim.base_dilation == 1 and dim.padding_low <= 0 and last < base_size:
        return position, None
    extent = dilated_bound(base_size, dim.base_dilation)
    # One unsigned compare checks 0 <= position < extent.
    inside = b.icmp_unsigned("<", position, int_const(extent))
    if dim.base_dilation != 1:
        on_element = b.icmp_unsigned("==", b.urem(position, int_const(dim.base_dilation)),
                                     int_const(0))
        inside = b.and_(inside, on_element)
        position = b.udiv(position, int_const(dim.base_dilation))
    return b.select(inside, position, int_const(0)), inside


class ConvGeometry:
    """The sizes and dimension numbers of one convolution, named for the emitters."""

    def __init__(self, inst: Instruction):
        lhs, rhs = inst.operands
        self.dn = inst.attrs["dim_labels"]
        self.window = inst.attrs["window"]
        self.groups = inst.attrs.get("feature_group_count", 1)
        self.group_inputs = rhs.shape.dims[self.dn.kernel_input_feature]  # I
        self.outputs = rhs.shape.dims[self.dn.kernel_output_feature]  # O
        self.group_outputs = self.outputs // self.groups  # O / G
        self.kernel_sizes = [rhs.shape.dims[d] for d in self.dn.kernel_spatial]
        self.base_sizes = [lhs.shape.dims[d] for d in self.dn.input_spatial]
        self.out_sizes = [inst.shape.dims[d] for d in self.dn.output_spatial]
        self.lhs_rank = lhs.shape.rank

    def input_feature(self, b: ir.IRBuilder, o, i):
        """The input feature that output feature `o` reads as its group's feature `i`:
        (o / (O/G)) * I + i, spelled without the divide where the sizes allow."""
        if self.groups == 1:
            return i
        group = o if self.group_outputs == 1 else b.udiv(o, int_const(self.group_outputs))
        first = group if self.group_inputs == 1 else b.mul(group, int_const(self.group_inputs))
        return first if isinstance(i, ir.Constant) and i.constant == 0 else b.add(first, i)

    def taps(self, b: ir.IRBuilder, out_index, kernel_index):
        """Input spatial indices for output `out_index` at kernel taps `kernel_index`, and
        whether all of them are inside the base."""
        positions, inside = [], None
        for s, dim in enumerate(self.window):
            out = self.dn.output_spatial[s]
            position, ok = window_position(b, out_index[out], kernel_index[s], dim,
                                           self.base_sizes[s], self.out_sizes[s])
            positions.append(position)
            if ok is not None:
                inside = ok if inside is None else b.and_(inside, ok)
        return positions, inside if inside is not None else ir.Constant(ir.IntType(1), 1)

    def lhs_index(self, out_index, feature, positions):
        index = [None] * self.lhs_rank
        index[self.dn.input_batch] = out_index[self.dn.output_batch]
        index[self.dn.input_feature] = feature
        for s, position in enumerate(positions):
            index[self.dn.input_spatial[s]] = position
        return index

    def rhs_index(self, kernel_index, i, o):
        index = [None] * self.lhs_rank
        index[self.dn.kernel_input_feature] = i
        index[self.dn.kernel_output_feature] = o
        for s, k in enumerate(kernel_index):
            index[self.dn.kernel_spatial[s]] = k
        return index


def _widen(cg, value):
    return half_to_float(cg, value) if value.type == HALF else value


# -- elemental rules --------------------------------------------------------------------


@elemental("convolution")
def _convolution(e: ElementalEmitter, inst: Instruction, index):
    """One output element: the sum over kernel taps and the group's input features."""
    cg, b = e.cg, e.b
    geometry = ConvGeometry(inst)
    t = inst.shape.element_type
    acc_type = accumulator_type(t)
    acc_dtype = F32_DTYPE if register_type(t) == HALF else t
    accumulator = cg.alloca(acc_type, name="conv.acc")
    b.store(scalar_constant(acc_dtype, 0), accumulator)
    o = index[geometry.dn.output_feature]
    n = len(geometry.window)

    def step(loop_index):
        kernel_index, i = loop_index[:n], loop_index[n]
        positions, inside = geometry.taps(b, index, kernel_index)
        feature = geometry.input_feature(b, o, i)
        x = _widen(cg, e.value(inst.operands[0], geometry.lhs_index(index, feature, positions)))
        w = _widen(cg, e.value(inst.operands[1], geometry.rhs_index(kernel_index, i, o)))
        total = b.load(accumulator, typ=acc_type)
        product = emit_elementwise(cg, "multiply", acc_dtype, [x, w])
        updated = emit_elementwise(cg, "add", acc_dtype, [total, product])
        b.store(b.select(inside, updated, total), accumulator)

    cg.loop_nest(geometry.kernel_sizes + [geometry.group_inputs], list(range(n + 1)), step,
                 name="conv")
    result = b.load(accumulator, typ=acc_type)
    return float_to_half(cg, result) if register_type(t) == HALF else result


@elemental("reduce-window")
def _reduce_window(e: ElementalEmitter, inst: Instruction, index):
    """Fold the window's taps into the init value in row-major order, skipping taps in
    padding or base-dilation holes (XLA's semantics; see the evaluator)."""
    cg, b = e.cg, e.b
    operand, init = inst.operands
    window = inst.attrs["window"]
    ty = register_type(inst.shape.element_type)
    slot = cg.alloca(ty, name="reduce_window.acc")
    b.store(e.value(init, []), slot)

    def step(tap):
        positions, inside = [], None
        for d, dim in enumerate(window):
            position, ok = window_position(b, index[d], tap[d], dim, operand.shape.dims[d],
                                           inst.shape.dims[d])
            positions.append(position)
            if ok is not None:
                inside = ok if inside is None else b.and_(inside, ok)
        current = b.load(slot, typ=ty)
        (combined,) = e.apply(inst.to_apply(), [current, e.value(operand, positions)])
        b.store(combined if inside is None else b.select(inside, combined, current), slot)

    cg.loop_nest([dim.size for dim in window], list(range(len(window))), step, name="win")
    return b.load(slot, typ=ty)


# -- materializer -----------------------------------------------------------------------


def emit_convolution(em: EntryEmitter, inst: Instruction, after_row=None) -> None:
    """Float convolutions with a constant kernel and one feature group run as implicit
    GEMM (backends/cpu/conv_gemm.py), depthwise ones with multiplier 1 on
    backends/cpu/depthwise.py's register blocks, those with one input feature and few
    output features on backends/cpu/line_conv.py's line vectors; other float
    convolutions accumulate rows of output features in place (module docstring); other
    types take the elemental loop.

    after_row(for_each), when given, runs once each output row is final; for_each(body)
    loops body(index) over that row (for an output fusion's epilogue, as with dots; the
    implicit GEMM applies it per finished tile through after_row.apply instead).
    In the entry function the loops go into a kernel function of their own (LLVM's
    optimizer spends time superlinear in a function's size; one function per convolution
    keeps compile time linear) whose tasks run on the caller's pool.
    """
    if emit_conv_gemm(em, inst, after_row):  # implicit GEMM on the packed micro-kernel
        return
    t = inst.shape.element_type
    if not t.is_float or register_type(t) == HALF:
        em.store_loop(em.view(inst), lambda index: em.elemental.generate(inst, index))
        if after_row is not None:  # the whole output is one "row"
            after_row(lambda body: em.cg.loop_nest(list(inst.shape.dims),
                                                   iteration_order(inst.shape), body, name="e"))
        return
    views = [em.view(inst), *(em.view(op) for op in inst.operands)]
    depthwise = prepare_depthwise(em.target, inst)
    line = prepare_line_conv(em.target, inst)

    def emit(cg: CodeGen, views, task) -> None:
        if line is not None:
            line.emit(cg, *(view.pointer for view in views), after_row, task)
            return
        if depthwise is None:
            _emit_row_loops(cg, inst, *views, after_row, task=task)
            return
        zeros = em.constants.raw(("zeros", VECTORS * depthwise.lanes, depthwise.eb),
                                 lambda: bytes(VECTORS * depthwise.lanes * depthwise.eb), "zeros")
        depthwise.emit(cg, *(view.pointer for view in views), zeros, after_row, task)

    if em.in_entry:  # a kernel whose tasks (rows of output positions) run on the pool
        kernel, cg = task_kernel(em.llvm_module, f"convolution.{inst.name}", len(views),
                                 em.target, BUFFER_ALIGNMENT)
        emit(cg, [BufferView(cg, arg, view.shape) for arg, view in zip(kernel.args, views)],
             kernel.args[-1])
        cg.builder.ret_void()
        em.run_tasks(kernel, [em.pointer_of(inst), *(em.pointer_of(op) for op in inst.operands)],
                     direct_tasks(inst))
    else:  # in a fusion's kernel, a function of its own already
        emit(em.cg, views, em.task)


def direct_tasks(inst: Instruction) -> int:
    """Tasks of the direct float loops: one per index of the two outermost position
    dimensions (batch x first spatial, in NHWC: one output row each); 1 where the
    elemental loop runs instead."""
    t = inst.shape.element_type
    if not t.is_float or register_type(t) == HALF:
        return 1
    lines = depthwise_tasks(inst)  # depthwise.py's register-blocked loops
    if lines is None:
        lines = line_conv_tasks(inst)  # line_conv.py's
    if lines is not None:
        return lines
    return int(np.prod([inst.shape.dims[d] for d in line_order(inst)[:2]], dtype=np.int64))


def _emit_row_loops(cg: CodeGen, inst: Instruction, out: BufferView, lhs: BufferView,
                    rhs: BufferView, after_row, task=None) -> None:
    """The loop nest of the module docstring, into `cg`'s function: all of it, or task
    `task` of `direct_tasks(inst)` (an i64 value)."""
    b = cg.builder
    geometry = ConvGeometry(inst)
    dn = geometry.dn
    zero = ir.Constant(register_type(inst.shape.element_type), 0.0)
    position_order = line_order(inst)
    feature = dn.output_feature
    # Loops over the output feature row: only that dimension's extent is used.
    row_extents = [1] * inst.shape.rank
    row_extents[feature] = geometry.outputs
    n = len(geometry.window)
    # Without base dilation the in-bounds taps of each dimension are a range computed once
    # per output position: no per-tap test, and (a bonus for compile time) the tap loops'
    # trip counts are not constants, so LLVM does not unroll them around the vector loop.
    dense = all(dim.base_dilation == 1 for dim in geometry.window)

    def for_row(position, body):
        cg.loop_nest(row_extents, [feature],
                     lambda row: body(position[:feature] + [row[feature]] + position[feature + 1:]),
                     name="o")

    def accumulate_taps(position, kernel_index, spatial):
        def per_input_feature(i_index):
            i = i_index[0]
            hoisted = None
            if geometry.groups == 1:  # the input element is the same for every o
                hoisted = lhs.load(geometry.lhs_index(position, i, spatial))

            def accumulate(index):
                o = index[feature]
                x = hoisted
                if x is None:
                    x = lhs.load(geometry.lhs_index(position, geometry.input_feature(b, o, i),
                                                    spatial))
                w = rhs.load(geometry.rhs_index(kernel_index, i, o))
                out.store(index, b.fadd(out.load(index), b.fmul(x, w)))

            for_row(position, accumulate)

        cg.loop_nest([geometry.group_inputs], [0], per_input_feature, name="i")

    def per_position(position):
        for_row(position, lambda index: out.store(index, zero))
        if dense:
            ranges = [tap_range(b, position[dn.output_spatial[s]], dim,
                                 geometry.kernel_sizes[s], geometry.base_sizes[s])
                      for s, dim in enumerate(geometry.window)]

            def per_tap(steps):
                kernel_index = [b.add(first, step) for (first, _), step in zip(ranges, steps)]
                spatial = [dilated_position(b, position[dn.output_spatial[s]], k, dim)
                           for s, (k, dim) in enumerate(zip(kernel_index, geometry.window))]
                accumulate_taps(position, kernel_index, spatial)

            cg.loop_nest([count for _, count in ranges], list(range(n)), per_tap, name="k")
        else:
            def per_tap(kernel_index):
                spatial, inside = geometry.taps(b, position, kernel_index)
                with b.if_then(inside):
                    accumulate_taps(position, kernel_index, spatial)

            cg.loop_nest(geometry.kernel_sizes, list(range(n)), per_tap, name="k")
        if after_row is not None:
            after_row(lambda body: for_row(position, body))

    if task is None:
        cg.loop_nest(list(inst.shape.dims), position_order, per_position, name="p")
        return
    # The task fixes the two outermost position indices; loop over the others.
    outer, inner = position_order[:2], position_order[2:]
    fixed = {outer[-1]: task}
    if len(outer) == 2:
        extent = inst.shape.dims[outer[1]]
        fixed = {outer[0]: b.udiv(task, int_const(extent)),
                 outer[1]: b.urem(task, int_const(extent))}

    def per_inner(index):
        per_position([fixed.get(d, i) for d, i in enumerate(index)])

    cg.loop_nest(list(inst.shape.dims), inner, per_inner, name="p")


@materializer("convolution")
def _materialize_convolution(em: EntryEmitter, inst: Instruction) -> None:
    emit_convolution(em, inst)
