"""The entry function: one loop nest per instruction of the entry computation.

    int32_t ENTRY(void* const* args, void* const* results, void* temps,
                  const AotcRunOptions* options);   // returns 0

ENTRY loads the buffer pointers and calls an internal function that takes each buffer as
its own `noalias align 64` parameter (args, results and the temp arena never overlap by
contract), which lets LLVM vectorize without runtime alias checks once it is inlined.

Each instruction is *materialized* into its buffer by a rule from a registry; the default
rule is a loop nest over the output calling the elemental generator, reading operands
from their buffers. Special rules exist where a different loop order is much faster (dot,
reduce) or where no code is needed (parameters, constants, tuples).
"""

from __future__ import annotations

from typing import Callable

import llvmlite.ir as ir

from aotc import progress
from aotc.hlo import Instruction, Module
from aotc.hlo.registry import Registry

from .buffers import BufferView, ConstantPool, iteration_order
from .object_data import ObjectData
from .codegen import CodeGen
from .elemental import (ElementalEmitter, callee_emitter, dot_dimensions,
                        dot_operand_indices)
from .gemm import emit_gemm
from .llvm_types import HALF, I8, I32, I64, PTR, int_const, register_type
from .reduction import accumulator_lanes
from .shared_kernels import KernelCache
from .split import elementwise_tasks, emit_split_elementwise, row_reduce_tasks
from .target import TargetInfo
from .tasks import run_tasks, task_slots

Materializer = Callable[["EntryEmitter", Instruction], None]

#: opcode -> fn(emitter, instruction): emits the instruction into its buffer. Opcodes without
#: an entry are elementwise (`materialize_elementwise`). The family modules (convolution,
#: indexing, control_flow, fusion_emitter) register into it; the package imports them.
MATERIALIZERS: Registry[Materializer] = Registry("CPU materializer")


def materializer(*opcodes: str):
    """Register the decorated function as the materializer of `opcodes`."""
    return MATERIALIZERS.register(*opcodes)


def materialize(em: "EntryEmitter", inst: Instruction) -> None:
    """Emit `inst` into its buffer with its opcode's materializer (elementwise by default)."""
    MATERIALIZERS.get(inst.opcode, materialize_elementwise)(em, inst)


class EntryEmitter:
    """Emits the entry computation of `module` with buffers from `assignment`; kernels
    that split into tasks run at most `threads` of them at once (backends/cpu/tasks.py)."""

    #: Materializers run in the entry function itself (a FusionScope says False).
    in_entry = True
    #: Tasks the output loops are split into (a FusionScope's, when split); None here.
    split = None
    #: The task a materializer emits (FusionScope: its kernel's task argument).
    task = None

    def __init__(self, llvm_module: ir.Module, module: Module, assignment, target: TargetInfo,
                 outside: ObjectData | None = None, threads: int = 1):
        self.threads = threads
        self.llvm_module = llvm_module
        self.module = module
        self.assignment = assignment
        self.target = target
        self.constants = ConstantPool(llvm_module, outside)  # outside: big constants' bytes
        # Kernels identical but for their constants are emitted once (shared_kernels.py).
        self.kernels = KernelCache(llvm_module, lambda value: self.constants.owns(value))
        self._current: Instruction | None = None  # the instruction being emitted
        self.num_args = len(module.entry.parameters)
        self.num_results = len(assignment.results)

    # -- functions ---------------------------------------------------------------------------

    def emit(self, entry_symbol: str, kernels_done: Callable[[tuple], None] | None = None) -> None:
        """Emit the entry function `entry_symbol` and its kernels; `kernels_done(open)` is
        called after each instruction, when every function but those in `open` is
        complete (module_parts.PartPipeline cuts them off)."""
        impl = self._emit_impl(f"{entry_symbol}.impl", kernels_done)
        self.emit_entry_function(entry_symbol, impl)

    def emit_entry_function(self, symbol: str, impl: ir.Function) -> None:
        """The exported entry `symbol`: loads the buffer tables and calls `impl`."""
        fn = ir.Function(self.llvm_module, ir.FunctionType(I32, [PTR] * 4), name=symbol)
        fn.attributes.add("nounwind")
        args, results, temps, options = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        pointers = []
        for table, count in ((args, self.num_args), (results, self.num_results)):
            for i in range(count):
                slot = b.gep(table, [int_const(i)], inbounds=True, source_etype=PTR)
                pointers.append(b.load(slot, typ=PTR))
        b.call(impl, [*pointers, temps, options])
        b.ret(ir.Constant(I32, 0))

    def _emit_impl(self, name: str, kernels_done=None) -> ir.Function:
        count = self.num_args + self.num_results + 1
        fn = ir.Function(self.llvm_module, ir.FunctionType(ir.VoidType(), [PTR] * (count + 1)),
                         name=name)
        fn.linkage = "internal"
        fn.attributes.add("nounwind")
        for arg in fn.args[:count]:
            arg.add_attribute("noalias")
            arg.attributes.align = 64
        self.function = fn
        self.options = fn.args[count]  # const AotcRunOptions*, may be NULL
        self.cg = CodeGen(self.llvm_module, fn, self.target)
        self.elemental = ElementalEmitter(self.cg, self.constants, self._source)
        self.kernels.expect(self.module.entry.instructions)
        for inst in self.module.entry.instructions:
            self._current = inst  # whose kernels `run_tasks` runs
            materialize(self, inst)
            progress.current().emitted(inst.opcode)
            if kernels_done is not None:
                kernels_done((fn,))
        for index, source in self.assignment.result_copies:
            self._copy(self._result_pointer(index), self.pointer_of(source), source.shape.byte_size)
        self.cg.builder.ret_void()
        return fn

    # -- buffers -----------------------------------------------------------------------------

    @property
    def temps_arg(self) -> ir.Value:
        """The temp arena (the impl function's argument after the results)."""
        return self.function.args[self.num_args + self.num_results]

    def _result_pointer(self, index: int) -> ir.Value:
        return self.function.args[self.num_args + index]

    def _slice_pointer(self, piece) -> ir.Value:
        if piece.kind == "arg":
            return self.function.args[piece.index]
        if piece.kind == "result":
            return self._result_pointer(piece.index)
        if piece.kind == "temp":
            temps = self.temps_arg
            return self.cg.builder.gep(temps, [int_const(piece.offset)], inbounds=True, source_etype=I8)
        raise ValueError(f"unexpected buffer kind {piece.kind}")

    def pointer_of(self, inst: Instruction) -> ir.Value:
        """The buffer holding `inst`'s array value (seeing through get-tuple-element)."""
        while inst.opcode == "bitcast":  # same bytes as its operand
            inst = inst.operands[0]
        if inst.opcode == "constant":
            return self.constants.pointer(inst)
        piece = self.assignment.slice_of(inst)
        if piece is None:
            raise ValueError(f"no buffer for {inst.name}")
        if piece.kind == "constant":
            return self.constants.pointer(inst)
        return self._slice_pointer(piece)

    def view(self, inst: Instruction) -> BufferView:
        return BufferView(self.cg, self.pointer_of(inst), inst.shape)

    def constant_operand(self, inst: Instruction) -> Instruction | None:
        """`inst` if it is a constant (whose data the emitter may lay out its own way)."""
        return inst if inst.opcode == "constant" else None

    def element_views(self, inst: Instruction) -> list[BufferView | None]:
        """Buffers of a tuple-shaped producer's elements (None where nothing reads one)."""
        pieces = getattr(self.assignment, "tuple_slices", {}).get(inst) or []
        views = []
        for i, shape in enumerate(inst.shape.tuple_shapes):
            piece = pieces[i] if i < len(pieces) else None
            views.append(None if piece is None else BufferView(self.cg, self._slice_pointer(piece), shape))
        return views

    def _source(self, inst: Instruction):
        """Operands in the entry computation are read from their buffers."""
        if inst.opcode == "tuple" or inst.shape.is_tuple:
            return None
        view = self.view(inst)
        return view.load

    def _copy(self, destination, source, size: int) -> None:
        if size == 0:
            return
        b = self.cg.builder
        memcpy = self.cg.intrinsic("llvm.memcpy.p0.p0", ir.VoidType(), [PTR, PTR, I64, ir.IntType(1)],
                                   overloads=[I64])
        b.call(memcpy, [destination, source, int_const(size), ir.Constant(ir.IntType(1), 0)])

    def scratch_pointer(self, inst: Instruction, slot_bytes: int, tasks: int) -> ir.Value:
        """The scratch buffer assignment reserved for `inst` (backends/cpu/scratch.py), which
        must hold a `slot_bytes` slot per task that runs at once."""
        piece = self.assignment.scratch_of(inst)
        needed = task_slots(tasks, self.threads) * slot_bytes
        if piece is None or piece.size < needed:
            raise ValueError(f"{inst.name}: {needed} bytes of scratch needed, "
                             f"{0 if piece is None else piece.size} reserved")
        return self.cg.builder.gep(self.temps_arg, [int_const(piece.offset)], inbounds=True,
                                   source_etype=I8)

    def run_tasks(self, kernel: ir.Function, pointers: list, tasks: int) -> None:
        """Call kernel(pointers..., t) for every task t, on the caller's pool if any.
        Call it once the kernel's body is complete: an identical earlier kernel (but for
        its constants) is called instead, with this one's constants (shared_kernels.py)."""
        kernel, constants = self.kernels.finish(kernel, self._current)
        run_tasks(self.cg, self.options, kernel, [*pointers, *constants], tasks, self.threads)

    # -- loops -------------------------------------------------------------------------------

    def store_loop(self, view: BufferView, element: Callable[[list], ir.Value]) -> None:
        """view[index] = element(index) for every index, in memory order."""
        shape = view.shape
        self.cg.loop_nest(list(shape.dims), iteration_order(shape),
                          lambda index: view.store(index, element(index)))


# -- materializers --------------------------------------------------------------------------


@materializer("parameter", "constant", "tuple", "get-tuple-element", "bitcast")
def _nothing(em: EntryEmitter, inst: Instruction) -> None:
    """These live in buffers the caller or the object file provides, or are views (a
    bitcast reads its operand's bytes through its own shape's layout)."""


def materialize_elementwise(em: EntryEmitter, inst: Instruction) -> None:
    """The default: a loop nest over the output generating each element (big ones in the
    entry function split into tasks by rows, backends/cpu/split.py)."""
    tasks = elementwise_tasks(em, inst)
    if tasks > 1:
        emit_split_elementwise(em, inst, tasks)
        return
    if inst.shape.is_tuple:
        views = em.element_views(inst)
        shapes = inst.shape.tuple_shapes
        if any(s.dims != shapes[0].dims for s in shapes):
            raise NotImplementedError(f"{inst.name}: tuple elements of different shapes")

        def store_all(index):
            for view, value in zip(views, em.elemental.generate(inst, index)):
                if view is not None:
                    view.store(index, value)

        em.cg.loop_nest(list(shapes[0].dims), iteration_order(shapes[0]), store_all)
        return
    em.store_loop(em.view(inst), lambda index: em.elemental.generate(inst, index))


@materializer("call")  # fusion: backends/cpu/fusion_emitter.py (kLoop comes back here)
def materialize_call(em: EntryEmitter, inst: Instruction) -> None:
    """A call (or a loop fusion): each output element generated from the callee's root."""
    child, computation = callee_emitter(em.elemental, inst)
    root = computation.root
    if not inst.shape.is_tuple:
        if root.opcode == "concatenate" and em.split is None:
            _store_concatenate(em, em.view(inst), root, child)
            return
        em.store_loop(em.view(inst), lambda index: child.generate(root, index))
        return
    # Multi-output: one loop nest per element (elements may differ in shape).
    for view, element in zip(em.element_views(inst), _tuple_elements(root)):
        if view is not None:
            em.store_loop(view, lambda index, element=element: child.value(element, index))


def _store_concatenate(em: EntryEmitter, out: BufferView, root: Instruction, child) -> None:
    """A callee whose root is a concatenate (a mirror pad: concatenates of reversed
    slices): one loop nest per operand into its part of the output, each element
    generated from that operand alone, instead of choosing the operand per element. (Not
    for a fusion whose output loops are split into tasks: those rows span operands.)"""
    b = em.cg.builder
    (axis,) = root.attrs["dimensions"]
    order = iteration_order(out.shape)
    offset = 0
    for operand in root.operands:
        def body(index, operand=operand, offset=offset):
            target = list(index)
            if offset:
                target[axis] = b.add(index[axis], int_const(offset), flags=("nuw", "nsw"))
            out.store(target, child.value(operand, index))

        em.cg.loop_nest(list(operand.shape.dims), order, body, name="cat")
        offset += operand.shape.dims[axis]


def _tuple_elements(root: Instruction) -> list[Instruction]:
    if root.opcode != "tuple":
        raise NotImplementedError(f"tuple-shaped call root {root.opcode}")
    return list(root.operands)


@materializer("reshape", "copy")
def _materialize_copy(em: EntryEmitter, inst: Instruction) -> None:
    """Same bytes in the same order: one memcpy instead of an index-remapping loop."""
    source = inst.operands[0].shape
    same_order = source.is_row_major and inst.shape.is_row_major if inst.opcode == "reshape" \
        else source.layout == inst.shape.layout
    if same_order and source.element_type == inst.shape.element_type:
        em._copy(em.pointer_of(inst), em.pointer_of(inst.operands[0]), inst.shape.byte_size)
    else:
        materialize_elementwise(em, inst)


@materializer("concatenate")
def _materialize_concatenate(em: EntryEmitter, inst: Instruction) -> None:
    """One copy loop per operand into its part of the output (no per-element selects)."""
    b = em.cg.builder
    (axis,) = inst.attrs["dimensions"]
    out = em.view(inst)
    offset = 0
    for operand in inst.operands:
        source = em.view(operand)

        def body(index, source=source, offset=offset):
            target = list(index)
            target[axis] = b.add(index[axis], int_const(offset)) if offset else index[axis]
            out.store(target, source.load(index))

        em.cg.loop_nest(list(operand.shape.dims), iteration_order(operand.shape), body)
        offset += operand.shape.dims[axis]


@materializer("dot")
def _materialize_dot(em: EntryEmitter, inst: Instruction) -> None:
    emit_dot(em, inst)


def emit_dot(em: EntryEmitter, inst: Instruction, after_row=None) -> None:
    """f32/f64 dots go through the packed GEMM (backends/cpu/gemm.py) where it applies.
    Other float dots (and skinny ones with B fed) accumulate into the output row: loops (batch, lhs free, contracting,
    rhs free), so the innermost loop streams a contiguous rhs row into a contiguous output
    row and vectorizes.

    after_row(for_each), when given, runs once each output row is final; for_each(body)
    loops body(index) over that row (output fusion applies its epilogue there). The GEMM
    instead applies it to each finished tile through after_row.apply (gemm.emit_gemm).
    """
    if emit_gemm(em, inst, after_row):  # packed panels and a register-blocked kernel
        return
    t = inst.shape.element_type
    if not t.is_float or register_type(t) == HALF:
        materialize_elementwise(em, inst)
        if after_row is not None:  # the whole output is one "row"
            after_row(lambda body: em.cg.loop_nest(list(inst.shape.dims),
                                                   iteration_order(inst.shape), body, name="e"))
        return
    cg, b = em.cg, em.cg.builder
    lb, rb, lc, rc, lf, rf = dot_dimensions(inst)
    lhs, rhs = (em.view(op) for op in inst.operands)
    out = em.view(inst)
    outer_rank = len(lb) + len(lf)
    out_dims = list(inst.shape.dims)
    zero = ir.Constant(register_type(t), 0.0)
    contracting_extents = [inst.operands[0].shape.dims[d] for d in lc]
    inner_order = [d for d in iteration_order(inst.shape) if d >= outer_rank]
    outer_order = [d for d in iteration_order(inst.shape) if d < outer_rank]

    def per_row(outer_index):
        def clear(inner):
            out.store(outer_index[:outer_rank] + inner[outer_rank:], zero)

        cg.loop_nest(out_dims, inner_order, clear, name="j")

        def per_contraction(contracting):
            # lhs element depends only on the outer index and k: hoisted out of the j loop.
            row_start = outer_index[:outer_rank] + [int_const(0)] * (len(out_dims) - outer_rank)
            lhs_index, _ = dot_operand_indices(inst, row_start, contracting)
            a = lhs.load(lhs_index)

            def accumulate(inner):
                index = outer_index[:outer_rank] + inner[outer_rank:]
                _, rhs_index = dot_operand_indices(inst, index, contracting)
                total = b.fadd(out.load(index), b.fmul(a, rhs.load(rhs_index)))
                out.store(index, total)

            cg.loop_nest(out_dims, inner_order, accumulate, name="j")

        cg.loop_nest(contracting_extents, list(range(len(lc))), per_contraction, name="k")
        if after_row is not None:
            after_row(lambda body: cg.loop_nest(
                out_dims, inner_order,
                lambda inner: body(outer_index[:outer_rank] + inner[outer_rank:]), name="e"))

    cg.loop_nest(out_dims, outer_order, per_row, name="i")


@materializer("reduce")
def _materialize_reduce(em: EntryEmitter, inst: Instruction) -> None:
    """Single-output reduce: accumulate in the output buffer while walking the input in
    memory order, so row and column reductions both stream contiguous memory. Reductions
    of contiguous rows with a plain reducer take the elemental rule instead: several
    register accumulators per row (backends/cpu/reduction.py), big ones split into tasks
    by rows (backends/cpu/split.py)."""
    tasks = row_reduce_tasks(em, inst)
    if tasks > 1:
        emit_split_elementwise(em, inst, tasks)
        return
    if inst.shape.is_tuple or accumulator_lanes(em.cg.target, inst) > 1:
        materialize_elementwise(em, inst)
        return
    operand, init = inst.operands
    out = em.view(inst)
    initial = em.elemental.value(init, [])
    em.store_loop(out, lambda index: initial)
    dims = set(inst.attrs["dimensions"])
    kept = [d for d in range(operand.shape.rank) if d not in dims]
    reducer = inst.to_apply()

    def step(index):
        out_index = [index[d] for d in kept]
        current = out.load(out_index)
        element = em.elemental.value(operand, index)
        (result,) = em.elemental.apply(reducer, [current, element])
        out.store(out_index, result)

    em.cg.loop_nest(list(operand.shape.dims), iteration_order(operand.shape), step, name="r")


