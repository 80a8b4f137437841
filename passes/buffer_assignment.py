"""Buffer assignment: where every value of the entry computation lives at run time.

Parameters live in the caller's argument buffers, constants in the object file, and the
values the entry root returns are written straight into the caller's result buffers when
that is safe. Every other array value is a temporary packed into one arena:

1. *Values.* `tuple`, `get-tuple-element` and `bitcast` own no storage: they name bytes
   owned by another instruction (a bitcast reads its operand's bytes through its own
   layout). Every other instruction owns one buffer, or one per element when it produces a
   tuple (a variadic `reduce`, a multi-output fusion).
2. *Live ranges.* The schedule is the computation's instruction order (or `schedule`). A
   buffer is live from its defining instruction to its last use, seeing through the views
   above; buffers the root returns by copy stay live to the end, where the copies happen.
3. *In-place reuse.* An instruction may take over an operand's buffer when that buffer is a
   temporary that dies at this instruction, has the same size, and the instruction may
   overwrite it (`in_place.can_share_buffer`: elementwise ops, loop fusions). The two then
   form one allocation whose live range is the union of theirs. Arguments, constants and
   result buffers are never taken over.
4. *Scratch.* A backend may need scratch memory while one instruction runs (a GEMM's
   packing buffers, one per concurrently running task): `scratch(inst)` bytes, live at
   that instruction only, so they share the arena with values that are dead then.
5. *Packing.* Allocations are placed into the arena by the heap simulator
   (`heap_simulator.pack`): best fit over live ranges, the best of a few global orders.

Offsets are multiples of `alignment` (64 by the artifact contract).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from aotc.hlo import Instruction, Module

from .control_flow_buffers import assign_control_flow
from .heap_simulator import Block, pack, round_up
from .in_place import can_share_buffer

#: Opcodes whose value is only a view of other instructions' buffers.
VIEW_OPCODES = frozenset({"tuple", "get-tuple-element", "bitcast"})

#: A buffer: its defining instruction and the tuple element (-1 for an array value).
Key = tuple[Instruction, int]


@dataclass(frozen=True)
class BufferSlice:
    """A place in memory: an argument, a result, a piece of the temp arena or a constant.

    `index` is the parameter number ("arg") or result index ("result"), else -1; `offset`
    is the byte offset in the arena for "temp" (a multiple of the alignment), else 0.
    """

    kind: str  # "arg" | "result" | "temp" | "constant"
    index: int
    offset: int
    size: int


@dataclass
class BufferAssignment:
    """The result of `assign_buffers`; see the module docstring.

    `slices` holds the buffer of every array-valued owner (views are resolved by
    `slice_of`), `tuple_slices` the element buffers of tuple-valued owners. `shared_with`
    maps an instruction computed in place to the operand whose buffer it took over.
    """

    temp_bytes: int
    slices: dict[Instruction, BufferSlice]
    results: list[Instruction]
    result_copies: list[tuple[int, Instruction]]
    tuple_slices: dict[Instruction, list[BufferSlice]] = field(default_factory=dict)
    # Sum of every temporary's size: what the arena would need without any sharing.
    unshared_temp_bytes: int = 0
    shared_with: dict[Instruction, Instruction] = field(default_factory=dict)
    # while/conditional -> the buffers of the computations it calls, which live after
    # this computation's temporaries (passes/control_flow_buffers.py).
    nested: dict = field(default_factory=dict)
    # instruction -> its scratch memory in the arena (step 4 of the module docstring).
    scratch: dict[Instruction, BufferSlice] = field(default_factory=dict)

    def scratch_of(self, inst: Instruction) -> BufferSlice | None:
        """The scratch memory reserved for `inst` while it runs, or None."""
        return self.scratch.get(inst)

    def slice_of(self, inst: Instruction) -> BufferSlice | None:
        """The buffer holding `inst`'s array value, seeing through get-tuple-element and
        bitcast."""
        if inst.opcode == "bitcast":
            return self.slice_of(inst.operands[0])
        if inst.opcode == "get-tuple-element":
            source = inst.operands[0]
            index = inst.attrs["index"]
            if source.opcode == "tuple":
                return self.slice_of(source.operands[index])
            return self.tuple_slices[source][index]
        return self.slices.get(inst)

    def _all_slices(self) -> list[BufferSlice]:
        return list(self.slices.values()) + [s for ss in self.tuple_slices.values()
                                             for s in ss if s is not None]

    @property
    def arg_bytes(self) -> int:
        """Bytes of the caller's argument buffers."""
        return sum(s.size for s in self._all_slices() if s.kind == "arg")

    @property
    def result_bytes(self) -> int:
        """Bytes of the caller's result buffers."""
        return sum(r.shape.byte_size for r in self.results)

    @property
    def constant_bytes(self) -> int:
        """Bytes of constant data the object file holds."""
        return sum(s.size for s in self._all_slices() if s.kind == "constant")

    def report(self) -> str:
        """A human-readable table of every buffer, for `--dump-hlo` and debugging."""
        lines = [
            f"args: {self.arg_bytes} bytes",
            f"results: {self.result_bytes} bytes",
            f"temp arena: {self.temp_bytes} bytes "
            f"(unshared sum of temporaries: {self.unshared_temp_bytes} bytes)",
            f"constants: {self.constant_bytes} bytes",
            "",
            f"{'instruction':40} {'kind':8} {'index':>5} {'offset':>10} {'size':>10}  shares",
        ]
        entries = [(inst, inst.name, s) for inst, s in self.slices.items()]
        entries += [(inst, f"{inst.name}{{{i}}}", s) for inst, ss in self.tuple_slices.items()
                    for i, s in enumerate(ss) if s is not None]
        for inst, name, s in entries:
            shares = self.shared_with.get(inst)
            note = f"  in place of {shares.name}" if shares is not None and s.kind == "temp" else ""
            lines.append(f"{name:40} {s.kind:8} {s.index:>5} {s.offset:>10} {s.size:>10}{note}")
        for inst, s in self.scratch.items():
            lines.append(f"{inst.name + ' (scratch)':40} {s.kind:8} {s.index:>5} {s.offset:>10} {s.size:>10}")
        for index, source in self.result_copies:
            lines.append(f"result {index} is copied from {source.name}")
        return "\n".join(lines) + "\n"


def owners(inst: Instruction) -> list[Key]:
    """The buffers holding `inst`'s value, seeing through tuples, get-tuple-element and
    bitcast (for a tuple, every element's buffer)."""
    if inst.opcode == "tuple":
        return [key for op in inst.operands for key in owners(op)]
    if inst.opcode == "bitcast":
        return owners(inst.operands[0])
    if inst.opcode == "get-tuple-element":
        source = inst.operands[0]
        if source.opcode == "tuple":
            return owners(source.operands[inst.attrs["index"]])
        return [(source, inst.attrs["index"])]
    if inst.shape.is_tuple:
        return [(inst, i) for i in range(len(inst.shape.tuple_shapes))]
    return [(inst, -1)]


def _size(key: Key) -> int:
    inst, element = key
    shape = inst.shape if element < 0 else inst.shape.tuple_shapes[element]
    return shape.byte_size


def _direct_results(root: Instruction) -> dict[Key, int]:
    """Buffers that can be computed straight into a result buffer: key -> result index.

    A root operand qualifies when its value is exactly one computed buffer (possibly seen
    through bitcasts, whose bytes are the buffer's bytes) that the root returns only once:
    parameters and constants already live elsewhere, and a buffer returned twice can only
    be written to one place, so those are copied at the end instead.
    """
    found: dict[Key, list[int]] = {}
    for i, op in enumerate(root.operands):
        if op.shape.is_tuple:
            continue
        for key in owners(op):
            found.setdefault(key, []).append(i)
    direct = {}
    for i, op in enumerate(root.operands):
        keys = [] if op.shape.is_tuple else owners(op)
        if len(keys) != 1 or len(found[keys[0]]) != 1:
            continue
        key = keys[0]
        if key[0].opcode in ("parameter", "constant") or _size(key) != op.shape.byte_size:
            continue
        direct[key] = i
    return direct


@dataclass
class _Allocation:
    """Buffers sharing one piece of the arena (an operand and its in-place users)."""

    keys: list[Key]
    size: int
    start: int
    end: int


def assign_buffers(module: Module, alignment: int = 64, *, schedule=None,
                   in_place: bool = True,
                   scratch: Callable[[Instruction], int] | None = None) -> BufferAssignment:
    """Assign a buffer to every value of `module`'s entry computation.

    The entry root must be a `tuple` of the results. The schedule is `schedule` (a
    topological order of the entry's instructions) or else the entry's instruction order.
    `in_place=False` turns off step 3 of the module docstring (for comparisons).
    `scratch(inst)`, when given, is the scratch bytes `inst` needs while it runs (step 4),
    asked of the instructions of called computations too.
    """
    comp = module.entry
    root = comp.root
    if root.opcode != "tuple":
        raise ValueError(f"entry root of {module.name} must be a tuple, got {root.opcode}")
    order = list(schedule) if schedule is not None else comp.instructions
    position = {inst: p for p, inst in enumerate(order)}
    direct = _direct_results(root)

    slices: dict[Instruction, BufferSlice] = {}
    tuple_slices: dict[Instruction, list[BufferSlice | None]] = {}

    def place(key: Key, piece: BufferSlice) -> None:
        inst, element = key
        if element < 0:
            slices[inst] = piece
        else:
            tuple_slices.setdefault(inst, [None] * len(inst.shape.tuple_shapes))[element] = piece

    # 1. Values: where each owner lives, unless it is a temporary.
    ranges: dict[Key, list[int]] = {}  # temporaries: key -> [first, last] position
    for inst in order:
        if inst.opcode in VIEW_OPCODES:
            continue
        if inst.opcode == "parameter":
            place((inst, -1), BufferSlice("arg", inst.attrs["parameter_number"], 0, inst.shape.byte_size))
            continue
        if inst.opcode == "constant":
            place((inst, -1), BufferSlice("constant", -1, 0, inst.shape.byte_size))
            continue
        for key in owners(inst):
            if key in direct:
                place(key, BufferSlice("result", direct[key], 0, _size(key)))
            else:
                ranges[key] = [position[inst], position[inst]]

    # 2. Live ranges: extend each temporary to its last use.
    end = len(order)
    for inst in order:
        use = end if inst is root else position[inst]
        for op in inst.operands:
            for key in owners(op):
                if key in ranges and use > ranges[key][1]:
                    ranges[key][1] = use

    # 3. Allocations, with in-place reuse of operand buffers that die here.
    allocation_of: dict[Key, _Allocation] = {}
    allocations: list[_Allocation] = []
    shared_with: dict[Instruction, Instruction] = {}
    for inst in order:
        key = (inst, -1)
        if key not in ranges:
            for element_key in owners(inst) if inst.opcode not in VIEW_OPCODES else []:
                if element_key in ranges:
                    _new_allocation(element_key, ranges, allocation_of, allocations)
            continue
        donor = _donor(inst, position[inst], allocation_of) if in_place else None
        if donor is None:
            _new_allocation(key, ranges, allocation_of, allocations)
            continue
        operand, allocation = donor
        allocation.keys.append(key)
        allocation.end = max(allocation.end, ranges[key][1])
        allocation_of[key] = allocation
        shared_with[inst] = operand

    # 4. Scratch, live at its instruction only.
    needs = [(inst, scratch(inst)) for inst in order] if scratch is not None else []
    needs = [(inst, size) for inst, size in needs if size > 0]

    # 5. Packing.
    blocks = [Block(a.size, a.start, a.end) for a in allocations]
    blocks += [Block(size, position[inst], position[inst]) for inst, size in needs]
    offsets, temp_bytes = pack(blocks, alignment)
    for allocation, offset in zip(allocations, offsets):
        for key in allocation.keys:
            place(key, BufferSlice("temp", -1, offset, _size(key)))
    scratch_slices = {inst: BufferSlice("temp", -1, offset, size)
                      for (inst, size), offset in zip(needs, offsets[len(allocations):])}

    copies = [(i, op) for i, op in enumerate(root.operands)
              if op.shape.is_tuple or [direct.get(k) for k in owners(op)] != [i]]
    assignment = BufferAssignment(
        temp_bytes=temp_bytes,
        slices=slices,
        results=list(root.operands),
        result_copies=copies,
        tuple_slices=tuple_slices,
        unshared_temp_bytes=sum(round_up(max(_size(k), 1), alignment) for k in ranges),
        shared_with=shared_with,
        scratch=scratch_slices,
    )
    # Computations called by while/conditional get regions after the temporaries; their
    # own buffers are assigned by this function, recursively.
    return assign_control_flow(module, assignment, partial(assign_buffers, scratch=scratch),
                               alignment)


def _new_allocation(key: Key, ranges, allocation_of, allocations) -> None:
    first, last = ranges[key]
    allocation = _Allocation([key], _size(key), first, last)
    allocation_of[key] = allocation
    allocations.append(allocation)


def _donor(inst: Instruction, here: int, allocation_of) -> tuple[Instruction, _Allocation] | None:
    """An operand of `inst` whose temporary buffer `inst` may take over: it dies here, has
    `inst`'s size, and every operand reading that buffer may be overwritten in place."""
    size = inst.shape.byte_size
    for k, op in enumerate(inst.operands):
        keys = owners(op)
        if len(keys) != 1 or keys[0] not in allocation_of:
            continue
        allocation = allocation_of[keys[0]]
        if allocation.end != here or allocation.size != size:
            continue
        readers = [j for j, other in enumerate(inst.operands)
                   if any(allocation_of.get(key) is allocation for key in owners(other))]
        if all(can_share_buffer(inst, j) for j in readers):
            return op, allocation
    return None
