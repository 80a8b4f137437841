"""Convolutions as implicit GEMM on the packed GEMM's micro-kernel (backends/cpu/gemm.py).

C[m, o] = sum over k of A[m, k] * B[k, o], where m is an output pixel (batch and spatial
indices, row-major), o an output feature, and k = (kernel tap, input feature): B is the
constant kernel, packed at compile time into the micro-kernel's panels (taps major, input
features minor, as an HWIO kernel is stored), and A is never built. For each tap, the
micro-kernel points each of its MR rows at the input pixel that tap reads (a row of input
features) and walks the input features; a tap that falls into padding, or into a hole
points that row at a row of zeros. So no element is tested: the bounds are checked once
per tap and row, and a 1x1 convolution is a plain GEMM over the input features. With few
input features per tap (a first layer's 1 or 3) that per-tap pointer work would cost
more than the tap's multiply-adds, so there the taps are unrolled: each row's pointer is
its first tap's pixel plus a static offset per tap, and a tile whose rows all read every
tap inside the input (the interior; one test per tile) skips the bounds tests too.

A transposed convolution (base dilation d > 1, stride 1) is split by output phase: the
output positions o = phase + d * j of one phase read the dilated base only at taps k with
(phase + k * window_dilation - padding_low) divisible by d, at input position j + that
quotient. So each of the d^rank phases is an ordinary stride-1 convolution over the
undilated input with its own subset of the taps (its own packed B, together the whole
kernel once), and no tap lands in a hole.

Taken for float convolutions with a constant kernel, one feature group, and output
features contiguous in memory; others (depthwise among them) keep the direct emitter of
backends/cpu/convolution.py. Fewer output features than a vector (down to one, as in an
image decoder's last layer) take a tile of one vector per row and more rows
(`choose_tile`) when there are at least a vector of input features: the idle lanes
cost less than the direct loops' scalar accumulation (with few input features too, the
direct loops win, and with one input feature line_conv.py's line vectors; LeNet's
1 -> 6 first layer was measured).
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import llvmlite.ir as ir
import numpy as np

from aotc.hlo import Instruction

from .buffers import strides
from .codegen import CodeGen
from .gemm import (GemmEmitter, GemmPlan, carried_loop, choose_tile, element_gep, emit_tasks,
                   gemm_element_type, index_add, index_mul, panels)
from .llvm_types import F32, I1, int_const

#: Micro-tiles of rows per task (a task is a block of output pixels times all features).
TILES_PER_TASK = 8
#: Taps and input features up to which the taps are unrolled (`_tap_geometry`): a first
#: layer's 1 or 3 input features, where the per-tap pointer work outweighs the
#: multiply-adds of the tap.
MAX_UNROLLED_TAPS = 49
MAX_UNROLLED_INPUTS = 4
#: Rows (MR) of a micro-tile whose taps are unrolled, at most. The whole K is then
#: straight-line code whose B vectors LLVM keeps in registers across the rows; fewer rows
#: leave it the registers. A MobileNetV2 stem (96 x 96 x 3, stride 2, 16 features) ran
#: in 26 us with AVX-512's 12 rows, 19.8 us with 6 (21.6 with 4); the ResNet-style and
#: EfficientNet stems within 2%. And each copy of the taps is half the code for LLVM.
UNROLLED_TILE_ROWS = 6


class ConvGemm(GemmEmitter):
    """The implicit GEMM of convolution `inst`, or of one output `phase` of it (a tuple,
    one per spatial dimension; see the module docstring)."""

    def __init__(self, inst: Instruction, tile, element: ir.Type, phase: tuple | None = None,
                 threads: int = 1):
        lhs, rhs = inst.operands
        self.inst = inst
        self.dn = dn = inst.attrs["dim_labels"]
        self.window = inst.attrs["window"]
        self.phase = phase
        self.kernel_sizes = [rhs.shape.dims[d] for d in dn.kernel_spatial]
        self.inputs = rhs.shape.dims[dn.kernel_input_feature]
        self.base_sizes = [lhs.shape.dims[d] for d in dn.input_spatial]
        self.in_strides = strides(lhs.shape)
        self.out_strides = strides(inst.shape)
        # Rows of C: (batch, spatial...) positions; with a phase, the j of o = phase + d*j.
        self.extents = [inst.shape.dims[dn.output_batch]]
        for s, d in enumerate(dn.output_spatial):
            size = inst.shape.dims[d]
            if phase is not None:
                step = self.window[s].base_dilation
                size = max(0, -(-(size - phase[s]) // step))
            self.extents.append(size)
        self.taps = self._taps()
        m = int(np.prod(self.extents, dtype=np.int64))
        n = rhs.shape.dims[dn.kernel_output_feature]
        plan = GemmPlan(m, n, len(self.taps) * self.inputs, 0, [], [], [], [], 0,
                        self.in_strides[dn.input_feature], 0, 1, 0, [], [])
        if self.unrolled:
            tile = replace(tile, rows=min(tile.rows, UNROLLED_TILE_ROWS))
        super().__init__(plan, tile, element, constant=True)
        self.threads = threads
        self.kc = max(1, plan.k)  # one K block: A rows are gathered per tap
        if not self.skinny:
            rows = self.tile.rows  # MR: may be fewer than `tile`'s (gemm.rows_dividing)
            self.mc = min(rows * TILES_PER_TASK, -(-m // rows) * rows)
            self.split_rows()
        self.zeros = None
        # Per micro-tile: id(row index m) -> (its _rows, its _output_position), built at
        # the tile's start (`_begin_tile`) so that the row pointers, the taps and the
        # epilogue's output indices share one delinearization per row.
        self._row_memo: dict[int, tuple[list, list]] = {}

    def _begin_tile(self) -> None:
        self._row_memo = {}
        for m in self._tile_m:
            rows = self._delinearize(m)
            self._row_memo[id(m)] = (rows, self._position_of(rows))

    def _taps(self) -> list[tuple[tuple, tuple | None]]:
        """(kernel index, per-dimension input offsets) of each tap that reads the input;
        offsets None: computed per output position (no phase split)."""
        ranges = [range(k) for k in self.kernel_sizes]
        if self.phase is None:
            return [(k, None) for k in itertools.product(*ranges)]
        per_dim = []
        for s, dim in enumerate(self.window):
            valid = []
            for k in ranges[s]:
                shifted = self.phase[s] + k * dim.window_dilation - dim.padding_low
                if shifted % dim.base_dilation == 0:
                    valid.append((k, shifted // dim.base_dilation))
            per_dim.append(valid)
        return [(tuple(k for k, _ in combo), tuple(o for _, o in combo))
                for combo in itertools.product(*per_dim)]

    def pack(self, rhs: Instruction) -> bytes:
        """The kernel (constant `rhs`) as B: rows (tap, input feature) for this GEMM's
        taps, columns the output features; in panels."""
        literal = np.asarray(rhs.attrs["literal"], dtype=rhs.shape.element_type.np_dtype)
        literal = literal.reshape(rhs.shape.dims)
        order = [*self.dn.kernel_spatial, self.dn.kernel_input_feature,
                 self.dn.kernel_output_feature]
        kernel = np.transpose(literal, order)
        rows = [kernel[k] for k, _ in self.taps]  # each [input features, output features]
        matrix = (np.concatenate(rows) if rows
                  else np.zeros((0, self.plan.n), literal.dtype))
        return panels(matrix.reshape(1, self.plan.k, self.plan.n), self.tile)

    def output_index(self, m, n) -> list:
        """The output index of row m, feature n."""
        index = [None] * self.inst.shape.rank
        index[self.dn.output_feature] = n
        batch, *spatial = self._output_position(m)
        index[self.dn.output_batch] = batch
        for d, value in zip(self.dn.output_spatial, spatial):
            index[d] = value
        return index

    def _rows(self, m) -> list:
        """m -> its (batch, j...) indices (j: the output position, or its phase step)."""
        memo = self._row_memo.get(id(m))
        return memo[0] if memo is not None else self._delinearize(m)

    def _delinearize(self, m) -> list:
        b = self.cg.builder
        values, remaining = [None] * len(self.extents), m
        for i in reversed(range(len(self.extents))):
            if self.extents[i] == 1:
                values[i] = int_const(0)
            elif i == 0:
                values[i] = remaining
            else:
                values[i] = b.urem(remaining, int_const(self.extents[i]))
                if any(extent != 1 for extent in self.extents[:i]):  # else unused
                    remaining = b.udiv(remaining, int_const(self.extents[i]))
        return values

    def _output_position(self, m) -> list:
        memo = self._row_memo.get(id(m))
        return memo[1] if memo is not None else self._position_of(self._rows(m))

    def _position_of(self, rows: list) -> list:
        b = self.cg.builder
        batch, *js = rows
        if self.phase is None:
            return [batch, *js]
        return [batch, *[index_add(b, index_mul(b, j, dim.base_dilation), p)
                         for j, dim, p in zip(js, self.window, self.phase)]]

    def _c_rows(self, c, m0, rows: int) -> list:
        b, dn = self.cg.builder, self.dn
        pointers = []
        for m in self._tile_m:  # m0 + r for each row r
            position = self._output_position(m)
            offset = index_mul(b, position[0], self.out_strides[dn.output_batch])
            for d, value in zip(dn.output_spatial, position[1:]):
                offset = index_add(b, offset, index_mul(b, value, self.out_strides[d]))
            pointers.append(element_gep(b, c, offset, self.ty))
        return pointers

    def _accumulate(self, a, m0, rows: int, pc, kc, layout, initial) -> list:
        """For each tap: point each row at the input pixel it reads (or at zeros), then
        walk the input features."""
        cg, b, dn = self.cg, self.cg.builder, self.dn
        pixels = [self._rows(m) for m in self._tile_m]  # m0 + r for each row r
        feature_step = self.in_strides[dn.input_feature]

        def row_pointers(taps, offsets):
            pointers = []
            for pixel in pixels:
                offset = index_mul(b, pixel[0], self.in_strides[dn.input_batch])
                inside = ir.Constant(I1, 1)
                for s, dim in enumerate(self.window):
                    if offsets is not None:  # a phase: j + the tap's offset, undilated
                        # (no nuw: the offset may be negative, the sum then out of range)
                        position = b.add(pixel[1 + s], int_const(offsets[s]))
                        extent, dilation = self.base_sizes[s], 1
                    else:
                        position = index_add(b, index_mul(b, pixel[1 + s], dim.stride),
                                        index_mul(b, taps[s], dim.window_dilation))
                        position = b.sub(position, int_const(dim.padding_low))
                        extent = (self.base_sizes[s] - 1) * dim.base_dilation + 1
                        dilation = dim.base_dilation
                    inside = b.and_(inside, b.icmp_unsigned("<", position, int_const(extent)))
                    if dilation != 1:
                        on_element = b.icmp_unsigned(
                            "==", b.urem(position, int_const(dilation)), int_const(0))
                        inside = b.and_(inside, on_element)
                        position = b.udiv(position, int_const(dilation))
                    offset = index_add(b, offset, index_mul(b, position, self.in_strides[dn.input_spatial[s]]))
                pointers.append(b.select(inside, element_gep(b, a, offset, self.ty), self.zeros))
            return pointers

        geometry = self._tap_geometry(pixels)
        if geometry is None:
            return self._accumulate_bordered(row_pointers, feature_step, layout, initial)
        inside, bases, offsets, firsts, relative = geometry

        def unrolled(masked: bool):
            return lambda: self._accumulate_unrolled(  # noqa: E731
                a, bases, offsets, (firsts, relative) if masked else None, feature_step,
                layout, initial)

        if inside is True:  # every tile is interior
            return unrolled(False)()
        if inside is None:
            return unrolled(True)()
        # Tiles clear of the borders skip the per-tap tests.
        return _branch(cg, inside, unrolled(False), unrolled(True))

    def _tap_geometry(self, pixels):
        """For unrolled taps: (inside, bases, offsets, firsts, relative), or None (base
        dilation without a phase split, more than MAX_UNROLLED_TAPS taps or more than
        MAX_UNROLLED_INPUTS input features). Row r reads
        tap t at bases[r] + offsets[t] elements, at input position firsts[r][s] +
        relative[t][s] of spatial dimension s (in bounds when below the base size).
        `inside` says whether every row reads every tap in bounds (the tile is interior):
        an i1 value; True where every tile is (no padding, or none that a tap reads:
        then only the interior's copy of the taps is emitted); None where no tile can be
        (a window larger than the base)."""
        b, dn = self.cg.builder, self.dn
        if not self.unrolled:
            return None
        if self.phase is None:
            low = [-dim.padding_low for dim in self.window]  # first tap, per dimension
            relative = [[k[s] * dim.window_dilation for s, dim in enumerate(self.window)]
                        for k, _ in self.taps]
        else:
            low = [min(o[s] for _, o in self.taps) for s in range(len(self.window))]
            relative = [[o[s] - low[s] for s in range(len(self.window))] for _, o in self.taps]
        span = [max(t[s] for t in relative) for s in range(len(self.window))]
        limits = [size - 1 - extent for size, extent in zip(self.base_sizes, span)]
        spatial = [self.in_strides[d] for d in dn.input_spatial]
        steps = [1 if self.phase is not None else dim.stride for dim in self.window]
        if all(0 <= first and (extent - 1) * step + first <= limit for first, extent, step, limit
               in zip(low, self.extents[1:], steps, limits)):
            inside = True  # every row of every tile reads every tap in bounds
        elif any(limit < 0 for limit in limits):
            inside = None
        else:
            inside = ir.Constant(I1, 1)
        bases, firsts = [], []
        for pixel in pixels:
            # Plain arithmetic (no nuw/nsw): near the borders it wraps below zero.
            offset = b.mul(pixel[0], int_const(self.in_strides[dn.input_batch]))
            row = []
            for s, step in enumerate(steps):
                first = pixel[1 + s] if step == 1 else b.mul(pixel[1 + s], int_const(step))
                if low[s]:
                    first = b.add(first, int_const(low[s]))
                row.append(first)
                if isinstance(inside, ir.Value):  # a wrapped `first` fails the unsigned compare
                    inside = b.and_(inside, b.icmp_unsigned("<=", first, int_const(limits[s])))
                offset = b.add(offset, b.mul(first, int_const(spatial[s])))
            bases.append(offset)
            firsts.append(row)
        offsets = [sum(k * stride for k, stride in zip(tap, spatial)) for tap in relative]
        return inside, bases, offsets, firsts, relative

    @property
    def unrolled(self) -> bool:
        """Whether the taps are unrolled (`_tap_geometry`): at most MAX_UNROLLED_TAPS taps
        and MAX_UNROLLED_INPUTS input features, and no base dilation outside a phase."""
        return (0 < len(self.taps) <= MAX_UNROLLED_TAPS and self.inputs <= MAX_UNROLLED_INPUTS
                and (self.phase is not None
                     or all(dim.base_dilation == 1 for dim in self.window)))

    def _accumulate_unrolled(self, a, bases, offsets, masks, feature_step, layout,
                             initial) -> list:
        """The taps unrolled, row r reading tap t at bases[r] + offsets[t]; with `masks`
        (firsts, relative: see _tap_geometry) a row whose tap falls outside the base
        reads the zero row instead."""
        cg, b = self.cg, self.cg.builder
        accumulators = initial
        for t, offset in enumerate(offsets):
            pointers = []
            for r, base in enumerate(bases):
                pointer = b.gep(a, [b.add(base, int_const(offset))], source_etype=self.ty)
                if masks is not None:
                    firsts, relative = masks
                    ok = None
                    for s, size in enumerate(self.base_sizes):
                        position = firsts[r][s]
                        if relative[t][s]:
                            position = b.add(position, int_const(relative[t][s]))
                        test = b.icmp_unsigned("<", position, int_const(size))
                        ok = test if ok is None else b.and_(ok, test)
                    pointer = b.select(ok, pointer, self.zeros)
                pointers.append(pointer)
            accumulators = carried_loop(cg, self.inputs, accumulators,
                                        self._step(layout, pointers, feature_step,
                                                   t * self.inputs), name="ci")
        return accumulators

    def _accumulate_bordered(self, row_pointers, feature_step, layout, initial) -> list:
        """Each row's pointer chosen per tap: the input pixel, or zeros in the padding."""
        cg, b = self.cg, self.cg.builder
        if self.phase is not None:  # a few taps, each with static offsets: unrolled
            accumulators = initial
            for t, (_, offsets) in enumerate(self.taps):
                accumulators = carried_loop(cg, self.inputs, accumulators,
                                     self._step(layout, row_pointers(None, offsets),
                                                feature_step, t * self.inputs), name="ci")
            return accumulators

        def per_tap(tap, accumulators):
            taps, remaining = [None] * len(self.kernel_sizes), tap
            for i in reversed(range(len(self.kernel_sizes))):
                size = self.kernel_sizes[i]
                taps[i] = b.urem(remaining, int_const(size)) if i else remaining
                remaining = b.udiv(remaining, int_const(size)) if i else remaining
            return carried_loop(cg, self.inputs, accumulators,
                         self._step(layout, row_pointers(taps, None), feature_step,
                                    index_mul(b, tap, self.inputs)), name="ci")

        return carried_loop(cg, len(self.taps), initial, per_tap, name="tap")


def _branch(cg: CodeGen, condition, then, otherwise) -> list:
    """then() if condition else otherwise(): both emit code and return equally typed
    lists of values; returns the values of the branch taken."""
    b = cg.builder
    with b.if_else(condition) as (taken, not_taken):
        with taken, cg.scope():
            first = then()
            first_block = b.block
        with not_taken, cg.scope():
            second = otherwise()
            second_block = b.block
    merged = []
    for x, y in zip(first, second):
        phi = b.phi(x.type)
        phi.add_incoming(x, first_block)
        phi.add_incoming(y, second_block)
        merged.append(phi)
    return merged


class PhasedConv:
    """A transposed convolution as one ConvGemm per output phase; tasks are numbered
    across the phases in order."""

    def __init__(self, phases: list[ConvGemm]):
        self.phases = [p for p in phases if p.plan.m > 0]
        self.tile = phases[0].tile
        self.eb = phases[0].eb
        self.inputs = phases[0].inputs
        self.packed: list = []  # each phase's packed B (set before emit)

    @property
    def tasks(self) -> int:
        return sum(p.tasks for p in self.phases)

    @property
    def zeros(self):
        return self.phases[0].zeros

    @zeros.setter
    def zeros(self, value) -> None:
        for p in self.phases:
            p.zeros = value

    def emit(self, cg: CodeGen, c, a, b, packed, epilogue, task=None) -> None:
        """Every phase's tasks (task None), or the phase holding task `task`."""
        start = 0
        for phase, phase_packed in zip(self.phases, self.packed):
            if task is None:
                phase.emit(cg, c, a, b, phase_packed, epilogue, None)
                continue
            builder = cg.builder
            mine = builder.and_(builder.icmp_unsigned(">=", task, int_const(start)),
                                builder.icmp_unsigned("<", task, int_const(start + phase.tasks)))
            with builder.if_then(mine):
                phase.emit(cg, c, a, b, phase_packed, epilogue,
                           builder.sub(task, int_const(start)))
            start += phase.tasks


def prepare_conv_gemm(target, inst: Instruction, constant_of,
                      threads: int = 1) -> ConvGemm | PhasedConv | None:
    """The implicit GEMM of convolution `inst`, or None where it does not apply (module
    docstring). constant_of(operand) is the constant an operand is, or None; `threads`
    the tasks worth having at least."""
    ty = gemm_element_type(inst)
    if ty is None or inst.attrs.get("feature_group_count", 1) != 1 \
            or inst.attrs.get("batch_group_count", 1) != 1:
        return None
    if constant_of(inst.operands[1]) is None:
        return None
    dn = inst.attrs["dim_labels"]
    if strides(inst.shape)[dn.output_feature] != 1:
        return None
    outputs = inst.shape.dims[dn.output_feature]
    tile = choose_tile(target, 4 if ty == F32 else 8, outputs)
    # Few features in and out: the direct loops (or line_conv.py's, for one input
    # feature) are faster. "Few" is below a vector, as
    # measured with AVX2's 8 f32 lanes; AVX-512's wider vectors do not move the line.
    few = min(tile.lanes, 32 // (4 if ty == F32 else 8))
    if outputs < few and inst.operands[1].shape.dims[dn.kernel_input_feature] < few:
        return None
    if any(d == 0 for d in inst.shape.dims) or any(d == 0 for d in inst.operands[0].shape.dims):
        return None
    window = inst.attrs["window"]
    if any(dim.base_dilation != 1 for dim in window) and all(dim.stride == 1 for dim in window):
        return PhasedConv([ConvGemm(inst, tile, ty, phase, threads) for phase in
                           itertools.product(*[range(dim.base_dilation) for dim in window])])
    return ConvGemm(inst, tile, ty, threads=threads)


def emit_conv_gemm(em, inst: Instruction, after_row=None) -> bool:
    """Emit convolution `inst` as an implicit GEMM; False (nothing emitted) where
    `prepare_conv_gemm` says it does not apply. `em`, after_row: as for gemm.emit_gemm."""
    conv = prepare_conv_gemm(em.target, inst, em.constant_operand, em.threads)
    if conv is None:
        return False
    rhs = em.constant_operand(inst.operands[1])
    packed = None
    if isinstance(conv, PhasedConv):
        conv.packed = [em.constants.raw(("conv", rhs, conv.tile.nr, repr(p.dn), p.phase),
                                        lambda p=p: p.pack(rhs), f"packed.{rhs.name}")
                       for p in conv.phases]
    else:
        packed = em.constants.raw(("conv", rhs, conv.tile.nr, repr(conv.dn)), lambda: conv.pack(rhs),
                                  f"packed.{rhs.name}")
    conv.zeros = em.constants.raw(("zeros", conv.inputs, conv.eb),
                                  lambda: bytes(conv.inputs * conv.eb), "zeros")
    pointers = [em.pointer_of(inst), em.pointer_of(inst.operands[0])]
    emit_tasks(em, inst, conv, pointers, packed, after_row,
               lambda emitter, batch_index, m, n: emitter.output_index(m, n))
    return True


__all__ = ["ConvGemm", "emit_conv_gemm", "prepare_conv_gemm"]
