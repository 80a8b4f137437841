"""Multi-output fusion of a reduction with the loop that computes its input (XLA's
MultiOutputFusion, producer-consumer flavour).

After instruction fusion (fusion.py) a value that a reduce reads and that other
instructions also need is either a loop fusion of its own, when it is too big to copy
(softmax's exp(x - max) over 8 x 1000: stored by one kernel, read back by the fusion
summing it and read again by the loop scaling it), or copied into every user, when it is
small (recomputed by the sum and by the scaling). The reduce computes every element of
its input once, so it can store each element of that value as it goes: one pass over
the row where there were two, and no second computation of the value.

For each reduce (a kInput fusion, or a bare reduce) this pass

1. merges into it a producer it reads (a loop fusion, or an instruction a loop fusion
   could hold) when the producer has other users (else fusion.py would have fused it,
   or refused it for reasons that still hold); inside the reduce fusion the producer's
   value reaches the reduce only through elementwise ops of its own dims, so each of its
   elements is computed exactly once, at its own index, by the reduce's walk over its
   operand; no other operand of the consumer depends on the producer (the merged fusion
   would read its own output); the merged fusion stays within `max_fused_instructions`;
2. lets each loop fusion that reads the reduce's result and recomputes a value the reduce
   fusion computes on the same elementwise way to its reduce (the same function of the
   same entry values), one with an expensive op in it, read that value instead.

The fusion becomes tuple-shaped: its root is tuple(main, siblings...), the main output
being the reduce's result (with its epilogue) and each sibling a value computed on the
way (fusion_analysis.fusion_outputs). The fusion's users read the main output, and the
producer's users the sibling, through get-tuple-element. A backend that runs this pass
(the CPU backend: `CpuBackend.hlo_passes`) must emit such fusions: the hero's loop stores
each sibling element when it computes it.
"""

from __future__ import annotations

from ..hlo.ir import Computation, Instruction, Module
from ..hlo.shape import Shape
from .fusion_analysis import (dependents, find_hero, fused_computation, fusion_kind,
                              fusion_outputs, is_elementwise, is_expensive, is_loop_fusible)
from .fusion_builder import merge_producer, read_instead, wrap_in_fusion
from .naming import NameUniquer
from .pass_base import ModulePass


class MultiOutputFusion(ModulePass):
    """Merges a loop into the reduction that reads it, as a second output (module doc).

    max_fused_instructions: no fusion grows beyond this many instructions (as in
        InstructionFusion, which bounds the fusions it makes by the same default).
    """

    name = "multi-output-fusion"

    def __init__(self, *, max_fused_instructions: int = 512):
        self.max_fused_instructions = max_fused_instructions

    def run(self, module: Module) -> bool:
        computation = module.entry
        names = NameUniquer(module)
        changed = False
        # A merge removes only its producer (a loop, never a reduce) and replaces its
        # consumer, which the loop then follows: the list taken here stays valid.
        for consumer in list(computation.instructions):
            if _reduce_hero(consumer) is None:
                continue
            while (producer := self._producer(computation, consumer)) is not None:
                consumer = _merge(computation, consumer, producer, names)
                changed = True
            changed |= _take_over_copies(computation, consumer, names)
        return changed

    def _producer(self, computation: Computation, consumer: Instruction) -> Instruction | None:
        """The operand of reduce `consumer` to merge into it as a sibling output, or None."""
        hero = _reduce_hero(consumer)
        if hero is None:
            return None
        users = computation.users()
        for producer in dict.fromkeys(consumer.operands):
            if not _is_loop(producer) or not set(users[producer]) - {consumer}:
                continue
            if not _read_once_by(consumer, hero, producer):
                continue
            if any(op is not producer and _depends_on(op, producer)
                   for op in consumer.operands):
                continue
            if _size(consumer) + _size(producer) + 1 > self.max_fused_instructions:
                continue
            return producer
        return None


def _reduce_hero(inst: Instruction) -> Instruction | None:
    """The single-input reduce `inst` is, or that is the hero of the fusion `inst` is."""
    if inst.opcode == "fusion":
        if inst.attrs.get("kind") != "kInput":
            return None
        hero = find_hero(fused_computation(inst))
    else:
        hero = inst
    if hero is None or hero.opcode != "reduce" or hero.shape.is_tuple or len(hero.operands) != 2:
        return None
    return hero


def _is_loop(inst: Instruction) -> bool:
    """A loop fusion, or an instruction one could hold (no constant: it is data)."""
    if inst.opcode == "fusion":
        return inst.attrs.get("kind") == "kLoop" and not inst.shape.is_tuple \
            and not fused_computation(inst).root.shape.is_tuple
    return is_loop_fusible(inst) and inst.opcode not in ("constant", "parameter")


def _read_once_by(consumer: Instruction, hero: Instruction, producer: Instruction) -> bool:
    """Whether the reduce `hero` of `consumer` reads `producer` through elementwise ops of
    the producer's dims only, and nothing after the reduce reads it: then computing the
    reduce's operand computes each element of the producer once, at its index."""
    if consumer.opcode != "fusion":
        return hero.operands[0] is producer
    computation = fused_computation(consumer)
    param = computation.parameters[consumer.operands.index(producer)]
    root = computation.root
    reading = [i for i in dependents(computation, param) if i is not root or root.opcode != "tuple"]
    past_hero = set(dependents(computation, hero))
    before = {i for i in reading if i is not hero and i not in past_hero}
    operand, init = hero.operands
    return (hero in reading and (operand is param or operand in before)
            and init is not param and init not in before
            and all(is_elementwise(i) and i.shape.dims == param.shape.dims for i in before)
            and not any(op is param or op in before
                        for i in past_hero for op in i.operands))


def _cone(inst: Instruction) -> set:
    """`inst` and everything it depends on."""
    seen, stack = set(), [inst]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(node.operands)
    return seen


def _depends_on(inst: Instruction, value: Instruction) -> bool:
    return value in _cone(inst)


def _size(inst: Instruction) -> int:
    if inst.opcode == "fusion":
        return sum(i.opcode != "parameter" for i in fused_computation(inst).instructions)
    return 1


def _merge(computation: Computation, consumer: Instruction, producer: Instruction,
           names: NameUniquer) -> Instruction:
    """Compute `producer` inside `consumer` as one more output; returns the fusion."""
    fusion = consumer
    copies: dict = {}
    if consumer.opcode != "fusion":
        fusion = wrap_in_fusion(consumer, names)
        computation.add(fusion)
        computation.replace_all_uses(consumer, fusion)
        computation.instructions.remove(consumer)
        # The reduce's init (a scalar constant) inside, as fusion.py leaves it: an init
        # the emitter can see is the reducer's identity lets it fold rows in vectors.
        for op in list(fusion.operands):
            if op.opcode == "constant" and is_loop_fusible(op):
                merge_producer(fusion, op, names, duplicate=True, copies=copies)
                if computation.root is not op and not any(
                        op in inst.operands for inst in computation.instructions):
                    computation.instructions.remove(op)
    merge_producer(fusion, producer, names, duplicate=False, copies=copies)
    value = copies[fused_computation(producer).root if producer.opcode == "fusion" else producer]
    sibling = _add_output(computation, fusion, value, names)
    for inst in computation.instructions:
        inst.replace_operand(producer, sibling)
    if computation.root is producer:
        computation.root = sibling
    computation.instructions.remove(producer)
    computation.sort()
    return fusion


def _add_output(computation: Computation, fusion: Instruction, value: Instruction,
                names: NameUniquer) -> Instruction:
    """Make fused `value` an output of `fusion` (a tuple root: main output first, its
    users then read it through get-tuple-element); returns the entry's get-tuple-element
    of `value`, placed at the end of the entry (the caller sorts)."""
    fused = fused_computation(fusion)
    outputs = fusion_outputs(fused)
    if value in outputs:
        k = outputs.index(value)
        for inst in computation.instructions:
            if (inst.opcode == "get-tuple-element" and inst.operands[0] is fusion
                    and inst.attrs["index"] == k):
                return inst
        return computation.add(_element(fusion, k, value.shape, names))
    root = Instruction("tuple", Shape.tuple([o.shape for o in outputs] + [value.shape]),
                       [*outputs, value], name=names.fresh("tuple"))
    was_tuple = fused.root.opcode == "tuple"
    if was_tuple:
        fused.instructions.remove(fused.root)
    fused.add(root)
    fused.root = root
    main_shape = fusion.shape
    fusion.shape = root.shape
    fusion.attrs["kind"] = fusion_kind(fused)  # kInput: the reduce is still the hero
    if not was_tuple:  # the fusion's users read its main output
        main = _element(fusion, 0, main_shape, names)
        for inst in computation.instructions:
            if inst is not fusion:
                inst.replace_operand(fusion, main)
        if computation.root is fusion:
            computation.root = main
        computation.add(main)
    return computation.add(_element(fusion, len(outputs), value.shape, names))


def _take_over_copies(computation: Computation, consumer: Instruction,
                      names: NameUniquer) -> bool:
    """Let loop fusions reading the reduce fusion `consumer` read, as a sibling output,
    an expensive value they recompute that `consumer` computes on its reduce's way
    (fusion.py copies a small expensive producer into each of its users: a small
    softmax's exp(x - max) into the sum and into the scaling). Returns whether any did."""
    if consumer.opcode != "fusion":
        return False
    fused = fused_computation(consumer)
    candidates = _sibling_candidates(fused, _reduce_hero(consumer))
    if not candidates:
        return False
    bound = dict(zip(fused.parameters, consumer.operands))
    readers = {consumer} | {i for i in computation.instructions
                            if i.opcode == "get-tuple-element" and i.operands[0] is consumer}
    users = [i for i in computation.instructions
             if i.opcode == "fusion" and i.attrs.get("kind") == "kLoop" and i is not consumer
             and any(op in readers for op in i.operands)]
    changed = False
    for user in users:
        found = _copy_in(fused, bound, candidates, user)
        if found is None:
            continue
        value, copy = found
        read_instead(user, copy, _add_output(computation, consumer, value, names), names)
        changed = True
    if changed:
        computation.sort()
    return changed


def _sibling_candidates(fused: Computation, hero: Instruction) -> list[Instruction]:
    """Values `fused` computes on the elementwise way to its reduce `hero`'s operand (each
    element once, at its index) that cost real work to recompute, nearest the hero first."""
    dims = hero.operands[0].shape.dims
    chain, seen, stack = [], set(), [hero.operands[0]]
    while stack:
        inst = stack.pop()
        if inst in seen or not is_elementwise(inst) or inst.shape.dims != dims:
            continue
        seen.add(inst)
        chain.append(inst)
        stack.extend(inst.operands)
    order = {inst: k for k, inst in enumerate(fused.instructions)}
    return sorted((v for v in chain if any(is_expensive(i) for i in _cone(v))),
                  key=order.__getitem__, reverse=True)


def _copy_in(fused: Computation, bound: dict, candidates: list[Instruction],
             user: Instruction) -> tuple[Instruction, Instruction] | None:
    """(a candidate, the non-root instruction of `user`'s fused computation computing the
    same function of the same entry values), or None."""
    theirs = fused_computation(user)
    their_bound = dict(zip(theirs.parameters, user.operands))
    memo: dict = {}

    def same(a: Instruction, b: Instruction) -> bool:
        key = (a, b)
        if key not in memo:
            if a.opcode == "parameter" or b.opcode == "parameter":
                memo[key] = (a.opcode == b.opcode == "parameter"
                             and bound[a] is their_bound[b])
            else:
                memo[key] = (a.same_op(b) and len(a.operands) == len(b.operands)
                             and all(same(x, y) for x, y in zip(a.operands, b.operands)))
        return memo[key]

    for value in candidates:
        for inst in theirs.instructions:
            if (inst is not theirs.root and inst.opcode == value.opcode
                    and inst.shape == value.shape and same(value, inst)):
                return value, inst
    return None


def _element(fusion: Instruction, index: int, shape: Shape, names: NameUniquer) -> Instruction:
    return Instruction("get-tuple-element", shape, [fusion], {"index": index},
                       name=names.fresh(f"{fusion.name}.out{index}"))
