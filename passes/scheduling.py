"""Instruction scheduling for memory (XLA's HloMemoryScheduler).

Buffer assignment takes the entry computation's instruction order as the schedule, and
the order decides which temporaries are live at the same time, hence the arena size. This
pass reorders `computation.instructions` (always topologically) to make that arena small:

- `list_schedule`: XLA's ListScheduler. Repeatedly schedule the ready instruction that
  frees the most bytes net of what it allocates (operand buffers whose last use it is,
  minus its own new buffers); ties go to the instruction that became ready last, which
  keeps a chain going depth-first, then to the original order.
- `dfs_schedule`: XLA's DFSMemoryScheduler. A post-order walk from the root that visits
  the operand with the heaviest subtree first, so big subcomputations finish (and free
  their temporaries) before the next one starts.
- the current order (the builder's post order).

`MemoryScheduler` runs buffer assignment on every candidate (the exact heap simulation,
in-place reuse and packing included) and keeps the order with the smallest arena; on a
tie it keeps the current order, so the pass never makes the arena bigger.

Buffers are seen as buffer assignment sees them: views (tuple, get-tuple-element,
bitcast) own nothing, parameters and constants are not in the arena, and the values the
root returns are not freed.
"""

from __future__ import annotations

from ..hlo import Computation, Instruction, Module
from .buffer_assignment import VIEW_OPCODES, assign_buffers, owners
from .pass_base import ModulePass

Key = tuple[Instruction, int]


def _key_size(key: Key) -> int:
    inst, element = key
    shape = inst.shape if element < 0 else inst.shape.tuple_shapes[element]
    return shape.byte_size


class _BufferUse:
    """Which buffers each instruction defines and reads, as buffer assignment sees them."""

    def __init__(self, comp: Computation):
        self.defines: dict[Instruction, list[Key]] = {}
        self.reads: dict[Instruction, set[Key]] = {}
        for inst in comp.instructions:
            free = inst.opcode in VIEW_OPCODES or inst.opcode in ("parameter", "constant")
            self.defines[inst] = [] if free else owners(inst)
            self.reads[inst] = {key for op in inst.operands for key in owners(op)}
        # The root reads what it returns until the end: never freed.
        self.pinned = set(self.reads.get(comp.root, ()))
        self.arena = {key for keys in self.defines.values() for key in keys} - self.pinned


def list_schedule(comp: Computation) -> list[Instruction]:
    """The greedy list schedule described in the module docstring."""
    use = _BufferUse(comp)
    original = {inst: n for n, inst in enumerate(comp.instructions)}
    remaining_readers: dict[Key, int] = {}
    for inst in comp.instructions:
        for key in use.reads[inst]:
            remaining_readers[key] = remaining_readers.get(key, 0) + 1
    users = comp.users()
    waiting = {inst: len(set(inst.operands)) for inst in comp.instructions}
    ready = {inst: 0 for inst in comp.instructions if waiting[inst] == 0}
    clock = 0
    order: list[Instruction] = []

    def priority(inst: Instruction):
        if inst.opcode in VIEW_OPCODES or not use.defines[inst]:
            return (1, 0, ready[inst], -original[inst])  # costs nothing: take it now
        freed = sum(_key_size(k) for k in use.reads[inst]
                    if k in use.arena and remaining_readers[k] == 1)
        allocated = sum(_key_size(k) for k in use.defines[inst] if k in use.arena)
        return (0, freed - allocated, ready[inst], -original[inst])

    while ready:
        inst = max(ready, key=priority)
        del ready[inst]
        order.append(inst)
        for key in use.reads[inst]:
            remaining_readers[key] -= 1
        clock += 1
        for user in users.get(inst, []):
            waiting[user] -= 1
            if waiting[user] == 0:
                ready[user] = clock
    if len(order) != len(comp.instructions):
        raise ValueError(f"{comp.name}: instructions form a cycle or use outside operands")
    return order


def dfs_schedule(comp: Computation) -> list[Instruction]:
    """The heaviest-subtree-first post order described in the module docstring; the
    instructions the root does not reach come first, in their current order."""
    use = _BufferUse(comp)
    weight: dict[Instruction, int] = {}
    for inst in comp.instructions:  # operands first: weights are ready when needed
        own = sum(_key_size(k) for k in use.defines[inst])
        weight[inst] = own + sum(weight[op] for op in set(inst.operands))
    placed: set[Instruction] = set()
    order: list[Instruction] = []

    def visit(start: Instruction) -> None:
        stack = [(start, None)]
        while stack:
            inst, operands = stack.pop()
            if inst in placed:
                continue
            if operands is None:
                operands = sorted(dict.fromkeys(inst.operands), key=lambda o: -weight[o])
            pending = [op for op in operands if op not in placed]
            if not pending:
                placed.add(inst)
                order.append(inst)
                continue
            stack.append((inst, pending[1:]))
            stack.append((pending[0], None))

    reached = set()
    frontier = [comp.root]
    while frontier:
        inst = frontier.pop()
        if inst not in reached:
            reached.add(inst)
            frontier.extend(inst.operands)
    for inst in comp.instructions:
        if inst not in reached:
            visit(inst)
    visit(comp.root)
    return order


SCHEDULERS = {"list": list_schedule, "dfs": dfs_schedule}


class MemoryScheduler(ModulePass):
    """Reorders the entry computation for the smallest temp arena; see the module
    docstring. After `run`, `arena_bytes` maps each candidate ("current", "list", "dfs")
    to the arena it gives and `chosen` names the one kept."""

    name = "memory-scheduler"

    def __init__(self, alignment: int = 64):
        self.alignment = alignment
        self.arena_bytes: dict[str, int] = {}
        self.chosen = "current"

    def run(self, module: Module) -> bool:
        comp = module.entry
        candidates = {"current": list(comp.instructions)}
        candidates.update({name: fn(comp) for name, fn in SCHEDULERS.items()})
        self.arena_bytes = {
            name: assign_buffers(module, self.alignment, schedule=order).temp_bytes
            for name, order in candidates.items()
        }
        self.chosen = min(self.arena_bytes, key=self.arena_bytes.get)  # first wins ties
        best = candidates[self.chosen]
        if best == comp.instructions:
            return False
        comp.instructions = best
        return True
