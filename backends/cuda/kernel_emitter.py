"""Kernels for the entry computation: one or more per instruction that computes something,
launched in schedule order.

Every kernel of the entry computation takes the buffers of the CPU backend's calling
convention as separate pointers (args, results, the temp arena), so their launch
parameters are all the same and buffer assignment's offsets hold unchanged.
`KernelEmitter` is the CPU backend's `EntryEmitter` with a kernel function per kernel in
place of its single implementation function: views, element views and the elemental
generator work unchanged inside a kernel, and so would any CPU materializer (a
one-thread kernel, `serial`, runs one where nothing parallel exists yet).

How an instruction becomes kernels is a rule from a registry (`kernel_rule`):
- the default: one thread per output element (`store_loop` maps the element of linear
  position `block * block_size + thread`, in memory order, so neighbouring threads touch
  neighbouring addresses); every opcode with an elemental generator and every loop
  fusion takes this path, with 4 neighbouring elements per thread where the minor
  dimension allows (`vector_kernel`: 128-bit loads and stores);
- reductions, dots, fusions around them, scatter and sort have kernels of their own
  (reduction.py, gemm.py, indexing.py);
- while and conditional are host control flow around the kernels of the computations
  they call (control_flow.py); each such computation is emitted by a KernelEmitter of
  its own whose buffers are places in the entry's (`frame`).

The hooks (hooks.py) decide whether this becomes a GPU kernel or its host emulation.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable

import llvmlite.ir as ir

from aotc.backends.cpu.buffers import BufferView, iteration_order
from aotc.backends.cpu.codegen import CodeGen
from aotc.backends.cpu.elemental import ElementalEmitter, callee_emitter
from aotc.backends.cpu.emitter import EntryEmitter
from aotc.backends.cpu.fusion_emitter import FusionScope
from aotc.backends.cpu.llvm_types import int_const
from aotc.passes.fusion_analysis import fused_computation
from aotc.hlo import Instruction, Shape
from aotc.hlo.registry import Registry

from .hooks import Hooks, guarded
from .launch_plan import BufferRef, Launch

#: Threads per block of element-per-thread kernels.
BLOCK_SIZE = 256
#: Elements per thread of a loop kernel whose most minor dimension allows (vector_width).
VECTOR_WIDTH = 4

KernelRule = Callable[["KernelEmitter", Instruction], None]

#: opcode -> rule(emitter, instruction) emitting its kernels (and plan steps). Opcodes
#: without one take `parallel_elementwise`. Family modules (reduction, gemm, indexing,
#: control_flow, fusion) register into it; kernels.py imports them.
KERNEL_RULES: Registry[KernelRule] = Registry("CUDA kernel rule")


def kernel_rule(*opcodes: str):
    """Register the decorated function as the kernel rule of `opcodes`."""
    return KERNEL_RULES.register(*opcodes)


def delinearize(b: ir.IRBuilder, linear: ir.Value, shape: Shape) -> list:
    """The index of the element at `linear` in memory order of `shape` (minor dim fastest)."""
    index = [int_const(0)] * shape.rank
    order = list(shape.layout)
    for k, dim in enumerate(order):
        extent = shape.dims[dim]
        if extent == 1:
            continue
        last = all(shape.dims[d] == 1 for d in order[k + 1:])
        index[dim] = linear if last else b.urem(linear, int_const(extent))
        if not last:
            linear = b.udiv(linear, int_const(extent))
    return index


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class KernelEmitter(EntryEmitter):
    """Emits the entry computation of `module` as kernels (through `hooks`) and records
    the launch plan (`plan`). `frame`, for a computation a while or conditional calls,
    places its buffers (args, results, temps) in the entry's; None for the entry."""

    def __init__(self, llvm_module: ir.Module, module, assignment, target, hooks: Hooks,
                 frame: list[BufferRef] | None = None):
        super().__init__(llvm_module, module, assignment, target)
        self.hooks = hooks
        self.frame = frame
        self.plan: list = []
        self._parallel = False
        self.buffer_count = self.num_args + self.num_results + 1

    def emit_kernels(self) -> list:
        """Every kernel of the computation, in schedule order; returns the plan."""
        for inst in self.module.entry.instructions:
            rule = KERNEL_RULES.get(inst.opcode, parallel_elementwise)
            rule(self, inst)
        for index, source in self.assignment.result_copies:
            self._copy_kernel(index, source)
        return self.plan

    # -- places ----------------------------------------------------------------------------

    def _frame_ref(self, k: int) -> BufferRef:
        """Where buffer parameter k of this computation's kernels is in the entry's."""
        if self.frame is not None:
            return self.frame[k]
        if k < self.num_args:
            return BufferRef("arg", k)
        if k < self.num_args + self.num_results:
            return BufferRef("result", k - self.num_args)
        return BufferRef("temp")

    def temp_ref(self, offset: int) -> BufferRef:
        return self._frame_ref(self.buffer_count - 1).shifted(offset)

    def piece_ref(self, piece) -> BufferRef:
        if piece.kind == "arg":
            return self._frame_ref(piece.index)
        if piece.kind == "result":
            return self._frame_ref(self.num_args + piece.index)
        return self.temp_ref(piece.offset)

    def ref_of(self, inst: Instruction) -> BufferRef:
        """Where `inst`'s array value lives, in the entry's buffers."""
        while inst.opcode == "bitcast":
            inst = inst.operands[0]
        piece = None if inst.opcode == "constant" else self.assignment.slice_of(inst)
        if piece is None or piece.kind == "constant":
            return BufferRef("constant", 0, self.constants.offset_of(inst))
        return self.piece_ref(piece)

    def element_refs(self, inst: Instruction) -> list[BufferRef]:
        """The place of each element of `inst`'s value (the value itself for an array)."""
        if not inst.shape.is_tuple:
            return [self.ref_of(inst)]
        if inst.opcode == "tuple":
            return [self.ref_of(op) for op in inst.operands]
        return [self.piece_ref(piece) for piece in self.assignment.tuple_slices[inst]]

    def child_plan(self, flat, args: list[BufferRef], results: list[BufferRef],
                   region: BufferRef) -> list:
        """The plan of `flat` (a computation a while or conditional calls) on buffers at
        these places."""
        child = KernelEmitter(self.llvm_module, flat.module, flat.assignment, self.target,
                              self.hooks, frame=[*args, *results, region])
        child.constants = self.constants
        return child.emit_kernels()

    @contextmanager
    def collecting(self):
        """Steps emitted inside go to the yielded list instead of the plan."""
        outer, self.plan = self.plan, []
        try:
            yield self.plan
        finally:
            self.plan = outer

    # -- kernels ---------------------------------------------------------------------------

    @contextmanager
    def kernel(self, inst: Instruction, grid: int, block: int, parallel: bool = True):
        """A kernel computing (part of) `inst`; the body is emitted inside the block.

        With `parallel`, `store_loop` gives each thread its own elements; without, the
        kernel runs one thread that executes loop nests as on the CPU.
        """
        name = f"k{self.hooks.next_kernel_number()}_{_symbol(inst.name)}"  # unique, no dots
        fn = self.hooks.declare(name, self.buffer_count)
        self.function = fn
        self.cg = CodeGen(self.llvm_module, fn, self.target)
        self.elemental = ElementalEmitter(self.cg, self.constants, self._source)
        self._parallel = parallel
        self.hooks.begin(self.cg, grid, block)
        yield self.hooks
        self.hooks.end()
        self.cg.builder.ret_void()
        params = None if self.frame is None else tuple(self.frame)
        self.plan.append(Launch(name, grid, block, inst.name, params))

    def serial(self, inst: Instruction, emit: Callable[[], None]) -> None:
        """A one-thread kernel running `emit` (CPU-style loop nests)."""
        with self.kernel(inst, 1, 1, parallel=False) as hooks:
            hooks.phase(lambda tid: emit())

    def for_each_element(self, shape: Shape, body: Callable[[list], None]) -> None:
        """body(index) for every element of `shape`: one element per thread (parallel
        kernels) or a loop nest (serial ones)."""
        if not self._parallel:
            self.cg.loop_nest(list(shape.dims), iteration_order(shape), body)
            return
        self.for_each_group(shape, 1, lambda indices: body(indices[0]))

    def for_each_group(self, shape: Shape, width: int, body: Callable[[list], None]) -> None:
        """body(indices) for every `width` consecutive elements of `shape` in memory order,
        one group per thread; `width` divides the most minor dimension (vector_width), so
        a group differs only in that dimension."""
        hooks, b = self.hooks, self.cg.builder
        count = shape.num_elements
        minor = _minor_dim(shape)

        def per_thread(tid):
            thread = b.add(b.mul(hooks.block_index(), int_const(hooks.block)), tid)
            first = b.mul(thread, int_const(width)) if width > 1 else thread
            with guarded(self.cg, b.icmp_unsigned("<", first, int_const(count))):
                index = delinearize(b, first, shape)
                indices = [index]
                for k in range(1, width):
                    indices.append([b.add(v, int_const(k)) if d == minor else v
                                    for d, v in enumerate(index)])
                body(indices)

        hooks.phase(per_thread)

    def store_loop(self, view: BufferView, element: Callable[[list], ir.Value]) -> None:
        self.for_each_element(view.shape, lambda index: view.store(index, element(index)))

    def elementwise_kernel(self, inst: Instruction, shape: Shape, body: Callable[[list], None]):
        """A kernel of one thread per element of `shape` running body(index)."""
        count = shape.num_elements
        if count == 0:
            return
        with self.kernel(inst, ceil_div(count, BLOCK_SIZE), min(BLOCK_SIZE, _round_up(count, 32))):
            self.for_each_element(shape, body)

    def vector_kernel(self, inst: Instruction, shape: Shape, body: Callable[[list], None]):
        """A kernel of one thread per `vector_width(shape)` consecutive elements of
        `shape` running body(their indices): each thread's loads and stores of a buffer
        with `shape`'s layout are neighbours, 16-byte aligned for 4-byte elements, so
        LLVM's load/store vectorizer makes them one 128-bit access (ld.global.v4)."""
        count = shape.num_elements
        if count == 0:
            return
        width = vector_width(shape)
        threads = count // width
        with self.kernel(inst, ceil_div(threads, BLOCK_SIZE),
                         min(BLOCK_SIZE, _round_up(threads, 32))):
            self.for_each_group(shape, width, body)

    def _copy_kernel(self, index: int, source: Instruction) -> None:
        """result[index] = source (a value buffer assignment could not place there; a
        tuple-shaped result has no bytes of its own, as on the CPU)."""
        if source.shape.is_tuple:
            return
        def body(i):
            target = BufferView(self.cg, self._result_pointer(index), source.shape)
            target.store(i, self.view(source).load(i))

        self.elementwise_kernel(source, source.shape, body)


class HeroContext:
    """Where a hero kernel (reduce, dot) reads operands and writes its result: straight
    from buffers for an unfused instruction, or inside the fusion `fusion` around it,
    whose fused producers are generated per element and whose epilogue `finish` applies
    at each output index once the hero's element is stored. Open it inside the kernel."""

    def __init__(self, em: KernelEmitter, hero: Instruction, fusion: Instruction | None = None):
        self.em, self.hero, self.fusion = em, hero, fusion

    def open(self) -> "HeroContext":
        em = self.em
        if self.fusion is None:
            self.elemental = em.elemental
            self.out = em.view(self.hero)
            self._root = None
            return self
        views = {inst: em.view(inst) for inst in [self.fusion, *self.fusion.operands]
                 if not inst.shape.is_tuple}
        scope = FusionScope(em, self.fusion, em.cg, views)
        self.out = views[self.fusion]
        scope.place(self.hero, self.out)
        self.elemental = scope.elemental
        root = fused_computation(self.fusion).root
        self._root = None if root is self.hero else root
        return self

    def value(self, operand: Instruction, index: list) -> ir.Value:
        """Element `index` of an operand of the hero."""
        return self.elemental.value(operand, index)

    def store(self, index: list, value: ir.Value) -> None:
        """The hero's element at `index`, then the epilogue's over it."""
        self.out.store(index, value)
        if self._root is not None:
            self.out.store(index, self.elemental.value(self._root, index))


def _minor_dim(shape: Shape) -> int | None:
    """The most minor dimension of more than one element (None for a single element)."""
    return next((d for d in shape.layout if shape.dims[d] != 1), None)


def vector_width(shape: Shape) -> int:
    """Elements per thread of a loop kernel over `shape`: VECTOR_WIDTH where the most
    minor dimension is a multiple of it (so a thread's group stays within one minor
    row and every group starts VECTOR_WIDTH-aligned, as the buffers are 64-byte
    aligned), else 1 (scalar)."""
    minor = _minor_dim(shape)
    if minor is None or shape.dims[minor] % VECTOR_WIDTH:
        return 1
    return VECTOR_WIDTH


def _round_up(value: int, multiple: int) -> int:
    return ceil_div(value, multiple) * multiple


def _symbol(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


# -- rules ----------------------------------------------------------------------------------


@kernel_rule("parameter", "constant", "tuple", "get-tuple-element", "bitcast")
def no_kernel(em: KernelEmitter, inst: Instruction) -> None:
    """Buffers the caller or the module provides, or views of other buffers."""


def parallel_elementwise(em: KernelEmitter, inst: Instruction) -> None:
    """One thread per output element, computed by the elemental generator (all elements
    of a tuple-shaped result at once: they share their index)."""
    if not inst.shape.is_tuple:
        def group(indices):  # the loads of all elements first, then the stores
            values = [em.elemental.generate(inst, index) for index in indices]
            for index, value in zip(indices, values):
                em.view(inst).store(index, value)

        em.vector_kernel(inst, inst.shape, group)
        return
    shapes = inst.shape.tuple_shapes
    if any(s.dims != shapes[0].dims for s in shapes):
        raise NotImplementedError(f"{inst.name}: tuple elements of different shapes")

    def body(index):
        for view, value in zip(em.element_views(inst), em.elemental.generate(inst, index)):
            if view is not None:
                view.store(index, value)

    em.elementwise_kernel(inst, shapes[0], body)


@kernel_rule("call")
def call_kernel(em: KernelEmitter, inst: Instruction) -> None:
    """A call: its root per element, one kernel per tuple element."""
    if not inst.shape.is_tuple:
        parallel_elementwise(em, inst)
        return
    for k, shape in enumerate(inst.shape.tuple_shapes):
        def body(index, k=k):
            view = em.element_views(inst)[k]
            if view is not None:
                child, computation = callee_emitter(em.elemental, inst)
                view.store(index, child.value(computation.root.operands[k], index))

        em.elementwise_kernel(inst, shape, body)


__all__ = ["BLOCK_SIZE", "VECTOR_WIDTH", "KernelEmitter", "vector_width", "ceil_div", "delinearize", "kernel_rule",
           "parallel_elementwise", "HeroContext"]
