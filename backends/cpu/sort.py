"""Sort on the CPU: a stable merge sort of each row, in place in the output buffers.

The object may call nothing but memcpy and memset, so there is no heap for the scratch
space an ordinary merge sort needs, and the stack is too small for large rows. The rows
are therefore sorted in place with the classic scratch-free stable sort (the algorithm of
Go's `sort.Stable`): insertion sort on blocks of 20 elements, then rounds of pairwise
merges with SymMerge (Kim & Kutzner, "Stable Minimum Storage Merging by Symmetric
Comparisons"), which merges two sorted runs by binary search and rotation. That is
O(n log n) comparisons and O(n log^2 n) element moves, with a recursion depth of
O(log n). Being stable, it serves `is_stable=true` and `false` alike.

Every operand moves with the keys, so the sort works on all output buffers at once:
"element i" is the i-th element of the row in each buffer, and comparing two elements
inlines the comparator on all 2n scalars. The helpers are emitted as internal LLVM
functions specialized to one sort instruction (its buffers' strides and element types):

    less(rows..., i, j) -> i1          comparator(row_k[i], row_k[j], ...)
    swap(rows..., i, j)                exchanges element i and j in every buffer
    insertion_sort(rows..., a, b)      sorts [a, b)
    rotate(rows..., a, m, b)           [a, m) [m, b) -> [m, b) [a, m), by block swaps
    sym_merge(rows..., a, m, b)        merges the sorted runs [a, m) and [m, b)
    sort_row(rows...)                  the whole row

`rows` are pointers to element 0 of the row in each output buffer. LLVM inlines the small
helpers into their callers; sym_merge stays a (recursive) function.

When the sort's users read only a prefix of `keep` elements of each row (TopKV2 lowers to a
sort and a slice of the first k), `sort_row` instead selects that prefix in one pass, as
a stable partial insertion sort: the first `keep` elements are sorted, then each later
element that sorts strictly before the last of them replaces it and sinks into place.
That is n comparisons plus `keep` moves per replacement (on random rows, about
keep * ln(n / keep) replacements); the rest of the row is left in an unspecified order.
"""

from __future__ import annotations

from typing import Callable

import llvmlite.ir as ir

from aotc.hlo import Instruction

from .buffers import strides
from .codegen import CodeGen
from .elemental import ElementalEmitter
from .llvm_types import I1, I8, I64, PTR, int_const, memory_type

#: Rows are insertion-sorted in blocks of this many elements before merging (Go's choice).
INSERTION_BLOCK = 20


def _i64(value: int) -> ir.Constant:
    return int_const(value)


class _Row:
    """Element i of the row in buffer k: base_k + i * stride_k (strides are static)."""

    def __init__(self, cg: CodeGen, bases: list[ir.Value], shapes, dim: int):
        self.cg = cg
        self.bases = bases
        self.types = [s.element_type for s in shapes]
        self.strides = [strides(s)[dim] for s in shapes]

    def address(self, k: int, i: ir.Value) -> ir.Value:
        b = self.cg.builder
        offset = b.mul(i, _i64(self.strides[k])) if self.strides[k] != 1 else i
        return b.gep(self.bases[k], [offset], inbounds=True,
                     source_etype=memory_type(self.types[k]))

    def load_raw(self, k: int, i: ir.Value) -> ir.Value:
        return self.cg.builder.load(self.address(k, i), typ=memory_type(self.types[k]))

    def load(self, k: int, i: ir.Value) -> ir.Value:
        """The element in registers (pred as i1, like every other emitter sees it)."""
        value = self.load_raw(k, i)
        if self.types[k].is_pred:
            return self.cg.builder.icmp_unsigned("!=", value, ir.Constant(I8, 0))
        return value


class SortEmitter:
    """Emits the helper functions of one sort instruction into `llvm_module`."""

    def __init__(self, llvm_module: ir.Module, target, constants, inst: Instruction,
                 keep: int | None = None):
        self.keep = keep  # only the first `keep` elements of each row are read (docstring)
        self.llvm_module = llvm_module
        self.target = target
        self.constants = constants
        self.inst = inst
        self.dim = inst.attrs["dimensions"][0]
        self.shapes = (list(inst.shape.tuple_shapes) if inst.shape.is_tuple else [inst.shape])
        self.count = len(self.shapes)
        self.prefix = f"sort.{inst.name}"
        # Declared first so that the bodies can call each other (sym_merge recursively).
        self.less = self._declare("less", I1, 2)
        self.swap = self._declare("swap", ir.VoidType(), 2)
        self.insertion_sort = self._declare("insertion_sort", ir.VoidType(), 2)
        self.rotate = self._declare("rotate", ir.VoidType(), 3)
        self.sym_merge = self._declare("sym_merge", ir.VoidType(), 3)
        self.sort_row = self._declare("sort_row", ir.VoidType(), 0)
        # The block swaps of a rotation are simple copy loops; vectorizing them (with
        # overlap checks, per buffer) doubles the code and compile time for little gain.
        for fn in (self.rotate, self.sym_merge):
            fn.attributes.add("optsize")
        for name, body in [("less", self._less), ("swap", self._swap),
                           ("insertion_sort", self._insertion_sort), ("rotate", self._rotate),
                           ("sym_merge", self._sym_merge), ("sort_row", self._sort_row)]:
            self._define(getattr(self, name), body)

    # -- function scaffolding ----------------------------------------------------------------

    def _declare(self, name: str, ret: ir.Type, int_args: int) -> ir.Function:
        ty = ir.FunctionType(ret, [PTR] * self.count + [I64] * int_args)
        fn = ir.Function(self.llvm_module, ty, self.llvm_module.get_unique_name(
            f"{self.prefix}.{name}"))
        fn.linkage = "internal"
        fn.attributes.add("nounwind")
        for arg in fn.args[:self.count]:
            arg.add_attribute("noalias")
        return fn

    def _define(self, fn: ir.Function, body: Callable) -> None:
        cg = CodeGen(self.llvm_module, fn, self.target)
        self.cg, self.b = cg, cg.builder
        self.rows = list(fn.args[:self.count])
        self.row = _Row(cg, self.rows, self.shapes, self.dim)
        result = body(*fn.args[self.count:])
        if isinstance(fn.function_type.return_type, ir.VoidType):
            self.b.ret_void()
        else:
            self.b.ret(result)

    def _call(self, fn: ir.Function, *ints) -> ir.Value:
        args = [v if isinstance(v, ir.Value) else _i64(v) for v in ints]
        return self.b.call(fn, [*self.rows, *args])

    def _variable(self, initial: ir.Value | int) -> ir.Value:
        slot = self.cg.alloca(I64)
        self.b.store(initial if isinstance(initial, ir.Value) else _i64(initial), slot)
        return slot

    def _get(self, slot) -> ir.Value:
        return self.b.load(slot, typ=I64)

    def _while(self, conditions: list[Callable[[], ir.Value]], body: Callable[[], None]) -> None:
        """`while (c0() && c1() && ...) body()`, short-circuiting: c1 runs only if c0 held
        (it may read an element that is valid only then)."""
        b, fn = self.b, self.cg.function
        header = fn.append_basic_block("while.header")
        loop = fn.append_basic_block("while.body")
        exit_ = fn.append_basic_block("while.exit")
        b.branch(header)
        b.position_at_end(header)
        for k, condition in enumerate(conditions):
            following = loop if k == len(conditions) - 1 else fn.append_basic_block("while.and")
            b.cbranch(condition(), following, exit_)
            b.position_at_end(following)
        body()
        b.branch(header)
        b.position_at_end(exit_)

    def _if(self, condition: ir.Value, body: Callable[[], None]) -> None:
        with self.b.if_then(condition):
            body()

    def _half(self, x: ir.Value, y: ir.Value) -> ir.Value:
        """(x + y) / 2 for 0 <= x, y (no overflow for any realistic row length)."""
        return self.b.lshr(self.b.add(x, y), _i64(1))

    # -- bodies ------------------------------------------------------------------------------

    def _less(self, i, j):
        args = []
        for k in range(self.count):
            args += [self.row.load(k, i), self.row.load(k, j)]
        no_sources = ElementalEmitter(self.cg, self.constants, lambda inst: None)
        (result,) = no_sources.apply(self.inst.to_apply(), args)
        return result

    def _swap(self, i, j):
        b = self.b
        for k in range(self.count):
            x, y = self.row.load_raw(k, i), self.row.load_raw(k, j)
            b.store(y, self.row.address(k, i))
            b.store(x, self.row.address(k, j))

    def _swap_range(self, a, c, n) -> None:
        """Swap [a, a + n) with [c, c + n) (the ranges do not overlap)."""
        b = self.b
        with self.cg.for_range(n, name="k") as k:
            self._call(self.swap, b.add(a, k), b.add(c, k))

    def _insertion_sort(self, a, end):
        b = self.b
        # for i in [a + 1, end): sink element i into the sorted prefix [a, i).
        count = b.sub(end, b.add(a, _i64(1)))
        with self.cg.for_range(count, name="i") as t:
            j = self._variable(b.add(b.add(a, _i64(1)), t))

            def step():
                current = self._get(j)
                previous = b.sub(current, _i64(1))
                self._call(self.swap, current, previous)
                b.store(previous, j)

            self._while([lambda: b.icmp_signed(">", self._get(j), a),
                         lambda: self._call(self.less, self._get(j),
                                            b.sub(self._get(j), _i64(1)))], step)

    def _rotate(self, a, m, end):
        b = self.b
        i, j = self._variable(b.sub(m, a)), self._variable(b.sub(end, m))

        def step():
            vi, vj = self._get(i), self._get(j)

            def i_bigger():  # swap the last j of [a, m) with [m, m + j)
                self._swap_range(b.sub(m, vi), m, vj)
                b.store(b.sub(vi, vj), i)

            def j_bigger():  # swap [m - i, m) with the last i of [m, m + j)
                self._swap_range(b.sub(m, vi), b.sub(b.add(m, vj), vi), vi)
                b.store(b.sub(vj, vi), j)

            with b.if_else(b.icmp_signed(">", vi, vj)) as (then, otherwise):
                with then:
                    i_bigger()
                with otherwise:
                    j_bigger()

        self._while([lambda: b.icmp_signed("!=", self._get(i), self._get(j))], step)
        vi = self._get(i)
        self._swap_range(b.sub(m, vi), m, vi)

    def _binary_search(self, low, high, goes_right: Callable[[ir.Value], ir.Value]) -> ir.Value:
        """The first h in [low, high) where goes_right(h) is false (high if none)."""
        b = self.b
        lo, hi = self._variable(low), self._variable(high)

        def step():
            h = self._half(self._get(lo), self._get(hi))
            right = goes_right(h)
            b.store(b.select(right, b.add(h, _i64(1)), self._get(lo)), lo)
            b.store(b.select(right, self._get(hi), h), hi)

        self._while([lambda: b.icmp_signed("<", self._get(lo), self._get(hi))], step)
        return self._get(lo)

    def _sym_merge(self, a, m, end):
        b = self.b
        one = _i64(1)
        with b.if_else(b.icmp_signed("==", b.sub(m, a), one)) as (single_left, otherwise):
            with single_left:
                # Insert element a into [m, end): after every element less than it.
                i = self._binary_search(m, end, lambda h: self._call(self.less, h, a))
                count = b.sub(b.sub(i, one), a)
                with self.cg.for_range(count, name="k") as k:
                    at = b.add(a, k)
                    self._call(self.swap, at, b.add(at, one))
            with otherwise:
                with b.if_else(b.icmp_signed("==", b.sub(end, m), one)) as (single_right, general):
                    with single_right:
                        # Insert element m into [a, m): after every element not above it.
                        i = self._binary_search(
                            a, m, lambda h: b.not_(self._call(self.less, m, h)))
                        with self.cg.for_range(b.sub(m, i), name="k") as k:
                            at = b.sub(m, k)
                            self._call(self.swap, at, b.sub(at, one))
                    with general:
                        self._sym_merge_general(a, m, end)

    def _sym_merge_general(self, a, m, end):
        b = self.b
        one = _i64(1)
        mid = self._half(a, end)
        n = b.add(mid, m)
        left_longer = b.icmp_signed(">", m, mid)
        low = b.select(left_longer, b.sub(n, end), a)
        high = b.select(left_longer, mid, m)
        last = b.sub(n, one)
        # The split point: the first c where element (last - c) sorts before element c.
        start = self._binary_search(
            low, high, lambda c: b.not_(self._call(self.less, b.sub(last, c), c)))
        stop = b.sub(n, start)
        inner = b.and_(b.icmp_signed("<", start, m), b.icmp_signed("<", m, stop))
        self._if(inner, lambda: self._call(self.rotate, start, m, stop))
        left = b.and_(b.icmp_signed("<", a, start), b.icmp_signed("<", start, mid))
        self._if(left, lambda: self._call(self.sym_merge, a, start, mid))
        right = b.and_(b.icmp_signed("<", mid, stop), b.icmp_signed("<", stop, end))
        self._if(right, lambda: self._call(self.sym_merge, mid, stop, end))

    def _select_prefix(self, keep: int, n: int):
        b = self.b
        last = _i64(keep - 1)
        self._call(self.insertion_sort, 0, keep)
        with self.cg.for_range(n - keep, name="candidate") as t:
            i = b.add(t, _i64(keep))
            with b.if_then(self._call(self.less, i, last)):
                self._call(self.swap, i, last)  # the evicted element is never read again
                j = self._variable(last)

                def step():
                    current = self._get(j)
                    previous = b.sub(current, _i64(1))
                    self._call(self.swap, current, previous)
                    b.store(previous, j)

                self._while([lambda: b.icmp_signed(">", self._get(j), _i64(0)),
                             lambda: self._call(self.less, self._get(j),
                                                b.sub(self._get(j), _i64(1)))], step)

    def _sort_row(self):
        b = self.b
        n = self.shapes[0].dims[self.dim]
        if self.keep is not None and 0 < self.keep < n:
            self._select_prefix(self.keep, n)
            return
        block = INSERTION_BLOCK
        # Insertion sort of each block of `block` elements (the last may be shorter).
        if n // block:
            with self.cg.for_range(n // block, name="block") as t:
                start = b.mul(t, _i64(block))
                self._call(self.insertion_sort, start, b.add(start, _i64(block)))
        if n % block:
            self._call(self.insertion_sort, n - n % block, n)
        # Merge rounds: runs of `width` become runs of 2 * width (n is static, so the
        # rounds and the tail of each are decided here; the pairs are a run-time loop).
        width = block
        while width < n:
            pairs = n // (2 * width)
            with self.cg.for_range(pairs, name="pair") as t:
                start = b.mul(t, _i64(2 * width))
                self._call(self.sym_merge, start, b.add(start, _i64(width)),
                           b.add(start, _i64(2 * width)))
            tail = pairs * 2 * width
            if tail + width < n:
                self._call(self.sym_merge, tail, tail + width, n)
            width *= 2
