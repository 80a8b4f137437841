"""Low-level IR building for one LLVM function: loops, allocas, intrinsics, value caches.

Everything above this module (scalar ops, math, elemental generators, materializers)
talks to LLVM through a `CodeGen`, so the mechanics of basic blocks and phis live here.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Sequence

import llvmlite.ir as ir

from .folding import FoldingBuilder
from .llvm_types import I1, I64, float_suffix, int_const
from .target import TargetInfo


def _constant(value) -> int | None:
    """The int of an integer ir.Constant (a count the folding builder computed), else None."""
    if isinstance(value, ir.Constant) and isinstance(value.constant, int):
        return value.constant
    return None


def rolled_loop(module: ir.Module) -> ir.values.MDValue:
    """A new loop ID (`!llvm.loop` of a latch branch) telling LLVM to keep the loop rolled:
    no unrolling, no vectorization, no interleaving of its iterations. For a loop whose
    body LLVM should vectorize by itself: a GEMM tile's rows, each a row of columns that
    the SLP vectorizer turns into vector code once the column loop is unrolled, where
    the loop vectorizer would rather vectorize across the rows, with gathers."""
    properties = [module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.disable")]),
                  module.add_metadata([ir.MetaDataString(module, "llvm.loop.vectorize.width"),
                                       ir.Constant(ir.IntType(32), 1)]),
                  module.add_metadata([ir.MetaDataString(module, "llvm.loop.interleave.count"),
                                       ir.Constant(ir.IntType(32), 1)])]
    # A loop ID refers to itself, which makes it distinct: llvmlite's add_metadata would
    # unique it (and hash the cycle), so it is made directly.
    loop = ir.values.MDValue(module, [], name=str(len(module.metadata)))
    loop.operands = (loop, *properties)
    return loop


class CodeGen:
    """An IRBuilder positioned in `function`, plus the helpers every emitter needs."""

    def __init__(self, module: ir.Module, function: ir.Function, target: TargetInfo):
        self.module = module
        self.function = function
        self.target = target
        self._alloca_block = function.append_basic_block("allocas")
        body = function.append_basic_block("body")
        # Folds constant index arithmetic and reuses equal values as they are built
        # (folding.py): fewer instructions to print and for LLVM to optimize.
        self.builder = FoldingBuilder(self._alloca_block)
        self._alloca_end = self.builder.branch(body)
        self.builder.position_at_end(body)
        # Scoped memo of generated values: a value made inside a loop body must not be
        # reused after the loop, so each loop pushes a scope and drops it at its exit.
        self._scopes: list[dict] = [{}]

    # -- values --------------------------------------------------------------------------

    def has(self, key) -> bool:
        """Whether `cached` already holds a value for `key` in a visible scope."""
        return any(key in scope for scope in self._scopes)

    def cached(self, key, make: Callable[[], object]):
        for scope in reversed(self._scopes):
            if key in scope:
                return scope[key]
        value = make()
        self._scopes[-1][key] = value
        return value

    def alloca(self, ty: ir.Type, name: str = "", count: int | None = None) -> ir.Value:
        """A stack slot (of `count` elements, else one) in the entry block, where
        mem2reg/SROA can promote it."""
        with self.builder.goto_block(self._alloca_block):
            self.builder.position_before(self._alloca_end)
            size = None if count is None else int_const(count)
            return self.builder.alloca(ty, size=size, name=name)

    @contextmanager
    def scope(self):
        """Values generated inside are not reused after it (code that may not run)."""
        self._scopes.append({})
        try:
            yield
        finally:
            self._scopes.pop()

    def intrinsic(self, name: str, ret: ir.Type, args: Sequence[ir.Type],
                  overloads: Sequence[ir.Type] | None = None) -> ir.Function:
        """Declare (once) an LLVM intrinsic; `overloads` are the types in its mangled name."""
        overloads = list(args[:1] if overloads is None else overloads)
        full = ".".join([name, *(float_suffix(t) for t in overloads)])
        if full in self.module.globals:
            return self.module.globals[full]
        return ir.Function(self.module, ir.FunctionType(ret, list(args)), name=full)

    def call_intrinsic(self, name: str, *values: ir.Value, ret: ir.Type | None = None):
        fn = self.intrinsic(name, ret or values[0].type, [v.type for v in values])
        return self.builder.call(fn, values)

    # -- control flow --------------------------------------------------------------------

    @contextmanager
    def for_range(self, count, name: str = "i", rolled: bool = False):
        """`for (i = 0; i < count; ++i)` with an i64 induction variable; yields i.

        A constant count of 1 is no loop (i is the constant 0), and the body of a
        constant count of 0 is emitted into blocks that are dropped afterwards: LLVM
        would delete both, after aotc had printed them and LLVM had parsed them.
        rolled: LLVM neither unrolls nor vectorizes this loop (`rolled_loop`); what it
        optimizes is the body, once."""
        b = self.builder
        static = count if isinstance(count, int) else _constant(count)
        if static is not None and static <= 1:
            with self._static_range(static) as index:
                yield index
            return
        count = int_const(count) if isinstance(count, int) else count
        preheader = b.block
        header = self.function.append_basic_block(f"{name}.header")
        body = self.function.append_basic_block(f"{name}.body")
        exit_ = self.function.append_basic_block(f"{name}.exit")
        b.branch(header)
        b.position_at_end(header)
        index = b.phi(I64, name=name)
        index.add_incoming(int_const(0), preheader)
        b.cbranch(b.icmp_signed("<", index, count), body, exit_)
        b.position_at_end(body)
        self._scopes.append({})
        try:
            yield index
        finally:
            self._scopes.pop()
        following = b.add(index, int_const(1), name=f"{name}.next", flags=("nuw", "nsw"))
        index.add_incoming(following, b.block)
        latch = b.branch(header)
        if rolled:
            latch.set_metadata("llvm.loop", rolled_loop(self.module))
        b.position_at_end(exit_)

    @contextmanager
    def _static_range(self, count: int):
        """for_range's body for a constant count of 0 or 1, without the loop."""
        b = self.builder
        dropped = None
        if count <= 0:  # built where no branch leads, then removed with its blocks
            resume = b.block
            dropped = len(self.function.blocks)
            b.position_at_end(self.function.append_basic_block("dead"))
        self._scopes.append({})
        try:
            yield int_const(0)
        finally:
            self._scopes.pop()
        if dropped is not None:
            del self.function.blocks[dropped:]
            b.position_at_end(resume)

    def loop_nest(self, extents: Sequence[int], order: Sequence[int],
                  body: Callable[[list[ir.Value]], None], name: str = "d") -> None:
        """Loops over every index of `extents`, `order[0]` outermost; calls body(index)."""
        index: list[ir.Value | None] = [None] * len(extents)

        def level(k: int) -> None:
            if k == len(order):
                body(list(index))
                return
            dim = order[k]
            with self.for_range(extents[dim], name=f"{name}{dim}") as i:
                index[dim] = i
                level(k + 1)

        level(0)

    def select_chain(self, cases: Sequence[tuple[ir.Value, ir.Value]], default: ir.Value):
        """`c0 ? v0 : c1 ? v1 : ... : default`."""
        result = default
        for cond, value in reversed(cases):
            result = self.builder.select(cond, value, result)
        return result

    def bool_const(self, value: bool) -> ir.Constant:
        return ir.Constant(I1, int(bool(value)))
