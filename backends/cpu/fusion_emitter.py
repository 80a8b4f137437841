"""Fusions on the CPU: one kernel per fusion instruction, no intermediate buffers.

Each fusion becomes its own internal function (a *kernel*) taking one `noalias` pointer
per distinct buffer it touches: its output and its operands' buffers (constants are
globals). The entry function calls it. Inside the entry function every temporary is an
offset into one arena pointer, so LLVM cannot tell a kernel's loads from its stores and
leaves loops with a loop-invariant load (a broadcast operand) unvectorized; separate
pointers say what buffer assignment guarantees: buffers used together never overlap.
An operand whose buffer the fusion computes in place (buffer assignment's in-place
sharing) is the output's own pointer, passed once.

kLoop fusions are emitted by `materialize_call`: one loop nest over the output, each
element generated from the fused root (the elemental emitter computes every fused
producer per element).

kInput and kOutput fusions have a hero (passes/fusion_analysis.py): a reduce, dot or
convolution followed by an elementwise epilogue. The hero is emitted by its own
materializer, unchanged, straight into the fusion's output buffer, through a
`FusionScope` that makes the fused computation look like the entry computation to it:

- a fused parameter is the fusion operand's buffer;
- any other fused instruction is generated per element, so the reduce materializer,
  which reads its input through the elemental emitter in memory order, computes the
  fused producers as it goes (input fusion);
- the hero itself lives in the fusion's buffer.

The epilogue (`Epilogue`) computes element i of the root from element i of the hero: for
a dot or a convolution on the packed GEMM, on each finished micro-tile while it is still
in registers (the hero's element is a register value, never stored); for the direct
loops of other dots and convolutions, in place after each output row's accumulation
(while the row is in cache); for other heroes, in a second loop nest over the output in
the same kernel.

A multi-output fusion (passes/multi_output_fusion.py: a reduce hero whose fusion also
returns values its input computes, softmax's exp) is emitted the same way, its main
output in the first tuple element's buffer; each sibling is stored by an elemental *tap*
(`ElementalEmitter.taps`) where the reduce's walk over its operand computes it, so the
value is computed, stored and reduced in one pass (by the same task as its reduce rows).
"""

from __future__ import annotations

from typing import Callable

import llvmlite.ir as ir

from aotc.hlo import Instruction
from aotc.passes.fusion_analysis import (KINDS_WITH_HERO, find_hero, fused_computation,
                                        fusion_outputs)

from aotc.runtime.program import BUFFER_ALIGNMENT
from .buffers import BufferView, iteration_order
from .codegen import CodeGen
from .convolution import direct_tasks, emit_convolution
from .elemental import ElementalEmitter
from .conv_gemm import prepare_conv_gemm
from .emitter import EntryEmitter, emit_dot, materialize, materialize_call, materializer
from .gemm import prepare_gemm
from .llvm_types import I8, int_const
from .reduction import accumulator_lanes
from .tasks import split_count, split_loop_nest, task_kernel, task_slots

#: Loops a body over a set of output indices: for_each(body) calls body(index) in IR.
ForEach = Callable[[Callable[[list], None]], None]

#: Hero opcode -> an emitter taking (scope, hero, after_row): it calls after_row(for_each)
#: once each part of the output is final, so the epilogue runs while that part is hot.
#: Heroes not listed use their ordinary materializer and a second loop for the epilogue.
ROW_EMITTERS = {"dot": emit_dot, "convolution": emit_convolution}
#: Hero opcode -> prepare(target, hero, constant_of, threads): its GEMM (whose `tasks` the fusion's
#: kernel splits into), or None when the hero's emitter will not take the GEMM.
_TASKED_HEROES = {"dot": prepare_gemm, "convolution": prepare_conv_gemm}


class FusionScope:
    """The entry emitter as seen from inside one fusion's kernel function.

    Materializers take it in place of the EntryEmitter: `cg` is the kernel's, and `view`,
    `pointer_of`, `elemental` and `store_loop` resolve the fusion, its operands and its
    fused instructions; everything else (the LLVM module, the target, the constant pool)
    is the entry emitter's.
    """

    #: Materializers run in a kernel function, not in the entry function.
    in_entry = False

    def __init__(self, em: EntryEmitter, fusion: Instruction, cg: CodeGen,
                 views: dict[Instruction, BufferView], task: ir.Value | None = None,
                 slot: ir.Value | None = None, scratch: ir.Value | None = None,
                 outputs: list[BufferView | None] | None = None):
        self._em = em
        self._fusion = fusion
        self.cg = cg
        self.task = task  # the kernel's task index (None: the kernel is one task)
        self.slot = slot  # the task's slot (backends/cpu/tasks.py)
        self._scratch = scratch  # the fusion's scratch (a kernel argument), if reserved
        # Tasks the fusion's output loops are split into (`_loop_tasks`), or None.
        self.split: int | None = None
        self._views = views  # the fusion and its operands -> their buffers in the kernel
        # A multi-output fusion's element buffers (None where nothing reads one).
        self.outputs = outputs or []
        self._bound = dict(zip(fused_computation(fusion).parameters, fusion.operands))
        self._placed: dict[Instruction, BufferView] = {}
        self.elemental = ElementalEmitter(cg, em.constants, self._source)

    def __getattr__(self, name):
        return getattr(self._em, name)

    def scratch_in_kernel(self, slot_bytes: int, tasks: int) -> ir.Value:
        """The fusion's scratch as the kernel sees it; it holds a `slot_bytes` slot per task
        that runs at once."""
        piece = self._em.assignment.scratch_of(self._fusion)
        needed = task_slots(tasks, self._em.threads) * slot_bytes
        if self._scratch is None or piece.size < needed:
            raise ValueError(f"{self._fusion.name}: {needed} bytes of scratch needed, "
                             f"{0 if piece is None else piece.size} reserved")
        return self._scratch

    def main_view(self) -> BufferView:
        """The buffer of the fusion's (main) output: a multi-output fusion's first element."""
        if not self._fusion.shape.is_tuple:
            return self.view(self._fusion)
        if not self.outputs or self.outputs[0] is None:
            raise ValueError(f"{self._fusion.name}: nothing reads its main output")
        return self.outputs[0]

    def element_views(self, inst: Instruction) -> list[BufferView | None]:
        """The kernel's views of a multi-output fusion's elements (materialize_call's)."""
        if inst is self._fusion:
            return self.outputs
        return self._em.element_views(inst)

    def place(self, inst: Instruction, view: BufferView) -> None:
        """Materialize fused `inst` in `view` (the hero, in the fusion's output buffer)."""
        self._placed[inst] = view

    def view(self, inst: Instruction) -> BufferView:
        if inst in self._placed:
            return self._placed[inst]
        inst = self._bound.get(inst, inst)
        if inst in self._views:
            return self._views[inst]
        source = inst
        while source.opcode == "bitcast":  # an operand viewing a constant's bytes
            source = source.operands[0]
        if source.opcode == "constant":
            return BufferView(self.cg, self._em.constants.pointer(source), inst.shape)
        raise ValueError(f"fused {inst.name} has no buffer: it is computed per element")

    def pointer_of(self, inst: Instruction) -> ir.Value:
        return self.view(inst).pointer

    def constant_operand(self, inst: Instruction) -> Instruction | None:
        if inst in self._placed:
            return None
        return self._em.constant_operand(self._bound.get(inst, inst))

    def store_loop(self, view: BufferView, element: Callable[[list], ir.Value]) -> None:
        """view[index] = element(index) for every index (this task's rows of them when the
        output loops are split), in memory order."""
        shape = view.shape
        self.output_loop(shape, lambda index: view.store(index, element(index)))

    def output_loop(self, shape, body: Callable[[list], None], name: str = "d") -> None:
        """body(index) over every index of `shape` (the fusion's output, or the hero's, of
        the same array shape) in memory order; only this task's rows when split."""
        if self.split is None:
            self.cg.loop_nest(list(shape.dims), iteration_order(shape), body, name=name)
        else:
            split_loop_nest(self.cg, list(shape.dims), iteration_order(shape), body,
                            self.task, self.split, name=name)

    def _source(self, inst: Instruction):
        if inst in self._placed or inst in self._bound or inst in self._views:
            return self.view(inst).load
        return None  # generated from its operands


class Epilogue:
    """The elementwise tail of a hero fusion: the root's element i from the hero's element
    i (and the fusion's other operands), stored in the fusion's output `out`.

    Two ways to run it: called as after_row(for_each), it recomputes the elements of a
    finished part of the output, reading the hero from `out`; `apply(index, value)` takes
    the hero's element as a register value instead (the GEMM's micro-tile, before it is
    ever stored), so nothing is read back from `out`.
    """

    def __init__(self, scope: FusionScope, hero: Instruction, root: Instruction,
                 out: BufferView):
        self.scope, self.hero, self.root, self.out = scope, hero, root, out

    def __call__(self, for_each: ForEach) -> None:
        scope = self.scope
        for_each(lambda index: self.out.store(index, scope.elemental.value(self.root, index)))

    def apply(self, index: list, hero_value: ir.Value) -> None:
        """out[index] = the root's element at `index`, the hero's being `hero_value`."""
        scope = self.scope

        def source(inst: Instruction):
            if inst is self.hero:
                return lambda _index: hero_value
            return scope._source(inst)

        elemental = ElementalEmitter(scope.cg, scope.constants, source)
        self.out.store(index, elemental.value(self.root, index))


def _buffer_key(em: EntryEmitter, inst: Instruction, element: int = -1):
    """What identifies `inst`'s buffer (equal for values sharing one in place), or that of
    its tuple element `element`; None for constants, which the kernel reads from their
    globals, and for tuple elements nothing reads."""
    if inst.opcode == "constant":
        return None
    if element >= 0:
        pieces = em.assignment.tuple_slices.get(inst) or []
        piece = pieces[element] if element < len(pieces) else None
        return None if piece is None else (piece.kind, piece.index, piece.offset)
    piece = em.assignment.slice_of(inst)
    if piece is None:
        return ("value", id(inst))
    if piece.kind == "constant":
        return None
    return (piece.kind, piece.index, piece.offset)


def _holders(fusion: Instruction) -> list[tuple[Instruction, int, object]]:
    """(instruction, tuple element or -1, shape) of every value whose buffer the fusion's
    kernel touches: its output (each element of a multi-output fusion's), its operands."""
    if fusion.shape.is_tuple:
        outputs = [(fusion, k, shape) for k, shape in enumerate(fusion.shape.tuple_shapes)]
    else:
        outputs = [(fusion, -1, fusion.shape)]
    return outputs + [(op, -1, op.shape) for op in fusion.operands]


def _kernel(em: EntryEmitter, fusion: Instruction, tasks: int = 1):
    """Declare the fusion's kernel function `kernel(buffers..., i64 slot, i64 task)` (the
    fusion's scratch, when buffer assignment reserved some, is the last buffer); return the
    scope its body is emitted through (the caller returns from the function) and a
    function that runs its `tasks` tasks from the entry (backends/cpu/tasks.py), to call
    once the body is complete."""
    buffers: dict = {}  # key -> the entry's pointer to it (the first holder seen)
    holders = _holders(fusion)
    for inst, element, _ in holders:
        key = _buffer_key(em, inst, element)
        if key is not None and key not in buffers:
            buffers[key] = (em.element_views(inst)[element].pointer if element >= 0
                            else em.pointer_of(inst))
    pointers = list(buffers.values())
    scratch = em.assignment.scratch_of(fusion)
    if scratch is not None:  # the hero's scratch (a fed GEMM's packing slots): last
        pointers.append(em.cg.builder.gep(em.temps_arg, [int_const(scratch.offset)],
                                          inbounds=True, source_etype=I8))
    fn, cg = task_kernel(em.llvm_module, f"fusion.{fusion.name}", len(pointers), em.target,
                         BUFFER_ALIGNMENT)
    argument = {key: arg for key, arg in zip(buffers, fn.args)}
    views, outputs = {}, []
    for inst, element, shape in holders:
        key = _buffer_key(em, inst, element)
        view = None if key is None else BufferView(cg, argument[key], shape)
        if element >= 0:
            outputs.append(view)
        elif view is not None:
            views[inst] = view
    scope = FusionScope(em, fusion, cg, views, fn.args[-1] if tasks > 1 else None,
                        slot=fn.args[-2], scratch=fn.args[len(buffers)] if scratch else None,
                        outputs=outputs)
    return scope, lambda: em.run_tasks(fn, pointers, tasks)


def _main_shape(fusion: Instruction):
    """The shape of the fusion's (main) output: a multi-output fusion's first element."""
    return fusion.shape.tuple_shapes[0] if fusion.shape.is_tuple else fusion.shape


def _tasks(em: EntryEmitter, fusion: Instruction) -> int:
    """How many tasks the fusion's kernel splits into: a GEMM hero's, a direct
    convolution's (its rows of output positions), else one."""
    computation = fused_computation(fusion)
    if fusion.attrs.get("kind") not in KINDS_WITH_HERO:
        return 1
    hero = find_hero(computation)
    prepare = _TASKED_HEROES.get(hero.opcode) if hero is not None else None
    if prepare is None or not hero.shape.same_array(_main_shape(fusion)):
        return 1
    bound = dict(zip(computation.parameters, fusion.operands))
    gemm = prepare(em.target, hero, lambda inst: em.constant_operand(bound.get(inst, inst)),
                   em.threads)
    if gemm is None:
        return direct_tasks(hero) if hero.opcode == "convolution" else 1
    return gemm.tasks


def _loop_tasks(em: EntryEmitter, fusion: Instruction) -> int:
    """Tasks that split the output loops of a big loop fusion (each element computed on
    its own) or of a row reduction (a fusion whose hero is a reduce of contiguous rows,
    each output element one row folded in registers, backends/cpu/reduction.py): rows of
    the output per task, so every element is computed by one task in the same order
    whatever the split. 1 for everything else (a full reduction to one element included)."""
    shape = _main_shape(fusion)
    if fusion.attrs.get("kind") not in KINDS_WITH_HERO:
        return split_count(shape.dims, iteration_order(shape), shape.num_elements, em.threads)
    hero = find_hero(fused_computation(fusion))
    if (hero is None or hero.opcode != "reduce" or hero.shape.is_tuple
            or not hero.shape.same_array(shape) or accumulator_lanes(em.target, hero) <= 1):
        return 1
    return split_count(shape.dims, iteration_order(shape), hero.operands[0].shape.num_elements,
                       em.threads)


@materializer("fusion")
def _materialize_fusion(em: EntryEmitter, fusion: Instruction) -> None:
    if fusion.shape.is_tuple and fusion.attrs.get("kind") not in KINDS_WITH_HERO:
        # Multi-output loop fusions (the passes make none) stay in the entry function.
        materialize_call(em, fusion)
        return
    tasks, split = _tasks(em, fusion), None
    if tasks == 1 and em.threads > 1:
        split = _loop_tasks(em, fusion)
        tasks = split
    scope, run = _kernel(em, fusion, tasks)
    if tasks > 1 and split is not None:
        scope.split = split
    _emit_body(scope, fusion)
    scope.cg.builder.ret_void()
    run()  # after the body: an identical earlier kernel may be called instead


def _emit_body(scope: FusionScope, fusion: Instruction) -> None:
    computation = fused_computation(fusion)
    hero = find_hero(computation) if fusion.attrs.get("kind") in KINDS_WITH_HERO else None
    main, *siblings = fusion_outputs(computation)
    if hero is None or not hero.shape.same_array(_main_shape(fusion)) or (
            siblings and hero.opcode != "reduce"):
        # A loop fusion; or a hero fusion this emitter cannot place (then computing every
        # element from the root is still correct, only slower).
        materialize_call(scope, fusion)
        return
    out = scope.main_view()  # in the fusion's layout, which layout assignment may choose
    scope.place(hero, out)
    # A multi-output fusion's siblings (passes/multi_output_fusion.py): the reduce computes
    # each of their elements once, as it reads its operand, and stores it there and then.
    for sibling, view in zip(siblings, scope.outputs[1:]):
        if view is not None:
            scope.elemental.taps[sibling] = view.store
    epilogue = None if main is hero else Epilogue(scope, hero, main, out)

    row_emitter = ROW_EMITTERS.get(hero.opcode)
    if row_emitter is not None:
        row_emitter(scope, hero, after_row=epilogue)
        return
    materialize(scope, hero)
    if epilogue is not None:
        epilogue(lambda body: scope.output_loop(out.shape, body, name="e"))
