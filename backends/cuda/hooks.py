"""What a kernel body may ask of the machine: thread and block indices, barriers, warp
shuffles, shared memory and atomics, behind one interface with two implementations.

A kernel body is written as a sequence of *phases* (per-thread code) separated by
block-wide barriers, optionally inside block-uniform loops. Values a thread keeps from
one phase to the next live in *locals*; values threads exchange live in *shared* memory
or go through a warp reduction.

- `GpuHooks` emits NVPTX: the phase is the thread's own code, a barrier is `bar.sync`,
  a local is a register (an alloca that mem2reg promotes), shared memory is an
  addrspace(3) array, a warp reduction is a `shfl.sync.down` tree, atomics are real.
- `HostHooks` emits the same body for the host triple and runs the whole grid inside
  the kernel function: a loop over blocks, and in it each phase is a loop over the
  block's threads, so every thread finishes a phase before any starts the next (what a
  barrier guarantees). Locals are arrays indexed by thread, shared memory is one
  per-block buffer, and a warp shuffle is a phase of its own (a warp-wide barrier), with
  the GPU's semantics: a lane whose partner is outside the warp reads its own value.

The host version is the correctness net of the CUDA backend: it catches indexing and
thread-mapping bugs on a machine without a GPU.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import ExitStack, contextmanager
from typing import Callable, Sequence

import llvmlite.ir as ir

from aotc.backends.cpu.codegen import CodeGen
from aotc.backends.cpu.llvm_types import I32, I64, PTR, int_const

WARP_SIZE = 32
_I32 = ir.IntType(32)


@contextmanager
def guarded(cg: CodeGen, condition: ir.Value):
    """`if (condition) { ... }`; values made inside are not reused after it."""
    with cg.builder.if_then(condition), cg.scope():
        yield


class Local:
    """A per-thread value that survives barriers: load(tid) / store(tid, value)."""

    def __init__(self, cg: CodeGen, ty: ir.Type, slot: ir.Value, per_thread: bool):
        self.cg, self.type, self._slot, self._per_thread = cg, ty, slot, per_thread

    def _address(self, tid: ir.Value) -> ir.Value:
        if not self._per_thread:
            return self._slot
        return self.cg.builder.gep(self._slot, [tid], inbounds=True, source_etype=self.type)

    def load(self, tid: ir.Value) -> ir.Value:
        return self.cg.builder.load(self._address(tid), typ=self.type)

    def store(self, tid: ir.Value, value: ir.Value) -> None:
        self.cg.builder.store(value, self._address(tid))


#: combine(left values, right values) -> combined values (one per local).
Combine = Callable[[list, list], list]


class Hooks(ABC):
    """The machine-dependent half of kernel emission (one instance per kernel module)."""

    def __init__(self, module: ir.Module):
        self.module = module
        self.cg: CodeGen | None = None
        self.grid = self.block = 1
        self._kernels = 0

    def next_kernel_number(self) -> int:
        """A number for the next kernel of the module (kernel symbols are unique)."""
        self._kernels += 1
        return self._kernels - 1

    # -- kernels ---------------------------------------------------------------------------

    @abstractmethod
    def declare(self, name: str, params: int) -> ir.Function:
        """A kernel function taking `params` pointers."""

    def begin(self, cg: CodeGen, grid: int, block: int) -> None:
        """Start the body of a kernel launched with `grid` blocks of `block` threads."""
        self.cg, self.grid, self.block = cg, grid, block
        self._phases = 0

    def end(self) -> None:
        """Finish the body (the caller returns from the function)."""

    @abstractmethod
    def block_index(self) -> ir.Value:
        """This block's index in the grid (i64)."""

    def phase(self, body: Callable[[ir.Value], None]) -> None:
        """Run body(thread index, i64) on every thread of the block, after a barrier if
        an earlier phase exists."""
        if self._phases:
            self.barrier()
        self._phases += 1
        self._run_threads(body)

    @abstractmethod
    def _run_threads(self, body: Callable[[ir.Value], None]) -> None: ...

    @abstractmethod
    def barrier(self) -> None: ...

    def loop(self, count: int, body: Callable[[ir.Value], None], name: str = "u") -> None:
        """A loop every thread of the block runs the same number of times (its body may
        contain phases): body(iteration, i64)."""
        with self.cg.for_range(count, name=name) as i:
            body(i)

    # -- storage ---------------------------------------------------------------------------

    @abstractmethod
    def local(self, ty: ir.Type) -> Local: ...

    @abstractmethod
    def shared(self, ty: ir.Type, count: int) -> ir.Value:
        """A generic pointer to `count` elements of block-shared memory."""

    # -- warps and atomics -----------------------------------------------------------------

    @abstractmethod
    def warp_reduce(self, locals_: Sequence[Local], combine: Combine) -> None:
        """Tree-reduce each warp's locals into its lane 0: at each step (offsets 16, 8, 4,
        2, 1) lane l combines its values (left) with lane l+offset's (right); a lane whose
        partner is outside the warp combines with its own values. Only lane 0's result is
        meaningful afterwards."""

    @abstractmethod
    def atomic_combine(self, pointer: ir.Value, value: ir.Value,
                       combine: Callable[[ir.Value, ir.Value], ir.Value]) -> None:
        """*pointer = combine(*pointer, value), atomically with respect to other threads."""


class GpuHooks(Hooks):
    """NVPTX: special registers, bar.sync, shfl.sync, addrspace(3), atomic instructions."""

    def declare(self, name: str, params: int) -> ir.Function:
        fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [PTR] * params), name=name)
        fn.calling_convention = "ptx_kernel"
        fn.attributes.add("nounwind")
        for arg in fn.args:
            arg.add_attribute("noalias")
            arg.attributes.align = 64
        return fn

    def _special(self, register: str) -> ir.Value:
        cg = self.cg
        value = cg.cached(("sreg", register), lambda: cg.builder.call(
            cg.intrinsic(f"llvm.nvvm.read.ptx.sreg.{register}", I32, [], overloads=[]), []))
        return cg.builder.zext(value, I64)

    def block_index(self) -> ir.Value:
        return self._special("ctaid.x")

    def _run_threads(self, body) -> None:
        body(self._special("tid.x"))

    def barrier(self) -> None:
        fn = self.cg.intrinsic("llvm.nvvm.barrier0", ir.VoidType(), [], overloads=[])
        self.cg.builder.call(fn, [])

    def local(self, ty: ir.Type) -> Local:
        return Local(self.cg, ty, self.cg.alloca(ty), per_thread=False)

    def shared(self, ty: ir.Type, count: int) -> ir.Value:
        array = ir.ArrayType(ty, count)
        var = ir.GlobalVariable(self.module, array, self.module.get_unique_name("shared"),
                                addrspace=3)
        var.linkage = "internal"
        var.initializer = ir.Constant(array, ir.Undefined)
        var.align = 16
        return self.cg.builder.addrspacecast(var, PTR)

    def warp_reduce(self, locals_, combine) -> None:
        def body(tid):
            values = [local.load(tid) for local in locals_]
            for offset in (16, 8, 4, 2, 1):
                others = [self._shuffle_down(v, offset) for v in values]
                values = combine(values, others)
            for local, value in zip(locals_, values):
                local.store(tid, value)

        self._run_threads(body)

    def _shuffle_down(self, value: ir.Value, offset: int) -> ir.Value:
        """shfl.sync.down of any scalar: as 32-bit pieces of its bits."""
        b = self.cg.builder
        ty = value.type
        bits = ty.width if isinstance(ty, ir.IntType) else {ir.HalfType(): 16, ir.FloatType(): 32,
                                                             ir.DoubleType(): 64}[ty]
        whole = ir.IntType(bits)
        raw = b.bitcast(value, whole) if not isinstance(ty, ir.IntType) else value
        wide = ir.IntType(max(32, bits))
        raw = b.zext(raw, wide) if bits < 32 else raw
        fn = self.cg.intrinsic("llvm.nvvm.shfl.sync.down.i32", _I32, [_I32] * 4, overloads=[])
        pieces = []
        for k in range(wide.width // 32):
            piece = b.trunc(b.lshr(raw, ir.Constant(wide, 32 * k)), _I32) if wide.width > 32 else raw
            pieces.append(b.call(fn, [ir.Constant(_I32, -1), piece, ir.Constant(_I32, offset),
                                      ir.Constant(_I32, WARP_SIZE - 1)]))
        result = b.zext(pieces[0], wide) if wide.width > 32 else pieces[0]
        for k, piece in enumerate(pieces[1:], start=1):
            result = b.or_(result, b.shl(b.zext(piece, wide), ir.Constant(wide, 32 * k)))
        result = b.trunc(result, whole) if bits < 32 else result
        return b.bitcast(result, ty) if not isinstance(ty, ir.IntType) else result

    def atomic_combine(self, pointer, value, combine) -> None:
        """A compare-and-swap loop on the element's bits (any combiner, 32 or 64 bits)."""
        cg, b = self.cg, self.cg.builder
        ty = value.type
        bits = ty.width if isinstance(ty, ir.IntType) else {ir.FloatType(): 32,
                                                             ir.DoubleType(): 64}[ty]
        as_int = ir.IntType(bits)
        to_int = (lambda v: v) if isinstance(ty, ir.IntType) else (lambda v: b.bitcast(v, as_int))
        from_int = (lambda v: v) if isinstance(ty, ir.IntType) else (lambda v: b.bitcast(v, ty))
        start = b.load(pointer, typ=as_int)
        entry = b.block
        retry = cg.function.append_basic_block("cas.retry")
        done = cg.function.append_basic_block("cas.done")
        b.branch(retry)
        b.position_at_end(retry)
        expected = b.phi(as_int)
        expected.add_incoming(start, entry)
        desired = to_int(combine(from_int(expected), value))
        pair = b.cmpxchg(pointer, expected, desired, "monotonic", "monotonic")
        expected.add_incoming(b.extract_value(pair, 0), retry)
        b.cbranch(b.extract_value(pair, 1), done, retry)
        b.position_at_end(done)


class HostHooks(Hooks):
    """The host triple: the kernel function loops over the grid and, per phase, over the
    threads of a block."""

    def declare(self, name: str, params: int) -> ir.Function:
        fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [PTR] * params), name=name)
        fn.linkage = "internal"
        fn.attributes.add("nounwind")
        fn.attributes.add("noinline")
        return fn

    def begin(self, cg, grid, block) -> None:
        super().begin(cg, grid, block)
        self._stack = ExitStack()
        self._block = self._stack.enter_context(cg.for_range(grid, name="block"))

    def end(self) -> None:
        self._stack.close()

    def block_index(self) -> ir.Value:
        return self._block

    def _run_threads(self, body) -> None:
        with self.cg.for_range(self.block, name="thread") as tid:
            body(tid)

    def barrier(self) -> None:
        """Phases already run one after the other for the whole block."""

    def local(self, ty: ir.Type) -> Local:
        return Local(self.cg, ty, self._array(ty, self.block), per_thread=True)

    def shared(self, ty: ir.Type, count: int) -> ir.Value:
        return self._array(ty, count)

    def _array(self, ty: ir.Type, count: int) -> ir.Value:
        """A stack array of `count` elements, allocated once in the function's entry."""
        return self.cg.alloca(ty, count=count)

    def warp_reduce(self, locals_, combine) -> None:
        b = self.cg.builder
        partners = [self.local(local.type) for local in locals_]
        for offset in (16, 8, 4, 2, 1):
            def read(tid, offset=offset):
                lane = b.urem(tid, int_const(WARP_SIZE))
                inside = b.icmp_unsigned("<", b.add(lane, int_const(offset)), int_const(WARP_SIZE))
                source = b.select(inside, b.add(tid, int_const(offset)), tid)
                for local, partner in zip(locals_, partners):
                    partner.store(tid, local.load(source))

            def merge(tid):
                values = combine([local.load(tid) for local in locals_],
                                 [partner.load(tid) for partner in partners])
                for local, value in zip(locals_, values):
                    local.store(tid, value)

            self._run_threads(read)  # every lane reads before any lane writes
            self._run_threads(merge)

    def atomic_combine(self, pointer, value, combine) -> None:
        b = self.cg.builder
        b.store(combine(b.load(pointer, typ=value.type), value), pointer)


__all__ = ["GpuHooks", "HostHooks", "Hooks", "Local", "WARP_SIZE", "guarded"]
