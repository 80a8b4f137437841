"""Running a kernel's tasks on the caller's thread pool (AotcRunOptions::parallel_for).

A kernel that splits its work is an internal function
`kernel(buffers..., i64 slot, i64 task)`; each task writes its own part of the output,
and every output element is computed by one task in one fixed order, so results do not
depend on how tasks are spread over threads. The entry function runs `tasks` of them:

- with no pool (options or options->parallel_for NULL), or when compiled with
  --threads 1, in a plain loop on the calling thread;
- otherwise through parallel_for(pool, slots, worker, ctx) with slots = min(--threads,
  tasks): worker s takes the next task from a counter shared by the workers of the call
  until none is left. So --threads is the most tasks that run at once, whatever the
  pool's size, and a worker that starts late or is preempted (a busy machine) leaves
  its share to the others instead of holding them up.

The kernel gets the slot its task runs in (0 inline): slot s names the scratch a task may
use (a GEMM's packing buffer), at `s * bytes per slot` in the scratch memory buffer
assignment reserved for the instruction (`task_slots` of them; backends/cpu/scratch.py).
"""

from __future__ import annotations

from typing import Callable, Sequence

import llvmlite.ir as ir
import numpy as np

from .codegen import CodeGen
from .llvm_types import I8, I64, PTR, int_const

def task_slots(tasks: int, threads: int) -> int:
    """How many tasks of a kernel split into `tasks` run at once with --threads `threads`:
    the scratch slots it needs."""
    return max(1, min(threads, tasks))


def scratch_slot(b: ir.IRBuilder, scratch: ir.Value, slot: ir.Value, slot_bytes: int) -> ir.Value:
    """The scratch of task slot `slot`: `slot * slot_bytes` bytes into `scratch`."""
    return b.gep(scratch, [b.mul(slot, int_const(slot_bytes), flags=("nuw", "nsw"))],
                 inbounds=True, source_etype=I8)


#: Elements (of output, or of input for a reduction) below which a loop kernel stays one
#: task: a pool hand-off costs a few microseconds, which this much work amortizes.
MIN_TASK_ELEMENTS = 1 << 15


def split_count(extents: Sequence[int], order: Sequence[int], work: int, threads: int,
                outer: int | None = None) -> int:
    """Tasks for a loop nest over `extents` (`order[0]` outermost) doing `work` element
    steps: one per MIN_TASK_ELEMENTS of work, at most `threads`, at most the rows of its
    first `outer` loops (all by default); 1 (no split) for --threads 1."""
    rows = int(np.prod([extents[d] for d in order[:outer]], dtype=np.int64))
    return max(1, min(threads, rows, work // MIN_TASK_ELEMENTS))


#: Tasks per thread from which the blocks are taken as they come (the busiest worker
#: then has at most about 1/this more to do than the others).
BALANCED_TASKS_PER_THREAD = 8


def balanced_block(m: int, step: int, largest: int, groups: int, threads: int) -> int:
    """The height of the blocks that split m rows into tasks for `threads` threads: a
    multiple of `step` up to `largest`. Tasks are `groups` x blocks (row blocks fastest),
    which workers of equal speed take in turn (`run_tasks`), so a few tasks can leave one
    worker with much more than the other (64 rows in blocks of 48: 48 against 16). With
    fewer than BALANCED_TASKS_PER_THREAD tasks per thread, the height whose busiest
    worker has the fewest rows, the tallest of equals (fewer tasks); else `largest`."""
    if threads <= 1 or groups * -(-m // largest) >= BALANCED_TASKS_PER_THREAD * threads:
        return largest
    best, best_load = largest, None
    for height in range(largest, 0, -step):
        blocks = -(-m // height)
        tasks = groups * blocks
        slots = task_slots(tasks, threads)
        loads = [0] * slots
        for t in range(tasks):
            loads[t % slots] += min(height, m - (t % blocks) * height)
        if best_load is None or max(loads) < best_load:
            best, best_load = height, max(loads)
    return best


def split_loop_nest(cg: CodeGen, extents: Sequence[int], order: Sequence[int],
                    body: Callable[[list], None], task: ir.Value, tasks: int,
                    name: str = "d") -> None:
    """`cg.loop_nest(extents, order, body)`, only the part of task `task` of `tasks`: the
    outermost loops (the fewest that have at least `tasks` rows) are flattened into rows,
    and task t runs rows [t * rows / tasks, (t + 1) * rows / tasks), each in full. Every
    index is visited by one task, with the same code as the whole nest."""
    b = cg.builder
    depth, rows = 0, 1
    while depth < len(order) and rows < tasks:
        rows *= extents[order[depth]]
        depth += 1
    outer, inner = list(order[:depth]), list(order[depth:])
    low = b.udiv(b.mul(task, int_const(rows)), int_const(tasks))
    high = b.udiv(b.mul(b.add(task, int_const(1)), int_const(rows)), int_const(tasks))
    with cg.for_range(b.sub(high, low), name=f"{name}.row") as r:
        remaining = b.add(low, r)
        index: list = [None] * len(extents)
        for position, d in enumerate(reversed(outer)):
            last = position == len(outer) - 1
            index[d] = remaining if last else b.urem(remaining, int_const(extents[d]))
            if not last:
                remaining = b.udiv(remaining, int_const(extents[d]))
        cg.loop_nest(list(extents), inner, lambda rest: body(
            [index[d] if index[d] is not None else rest[d] for d in range(len(extents))]),
            name=name)


#: AotcRunOptions: {void* pool; void (*parallel_for)(void*, int64_t, void (*)(void*, int64_t), void*)}.
RUN_OPTIONS = ir.LiteralStructType([PTR, PTR])
TASK_FN = ir.FunctionType(ir.VoidType(), [PTR, I64])
PARALLEL_FOR = ir.FunctionType(ir.VoidType(), [PTR, I64, PTR, PTR])


def task_kernel(module: ir.Module, name: str, buffers: int, target, align: int):
    """Declare `kernel(buffers..., i64 slot, i64 task)` (internal, never inlined, buffers
    noalias) and return it with a CodeGen positioned in its body."""
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR] * buffers + [I64, I64]),
                     name=module.get_unique_name(name))
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    # One function per kernel also keeps LLVM's optimization time linear in model size.
    fn.attributes.add("noinline")
    for arg in fn.args[:buffers]:
        arg.add_attribute("noalias")
        arg.attributes.align = align
    return fn, CodeGen(module, fn, target)


def run_tasks(cg: CodeGen, options: ir.Value, kernel: ir.Function, pointers: list,
              tasks: int, threads: int) -> None:
    """Emit, into `cg` (the entry function), the calls of kernel(pointers..., slot, t) for
    every t in [0, tasks): see the module docstring."""
    b = cg.builder
    slots = task_slots(tasks, threads)
    if slots <= 1:
        if tasks == 1:
            b.call(kernel, [*pointers, int_const(0), int_const(0)])
        else:
            _inline(cg, kernel, pointers, tasks)
        return
    worker = _worker(cg.module, kernel, len(pointers), tasks)
    # ctx: the buffer pointers, then a pointer to the counter of tasks handed out.
    context = cg.alloca(ir.ArrayType(PTR, len(pointers) + 1), name="task.ctx")
    context.type = PTR  # an opaque pointer (IR text says `ptr` either way)
    counter = cg.alloca(I64, name="task.next")
    counter.align = 8
    for i, pointer in enumerate([*pointers, counter]):
        b.store(pointer, b.gep(context, [int_const(i)], inbounds=True, source_etype=PTR))
    has_options = b.icmp_unsigned("!=", options, ir.Constant(PTR, None))
    with b.if_else(has_options) as (pooled, inline):
        with pooled:
            pool_slot = b.gep(options, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), 0)],
                              inbounds=True, source_etype=RUN_OPTIONS)
            fn_slot = b.gep(options, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), 1)],
                            inbounds=True, source_etype=RUN_OPTIONS)
            parallel_for = b.load(fn_slot, typ=PTR)
            pool = b.load(pool_slot, typ=PTR)
            has_pool = b.icmp_unsigned("!=", parallel_for, ir.Constant(PTR, None))
            with b.if_else(has_pool) as (on_pool, alone):
                with on_pool:
                    b.store(int_const(0), counter, align=8)
                    b.call(_IndirectCallee(parallel_for), [pool, int_const(slots), worker, context])
                with alone:
                    _inline(cg, kernel, pointers, tasks)
        with inline:
            _inline(cg, kernel, pointers, tasks)


class _IndirectCallee:
    """A loaded parallel_for pointer as a callee: IRBuilder.call wants the callee's
    function type, which an opaque pointer does not carry; this emits `call void %p(...)`."""

    def __init__(self, pointer: ir.Value):
        self.pointer = pointer
        self.function_type = PARALLEL_FOR
        self.type = PTR

    def get_reference(self):
        return self.pointer.get_reference()


def _inline(cg: CodeGen, kernel: ir.Function, pointers: list, tasks: int) -> None:
    with cg.for_range(tasks, name="task") as t:
        cg.builder.call(kernel, [*pointers, int_const(0), t])


def _worker(module: ir.Module, kernel: ir.Function, buffers: int, tasks: int):
    """worker(ctx, s): kernel(ctx[0], ..., s, t) for each t it takes from the counter
    *ctx[buffers] (an atomic fetch-and-add) while t < tasks."""
    name = f"{kernel.name}.{tasks}.worker"
    if name in module.globals:  # a kernel shared by identical ones (shared_kernels.py)
        return module.globals[name]
    fn = ir.Function(module, TASK_FN, name=name)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    context, slot = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    pointers = [b.load(b.gep(context, [int_const(i)], inbounds=True, source_etype=PTR), typ=PTR)
                for i in range(buffers + 1)]
    counter = pointers.pop()
    header = fn.append_basic_block("take")
    body = fn.append_basic_block("body")
    done = fn.append_basic_block("done")
    b.branch(header)
    b.position_at_end(header)
    # Monotonic is enough: parallel_for orders the tasks' memory with the caller's.
    task = b.atomic_rmw("add", counter, int_const(1), "monotonic")
    b.cbranch(b.icmp_unsigned("<", task, int_const(tasks)), body, done)
    b.position_at_end(body)
    b.call(kernel, [*pointers, slot, task])
    b.branch(header)
    b.position_at_end(done)
    b.ret_void()
    return fn
