"""Running a kernel's tasks on the caller's thread pool (AotcRunOptions::parallel_for).

A kernel that splits its work is an internal function `kernel(buffers..., i64 task)`;
each task writes its own part of the output, and every output element is computed by
one task in one fixed order, so results do not depend on how tasks are spread over
threads. The entry function runs `tasks` of them:

- with no pool (options or options->parallel_for NULL), or when compiled with
  --threads 1, in a plain loop on the calling thread;
- otherwise through parallel_for(pool, slots, worker, ctx) with slots = min(--threads,
  tasks): worker s runs tasks s, s + slots, s + 2 * slots, ... So --threads is the most
  tasks that run at once, whatever the pool's size, and the slot index s names the
  scratch a task may use.
"""

from __future__ import annotations

import llvmlite.ir as ir

from .codegen import CodeGen
from .llvm_types import I64, PTR, int_const

#: AotcRunOptions: {void* pool; void (*parallel_for)(void*, int64_t, void (*)(void*, int64_t), void*)}.
RUN_OPTIONS = ir.LiteralStructType([PTR, PTR])
TASK_FN = ir.FunctionType(ir.VoidType(), [PTR, I64])
PARALLEL_FOR = ir.FunctionType(ir.VoidType(), [PTR, I64, PTR, PTR])


def task_kernel(module: ir.Module, name: str, buffers: int, target, align: int):
    """Declare `kernel(buffers..., i64 task)` (internal, never inlined, buffers noalias)
    and return it with a CodeGen positioned in its body."""
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR] * buffers + [I64]),
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
    """Emit, into `cg` (the entry function), the calls of kernel(pointers..., t) for every
    t in [0, tasks): see the module docstring."""
    b = cg.builder
    slots = min(threads, tasks)
    if slots <= 1:
        if tasks == 1:
            b.call(kernel, [*pointers, int_const(0)])
        else:
            with cg.for_range(tasks, name="task") as t:
                b.call(kernel, [*pointers, t])
        return
    worker = _worker(cg.module, kernel, len(pointers), tasks, slots)
    context = cg.alloca(ir.ArrayType(PTR, max(1, len(pointers))), name="task.ctx")
    context.type = PTR  # an opaque pointer (IR text says `ptr` either way)
    for i, pointer in enumerate(pointers):
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
        cg.builder.call(kernel, [*pointers, t])


def _worker(module: ir.Module, kernel: ir.Function, buffers: int, tasks: int, slots: int):
    """worker(ctx, s): kernel(ctx[0], ..., t) for t = s, s + slots, ... < tasks."""
    name = f"{kernel.name}.worker.{tasks}.{slots}"
    if name in module.globals:  # a kernel shared by identical ones (shared_kernels.py)
        return module.globals[name]
    fn = ir.Function(module, TASK_FN, name=name)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    context, slot = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    pointers = [b.load(b.gep(context, [int_const(i)], inbounds=True, source_etype=PTR), typ=PTR)
                for i in range(buffers)]
    # Tasks of this slot: ceil((tasks - s) / slots).
    count = b.udiv(b.add(b.sub(int_const(tasks), slot), int_const(slots - 1)), int_const(slots))
    header = fn.append_basic_block("header")
    body = fn.append_basic_block("body")
    done = fn.append_basic_block("done")
    entry = b.block
    b.branch(header)
    b.position_at_end(header)
    i = b.phi(I64)
    i.add_incoming(int_const(0), entry)
    b.cbranch(b.icmp_unsigned("<", i, count), body, done)
    b.position_at_end(body)
    task = b.add(slot, b.mul(i, int_const(slots)))
    b.call(kernel, [*pointers, task])
    i.add_incoming(b.add(i, int_const(1)), body)
    b.branch(header)
    b.position_at_end(done)
    b.ret_void()
    return fn
