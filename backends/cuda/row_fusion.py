"""Softmax and layer-norm rows as one fusion (a CUDA-only HLO pass, `CudaBackend.hlo_passes`).

After the shared fusion pass a softmax row is a chain of fusions: reduce max, a kInput
fusion (exp(x - max) summed), a kLoop fusion (exp(x - max) / sum); a layer norm is the
mean's and the variance's reductions and the normalizing loop. `RowFusion` merges a loop
fusion (or elementwise instruction) over rows [..., N] with the row reductions it reads
(reductions of the same rows' minor dimension whose users are all in the group) into one
kInput fusion holding several reduces. Its kernel (reduction.row_group_kernel) is one
block per row: each reduce in turn as a block reduction whose value stays in shared
memory, then the root per element of the row; intermediates are recomputed, the output
is written once.

The kernel reads a reduce's value through the block's shared slot, so every value that
depends on a reduce must be indexed by the block's row: `row_group_reduces` accepts only
elementwise ops on row-shaped or reduce-shaped values and broadcasts of reduce-shaped
values along the minor dimension there (anything not depending on a reduce is free).
A reduction with users outside the group other than loops stays where it is and is read
from its buffer; one that other loops read too is copied into each group.
"""

from __future__ import annotations

from aotc.hlo import Computation, Instruction, Module
from aotc.passes.fusion_analysis import find_hero, fused_computation
from aotc.passes.fusion_builder import merge_producer, wrap_in_fusion
from aotc.passes.naming import NameUniquer
from aotc.passes.pass_base import ModulePass

__all__ = ["RowFusion", "row_geometry", "row_group_reduces", "row_reduce_of"]


def _is_row_reduce(inst: Instruction) -> bool:
    """A single-output reduce of its operand's last dimension (row-major rows: layout
    assignment makes a kInput fusion's buffers row-major; the kernel checks layouts)."""
    if inst.opcode != "reduce" or inst.shape.is_tuple or len(inst.operands) != 2:
        return False
    rank = inst.operands[0].shape.rank
    return rank >= 1 and tuple(inst.attrs["dimensions"]) == (rank - 1,)


def row_reduce_of(inst: Instruction) -> Instruction | None:
    """The row reduce `inst` computes (itself, or the hero of a reduce fusion)."""
    if _is_row_reduce(inst):
        return inst
    if inst.opcode == "fusion" and inst.attrs.get("kind") == "kInput" and not inst.shape.is_tuple:
        hero = find_hero(fused_computation(inst))
        if hero is not None and _is_row_reduce(hero):
            return hero
    return None


def _count(inst: Instruction) -> int:
    return inst.shape.num_elements


def _follows_rows(inst: Instruction, rows: int, n: int) -> bool:
    """Whether `inst`, depending on a reduce, keeps every element in the block's row: a
    row-sized value (rows * n elements) is read at logical (row-major) linear positions
    row * n ... row * n + n - 1, a reduce-sized one (rows elements) at position row."""
    if inst.shape.is_tuple:
        return False
    if inst.opcode == "reduce":
        operand = inst.operands[0].shape
        return _is_row_reduce(inst) and operand.num_elements == rows * n and operand.dims[-1] == n
    if inst.opcode == "broadcast":
        operand = inst.operands[0].shape
        k = operand.rank
        return (operand.num_elements == rows and _count(inst) == rows * n
                and tuple(inst.attrs["dimensions"]) == tuple(range(k))
                and inst.shape.dims[:k] == operand.dims)
    return (inst.is_elementwise or inst.opcode == "reshape") and _count(inst) in (rows, rows * n)


def _check(instructions, seeds, rows: int, n: int) -> bool:
    """Whether every instruction depending on `seeds` (reduces, or parameters standing for
    reduced values) follows the rows (`_follows_rows`)."""
    tainted = set(seeds)
    for inst in instructions:
        if inst in tainted and inst.opcode == "parameter":
            continue
        if inst in tainted or any(op in tainted for op in inst.operands):
            if not _follows_rows(inst, rows, n):
                return False
            tainted.add(inst)
    return True


def row_geometry(computation: Computation) -> tuple[list[Instruction], int, int] | None:
    """(the reduces in order, rows, row length) of a row group's fused computation, or
    None when it is not one (no reduce, a root that is a reduce or not over the rows,
    reduces of different row lengths, a value read outside its row)."""
    root = computation.root
    reduces = [i for i in computation.instructions if i.opcode == "reduce"]
    if not reduces or root.shape.is_tuple or root.opcode == "reduce":
        return None
    lengths = {r.operands[0].shape.dims[-1] if r.operands[0].shape.rank else 0 for r in reduces}
    n = lengths.pop()
    if lengths or n == 0 or _count(root) == 0 or _count(root) % n:
        return None
    rows = _count(root) // n
    if not _check(computation.instructions, reduces, rows, n):
        return None
    return reduces, rows, n


def row_group_reduces(computation: Computation) -> list[Instruction] | None:
    """The reduces of a row group's fused computation in order (row_geometry), or None."""
    geometry = row_geometry(computation)
    return None if geometry is None else geometry[0]


def _instructions_of(inst: Instruction) -> tuple[list[Instruction], dict]:
    """`inst`'s instructions and what its parameters stand for (itself for a bare one)."""
    if inst.opcode == "fusion":
        computation = fused_computation(inst)
        return computation.instructions, dict(zip(computation.parameters, inst.operands))
    return [inst], {op: op for op in inst.operands}


def _pieces_follow_rows(consumer: Instruction, group: set, rows: int, n: int) -> bool:
    """`_check` on the consumer and each member of `group`, as they would be merged."""
    for inst in [consumer, *group]:
        instructions, bound = _instructions_of(inst)
        seeds = [p for p, op in bound.items() if op in group]
        seeds += [i for i in instructions if i.opcode == "reduce"]
        if not _check(instructions, seeds, rows, n):
            return False
    return True


def _reached(consumer: Instruction, group: set) -> set:
    """The members of `group` that `consumer` reads through members."""
    reached, frontier = set(), list(consumer.operands)
    while frontier:
        inst = frontier.pop()
        if inst in group and inst not in reached:
            reached.add(inst)
            frontier.extend(inst.operands)
    return reached


def _is_loop(inst: Instruction) -> bool:
    """A loop fusion, an elementwise op or a reshape (an array value)."""
    if inst.shape.is_tuple:
        return False
    if inst.opcode == "fusion":
        return inst.attrs.get("kind") == "kLoop"
    return inst.is_elementwise or inst.opcode == "reshape"


class RowFusion(ModulePass):
    """Merges a loop over rows with the row reductions it reads (see the module doc)."""

    name = "cuda-row-fusion"

    def run(self, module: Module) -> bool:
        computation = module.entry
        names = NameUniquer(module)
        changed = False
        for consumer in reversed(list(computation.instructions)):
            if consumer in computation.instructions:
                changed |= self._fuse_rows(computation, consumer, names)
        return changed

    def _fuse_rows(self, computation: Computation, consumer: Instruction, names) -> bool:
        if not _is_loop(consumer) or consumer.opcode == "reshape" or _count(consumer) == 0:
            return False
        lengths = {r.operands[0].shape.dims[-1] for r in self._reduces(consumer)}
        if len(lengths) != 1 or 0 in lengths or _count(consumer) % min(lengths):
            return False
        n = lengths.pop()
        rows = _count(consumer) // n
        group, duplicate = self._group(computation, consumer, rows, n)
        if (not any(row_reduce_of(g) for g in group)
                or not _pieces_follow_rows(consumer, group, rows, n)):
            return False
        fusion = consumer
        if consumer.opcode != "fusion":
            fusion = wrap_in_fusion(consumer, names)
            computation.add(fusion)
            computation.replace_all_uses(consumer, fusion)
            computation.instructions.remove(consumer)
        position = {inst: k for k, inst in enumerate(computation.instructions)}
        for producer in sorted(group, key=position.__getitem__, reverse=True):
            merge_producer(fusion, producer, names, duplicate=duplicate)
            if not duplicate:
                computation.instructions.remove(producer)
        fusion.attrs["kind"] = "kInput"  # several reduces: the row group kernel
        computation.sort()
        if duplicate:
            computation.remove_dead()  # originals only other copied members read
        return True

    @staticmethod
    def _reduces(consumer: Instruction) -> list[Instruction]:
        """The row reduces `consumer` reads through reductions and smaller loops."""
        found, seen, frontier = [], set(), list(consumer.operands)
        while frontier:
            inst = frontier.pop()
            if inst in seen:
                continue
            seen.add(inst)
            reduce = row_reduce_of(inst)
            if reduce is not None and _count(reduce.operands[0]) == _count(consumer):
                found.append(reduce)
                frontier.extend(inst.operands)
            elif reduce is None and _is_loop(inst) and _count(inst) < _count(consumer):
                frontier.extend(inst.operands)
        return found

    @staticmethod
    def _group(computation: Computation, consumer: Instruction, rows: int,
               n: int) -> tuple[set, bool]:
        """The row reductions (of `rows` rows of `n`) and the loops over their values
        (`rows` elements) that `consumer` reads, directly or through each other, that
        only the group and other loops use; and whether such other loops do (then the
        group is copied into `consumer`: a layer norm's statistics, read by its output
        and by a residual connection's recomputation of it, are computed by both)."""
        users = computation.users()
        candidates = set()
        frontier = list(consumer.operands)
        while frontier:
            inst = frontier.pop()
            reduce = row_reduce_of(inst)
            fits = (_count(reduce.operands[0]) == rows * n and reduce.operands[0].shape.dims[-1] == n
                    if reduce is not None else _is_loop(inst) and _count(inst) == rows)
            if inst in candidates or not fits:
                continue
            candidates.add(inst)
            frontier.extend(inst.operands)
        group = set(candidates)
        while True:  # drop members something other than a loop uses, until none is
            members = group | {consumer}
            outside = {g for g in group if g is computation.root or any(
                u not in members and not _is_loop(u) for u in users[g])}
            reached = _reached(consumer, group - outside)
            if reached == group:
                return group, any(u not in members for g in group for u in users[g])
            group = reached
