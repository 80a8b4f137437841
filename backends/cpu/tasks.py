"""Running a kernel's tasks on the caller's thread pool (AotcRunOptions::parallel_for).

A kernel that splits its work is an internal function
`kernel(buffers..., i64 slot, i64 task)`; each task writes its own part of the output,
and every output element is computed by one task in one fixed order, so results do not
depend on how tasks are spread over threads. The entry function runs `tasks` of them:

- with no pool (options or options->parallel_for NULL), or when compiled with
  --threads 1, in a plain loop on the calling thread;
- otherwise through parallel_for(pool, slots, worker, ctx) with slots = min(--threads,
  tasks). The tasks are cut into `slots` contiguous ranges, one per slot: worker s runs
  its own range in order, then helps with the others' (taking their next tasks). So
  --threads is the most tasks that run at once, whatever the pool's size; a worker that
  starts late or is preempted (a busy machine) leaves its tasks to the others instead of
  holding them up; and on a quiet machine each thread works on the same part of the
  data kernel after kernel (the first rows of the output, say), which its cache still
  holds from the kernel before: tasks dealt out in turn made each thread read half its
  input from the other core's cache (a ResNet-style net's convolutions ran 35% slower
  per thread on 2 threads than on 1).

Each range's next task is a counter on its own cache line (`CounterLine`), which only
its owner touches until it helps another: taking a task costs no cache-line transfer.

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
#: task: a pool hand-off costs about a microsecond (both threads spinning), which this much
#: work amortizes; split, a loop kernel keeps the rows of the kernels around it on the
#: same threads (tasks in contiguous ranges), so the next kernel finds them in its cache.
MIN_TASK_ELEMENTS = 1 << 14


def split_count(extents: Sequence[int], order: Sequence[int], work: int, threads: int,
                outer: int | None = None) -> int:
    """Tasks for a loop nest over `extents` (`order[0]` outermost) doing `work` element
    steps: one per MIN_TASK_ELEMENTS of work, at most `threads`, at most the rows of its
    first `outer` loops (all by default); 1 (no split) for --threads 1."""
    rows = int(np.prod([extents[d] for d in order[:outer]], dtype=np.int64))
    return max(1, min(threads, rows, work // MIN_TASK_ELEMENTS))


#: Tasks per thread from which the cache blocking's blocks are kept as they are (the
#: busiest thread then has at most about 1/this more to do than the others).
BALANCED_TASKS_PER_THREAD = 8
#: Splitting the columns too makes each thread read every row of A, half of which the
#: kernel before left in the other core's cache: such a split must leave the busiest
#: thread less to do by more than 1/this per extra column block to be taken.
COLUMN_SPLIT_COST = 16


def balanced_blocks(m: int, step: int, largest: int, panels: int, widest: int, groups: int,
                    threads: int) -> tuple[int, int]:
    """(height, width): the blocks that split an m-row x `panels`-column-panel output into
    tasks for `threads` threads, `height` rows (a multiple of `step` up to `largest`) by
    `width` panels (up to `widest`). Tasks are `groups` x column blocks x row blocks (row
    blocks fastest), cut into contiguous ranges, one per thread (`run_tasks`), so a few
    tasks can leave one thread with much more than the other (64 rows in blocks of 48:
    48 against 16; in blocks of 36, 36 against 28). With fewer than
    BALANCED_TASKS_PER_THREAD tasks per thread, the blocks whose busiest thread has the
    fewest rows x panels (column splits counted dearer, COLUMN_SPLIT_COST), of equals the
    fewest tasks; else (largest, widest)."""
    def tasks_of(height, width):
        return groups * -(-panels // width) * -(-m // height)

    if threads <= 1 or tasks_of(largest, widest) >= BALANCED_TASKS_PER_THREAD * threads:
        return largest, widest
    best, best_key = (largest, widest), None
    # Column blocks: as few as the widest allows, up to two per thread.
    fewest = -(-panels // widest)
    widths = sorted({-(-panels // count) for count in range(fewest, max(fewest, 2 * threads) + 1)
                     if count <= panels}, reverse=True)
    for width in widths:
        column_blocks = -(-panels // width)
        for height in range(largest, 0, -step):
            blocks = -(-m // height)
            tasks = groups * column_blocks * blocks
            sizes = [min(height, m - (t % blocks) * height)
                     * min(width, panels - (t // blocks % column_blocks) * width)
                     for t in range(tasks)]
            slots = task_slots(tasks, threads)
            busiest = max(sum(sizes[t] for t in task_range(s, tasks, slots))
                          for s in range(slots))
            # A column split costs 1/COLUMN_SPLIT_COST of the work per extra block.
            key = (busiest * (COLUMN_SPLIT_COST + column_blocks - fewest), tasks, column_blocks)
            if best_key is None or key < best_key:
                best, best_key = (height, width), key
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
#: i64 words per cache line: the task context keeps each range's counter on a line of
#: its own, so threads taking tasks from their own ranges share no line.
LINE_WORDS = 8


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


def task_range(slot: int, tasks: int, slots: int) -> range:
    """The tasks of slot `slot`'s range: `tasks` cut into `slots` contiguous ranges whose
    sizes differ by one at most."""
    return range(slot * tasks // slots, (slot + 1) * tasks // slots)


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
    worker = _worker(cg.module, len(pointers))
    # options->parallel_for, or NULL without options.
    has_options = b.icmp_unsigned("!=", options, ir.Constant(PTR, None))
    before = b.block
    with b.if_then(has_options):
        fn_slot = b.gep(options, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), 1)],
                        inbounds=True, source_etype=RUN_OPTIONS)
        loaded = b.load(fn_slot, typ=PTR)
        loaded_in = b.block
    parallel_for = b.phi(PTR, name="parallel_for")
    parallel_for.add_incoming(ir.Constant(PTR, None), before)
    parallel_for.add_incoming(loaded, loaded_in)
    has_pool = b.icmp_unsigned("!=", parallel_for, ir.Constant(PTR, None))
    with b.if_else(has_pool) as (on_pool, alone):
        with on_pool:
            context = cg.alloca(ir.ArrayType(I64, _context_words(len(pointers), slots)),
                                name="task.ctx")
            context.align = 64
            context.type = PTR  # an opaque pointer (IR text says `ptr` either way)
            header = [kernel, int_const(tasks), int_const(slots), *pointers]
            for i, word in enumerate(header):
                b.store(word, b.gep(context, [int_const(i)], inbounds=True,
                                    source_etype=word.type))
            for v in range(slots):
                b.store(int_const(task_range(v, tasks, slots).start),
                        _counter(b, context, len(pointers), int_const(v)), align=8)
            pool_slot = b.gep(options, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), 0)],
                              inbounds=True, source_etype=RUN_OPTIONS)
            pool = b.load(pool_slot, typ=PTR)
            b.call(_IndirectCallee(parallel_for), [pool, int_const(slots), worker, context])
        with alone:
            _inline(cg, kernel, pointers, tasks)


#: Words of a task context before the buffer pointers: the kernel, its task count and
#: its slot count.
HEADER_WORDS = 3


def _context_words(buffers: int, slots: int) -> int:
    """i64 words of a task context: the kernel, its tasks and slots and its buffer
    pointers, then one line per range counter."""
    return (-(-(HEADER_WORDS + buffers) // LINE_WORDS) + slots) * LINE_WORDS


def _counter(b: ir.IRBuilder, context: ir.Value, buffers: int, slot: ir.Value) -> ir.Value:
    """The next-task counter of slot `slot`'s range in `context`."""
    first = -(-(HEADER_WORDS + buffers) // LINE_WORDS) * LINE_WORDS
    word = b.add(int_const(first), b.mul(slot, int_const(LINE_WORDS)))
    return b.gep(context, [word], inbounds=True, source_etype=I64)


class _IndirectCallee:
    """A loaded function pointer as a callee (parallel_for, or a kernel): IRBuilder.call
    wants the callee's function type, which an opaque pointer does not carry; this emits
    `call void %p(...)`."""

    def __init__(self, pointer: ir.Value, function_type: ir.FunctionType = PARALLEL_FOR):
        self.pointer = pointer
        self.function_type = function_type
        self.type = PTR

    def get_reference(self):
        return self.pointer.get_reference()


def _inline(cg: CodeGen, kernel: ir.Function, pointers: list, tasks: int) -> None:
    with cg.for_range(tasks, name="task") as t:
        cg.builder.call(kernel, [*pointers, int_const(0), t])


def _worker(module: ir.Module, buffers: int):
    """worker(ctx, s) for kernels of `buffers` buffers, one per module: the kernel, its
    task count and slot count are the context's first words, then its buffers. It runs
    kernel(buffers..., s, t) for the tasks t of slot s's range, then of slots s + 1,
    s + 2, ... (mod slots), each taken from its range's counter (an atomic fetch-and-add)
    while below the range's end. (One worker per kernel cost LLVM a function each.)"""
    name = f"aotc.worker.{buffers}"
    if name in module.globals:
        return module.globals[name]
    fn = ir.Function(module, TASK_FN, name=name)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    context, slot = fn.args
    blocks = {n: fn.append_basic_block(n) for n in ("entry", "range", "take", "body", "next", "done")}
    b = ir.IRBuilder(blocks["entry"])

    def word(i, ty):
        return b.load(b.gep(context, [int_const(i)], inbounds=True, source_etype=ty), typ=ty)

    kernel = _IndirectCallee(word(0, PTR), ir.FunctionType(ir.VoidType(),
                                                            [PTR] * buffers + [I64, I64]))
    tasks, slots = word(1, I64), word(2, I64)
    pointers = [word(HEADER_WORDS + i, PTR) for i in range(buffers)]
    b.branch(blocks["range"])
    # range: j-th range after the worker's own (j = 0 .. slots - 1).
    b.position_at_end(blocks["range"])
    j = b.phi(I64, name="j")
    j.add_incoming(int_const(0), blocks["entry"])
    owner = b.add(slot, j)
    owner = b.select(b.icmp_unsigned("<", owner, slots), owner, b.sub(owner, slots))
    counter = _counter(b, context, buffers, owner)
    end = b.udiv(b.mul(b.add(owner, int_const(1)), tasks), slots)
    b.branch(blocks["take"])
    b.position_at_end(blocks["take"])
    # Monotonic is enough: parallel_for orders the tasks' memory with the caller's.
    task = b.atomic_rmw("add", counter, int_const(1), "monotonic")
    b.cbranch(b.icmp_unsigned("<", task, end), blocks["body"], blocks["next"])
    b.position_at_end(blocks["body"])
    b.call(kernel, [*pointers, slot, task])
    b.branch(blocks["take"])
    b.position_at_end(blocks["next"])
    following = b.add(j, int_const(1))
    j.add_incoming(following, blocks["next"])
    b.cbranch(b.icmp_unsigned("<", following, slots), blocks["range"], blocks["done"])
    b.position_at_end(blocks["done"])
    b.ret_void()
    return fn
