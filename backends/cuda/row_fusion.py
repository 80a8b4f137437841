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
A reduction with users outside the group stays where it is and is read from its buffer.
"""

from __future__ import annotations

from aotc.hlo import Computation, Instruction, Module
from aotc.passes.fusion_analysis import find_hero, fused_computation
from aotc.passes.fusion_builder import merge_producer, wrap_in_fusion
from aotc.passes.naming import NameUniquer
from aotc.passes.pass_base import ModulePass

__all__ = ["RowFusion", "row_group_reduces"]


def _is_row_reduce(inst: Instruction) -> bool:
    """A single-output reduce of its operand's last dimension (row-major rows: layout
    assignment makes a kInput fusion's buffers row-major; the kernel checks layouts)."""
    if inst.opcode != "reduce" or inst.shape.is_tuple or len(inst.operands) != 2:
        return False
    rank = inst.operands[0].shape.rank
    return rank >= 1 and tuple(inst.attrs["dimensions"]) == (rank - 1,)


def _row_reduce_of(inst: Instruction) -> Instruction | None:
    """The row reduce `inst` computes (itself, or the hero of a reduce fusion)."""
    if _is_row_reduce(inst):
        return inst
    if inst.opcode == "fusion" and inst.attrs.get("kind") == "kInput" and not inst.shape.is_tuple:
        hero = find_hero(fused_computation(inst))
        if hero is not None and _is_row_reduce(hero):
            return hero
    return None


def _follows_rows(inst: Instruction, row: tuple, reduced: tuple) -> bool:
    """Whether `inst`, depending on a reduce, keeps every index within the block's row."""
    dims = inst.shape.dims if not inst.shape.is_tuple else None
    if inst.opcode == "reduce":
        return _is_row_reduce(inst) and inst.operands[0].shape.dims == row
    if inst.opcode == "broadcast":
        operand = inst.operands[0].shape.dims
        return (operand == reduced and dims == row
                and tuple(inst.attrs["dimensions"]) == tuple(range(len(reduced))))
    return inst.is_elementwise and dims in (row, reduced)


def _check(instructions, seeds, row: tuple) -> bool:
    """Whether every instruction depending on `seeds` (reduces, or parameters standing for
    reduced values) follows the rows (`_follows_rows`)."""
    reduced = row[:-1]
    tainted = set(seeds)
    for inst in instructions:
        if inst in tainted and inst.opcode == "parameter":
            continue
        if inst in tainted or any(op in tainted for op in inst.operands):
            if not _follows_rows(inst, row, reduced):
                return False
            tainted.add(inst)
    return True


def row_group_reduces(computation: Computation) -> list[Instruction] | None:
    """The reduces of a row group's fused computation in order, or None when it is not
    one (fewer than one reduce outside the root, a root not over the rows, an index that
    leaves the row)."""
    root = computation.root
    reduces = [i for i in computation.instructions if i.opcode == "reduce"]
    if not reduces or root.shape.is_tuple or root.opcode == "reduce":
        return None
    row = root.shape.dims
    if not row or not _check(computation.instructions, reduces, row):
        return None
    return reduces


def _instructions_of(inst: Instruction) -> tuple[list[Instruction], dict]:
    """`inst`'s instructions and what its parameters stand for (itself for a bare one)."""
    if inst.opcode == "fusion":
        computation = fused_computation(inst)
        return computation.instructions, dict(zip(computation.parameters, inst.operands))
    return [inst], {op: op for op in inst.operands}


def _pieces_follow_rows(consumer: Instruction, group: set, row: tuple) -> bool:
    """`_check` on the consumer and each reduction of `group`, as they would be merged."""
    for inst in [consumer, *group]:
        instructions, bound = _instructions_of(inst)
        seeds = [p for p, op in bound.items() if op in group]
        seeds += [i for i in instructions if i.opcode == "reduce"]
        if not _check(instructions, seeds, row):
            return False
    return True


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
        is_loop = (consumer.opcode == "fusion" and consumer.attrs.get("kind") == "kLoop"
                   and not consumer.shape.is_tuple)
        if not (is_loop or (consumer.is_elementwise and not consumer.shape.is_tuple)):
            return False
        row = consumer.shape.dims
        group = self._group(computation, consumer, row)
        if not group or not _pieces_follow_rows(consumer, group, row):
            return False
        fusion = consumer
        if consumer.opcode != "fusion":
            fusion = wrap_in_fusion(consumer, names)
            computation.add(fusion)
            computation.replace_all_uses(consumer, fusion)
            computation.instructions.remove(consumer)
        position = {inst: n for n, inst in enumerate(computation.instructions)}
        for producer in sorted(group, key=position.__getitem__, reverse=True):
            merge_producer(fusion, producer, names, duplicate=False)
            computation.instructions.remove(producer)
        fusion.attrs["kind"] = "kInput"  # several reduces: the row group kernel
        computation.sort()
        return True

    @staticmethod
    def _group(computation: Computation, consumer: Instruction, row: tuple) -> set:
        """The row reductions of `row` that `consumer` reads, directly or through each
        other, and that nothing outside the group uses."""
        users = computation.users()
        candidates = set()
        frontier = list(consumer.operands)
        while frontier:
            inst = frontier.pop()
            reduce = _row_reduce_of(inst)
            if inst in candidates or reduce is None or reduce.operands[0].shape.dims != row:
                continue
            candidates.add(inst)
            frontier.extend(inst.operands)
        group = set(candidates)
        while True:  # drop reductions used outside the group, until none is
            members = group | {consumer}
            outside = {g for g in group if g is computation.root
                       or any(u not in members for u in users[g])}
            if not outside:
                return group
            group -= outside
