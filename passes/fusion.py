"""Instruction fusion (XLA's InstructionFusion, producer-consumer, with CPU-style choices).

Consumers are visited from the root towards the parameters. For each, the pass fuses an
operand (the producer) into it whenever `ShouldFuse` agrees, turning the consumer into a
`fusion` on the first success and then reconsidering the fusion's new operands, so chains
are swallowed from the bottom up. Producers used by the consumer alone go first, so a
value shared inside the fusion's cone is taken once all its users are in. A producer with
other users is copied into the fusion (and stays for them) only when recomputing it is
cheap and the copy reads at most one array of its size in its place; a fused computation
holds at most one copy of each value, however many of its users were fused. Sweeps
repeat until one fuses nothing. Chains whose values are reused (unrolled Philox rounds)
thus fuse in linear size, where copying per use grew exponentially.

The kinds that result:

  kLoop    elementwise ops, broadcasts, reshapes, transposes, slices, concatenates, pads,
           iotas, converts and scalar constants, computed per output element: one loop.
  kInput   a reduce (the hero) reading its input through fused producers (softmax's
           exp(x - max), a squared difference), optionally followed by an elementwise
           epilogue over its result (mean = sum / n).
  kOutput  a dot or a convolution (the hero) computed into the fusion's buffer, followed by
           an elementwise epilogue applied in place: bias add, residual add, activation.

Nothing is ever fused into the operands of a dot or a convolution (they read each
operand element many times), a hero is never copied, and an expensive producer is never
fused into a consumer that reads its elements more than once. Opcodes this pass does not
know are never fused (see fusion_analysis).

This pass makes no multi-output fusions: a producer needed outside its consumer's fusion
is either cheap enough to copy or materialized. The CPU backend runs
multi_output_fusion.py afterwards, which lets a reduction store such a value as it
computes it.
"""

from __future__ import annotations

from typing import Callable

from ..hlo.ir import Computation, Instruction, Module
from .fusion_analysis import (HEROES, dependents, find_hero, fused_computation, hero_role,
                              is_elementwise, is_expensive, is_loop_fusible, reuses_operand)
from .fusion_builder import merge_producer, wrap_in_fusion
from .naming import NameUniquer
from .pass_base import ModulePass


class InstructionFusion(ModulePass):
    """Producer-consumer fusion of the entry computation.

    duplicate_elements: an expensive elementwise producer (exp, tanh) with several users
        is still copied into each consumer when it has at most this many elements: for
        small tensors a few recomputed transcendentals cost less than a kernel launch
        and a round trip through memory (softmax over a batch of logits).
    max_fused_instructions: no fusion grows beyond this many instructions. It bounds the
        size of one generated loop body, not the work: an exact GELU (erfc as a continued
        fraction, ~200 instructions) must fit, or its pieces materialize as temporaries
        (the transformer block's arena is 4x larger with a cap of 128).

    Only the entry computation is fused: it is the one the backends emit as loop nests;
    computations called by control flow are emitted by their own rules.
    """

    name = "fusion"

    def __init__(self, *, duplicate_elements: int = 4096, max_fused_instructions: int = 512):
        self.duplicate_elements = duplicate_elements
        self.max_fused_instructions = max_fused_instructions

    # -- the decision --------------------------------------------------------------------

    def fusion_decision(self, consumer: Instruction, producer: Instruction,
                        users: dict[Instruction, set]) -> str | None:
        """None when `producer` should be fused into `consumer`; else why not.

        `users` maps each instruction to its users (the root counts as used).
        """
        for check in _CHECKS:
            reason = check(self, consumer, producer, users)
            if reason is not None:
                return reason
        return None

    def may_duplicate(self, producer: Instruction) -> bool:
        """Whether a copy of `producer` may be computed inside a consumer while the original
        stays for other users."""
        if _hero_of(producer) is not None:
            return False
        if not is_expensive(producer):
            return True
        return producer.shape.num_elements <= self.duplicate_elements

    # -- the driver ----------------------------------------------------------------------

    def run(self, module: Module) -> bool:
        return self.run_on_computation(module.entry, NameUniquer(module))

    def run_on_computation(self, computation: Computation, names: NameUniquer) -> bool:
        graph = _FusionGraph(computation, names)
        # Sweeps until one fuses nothing: a producer left for its other users by an
        # earlier consumer may have become that consumer's alone later in the sweep.
        while self._sweep(graph):
            pass
        return graph.finish()

    def _sweep(self, graph: "_FusionGraph") -> bool:
        """Visit every consumer once, from the root up; returns whether anything fused."""
        fused = False
        for consumer in sorted(graph.alive, key=graph.position.__getitem__, reverse=True):
            if consumer not in graph.alive:
                continue
            while True:  # the consumer, then the fusion it became, takes producers
                producer = self._next_producer(consumer, graph.users)
                if producer is None:
                    break
                consumer = graph.fuse(consumer, producer)
                fused = True
        return fused

    def _next_producer(self, consumer: Instruction, users) -> Instruction | None:
        """The operand to fuse next: one used by `consumer` alone when there is one, else
        one to copy. Taking the sole-user producers first lets a fusion swallow a shared
        value once all its users are inside (Philox rounds, where every word feeds the
        next round twice) instead of copying it while a user is still outside and then
        fusing that user's own copy of the value's whole cone."""
        copied = None
        for op in dict.fromkeys(consumer.operands):
            if copied is not None and users[op] != {consumer}:
                continue  # only a sole-user producer could still win
            if self.fusion_decision(consumer, op, users) is None:
                if users[op] == {consumer}:
                    return op
                copied = op
        return copied


class _FusionGraph:
    """The computation being fused, with its users kept current as fusions form.

    users: instruction -> the set of its users (None stands for "returned by the root").
    alive: instructions still in the computation. Instructions are placed by `position`:
    a fusion takes its consumer's place, which keeps the order topological (its new
    operands are operands of producers, which came before the consumer).
    """

    def __init__(self, computation: Computation, names: NameUniquer):
        self.computation = computation
        self.names = names
        self.users = {inst: set(us) for inst, us in computation.users().items()}
        self.users[computation.root].add(None)  # the root's value leaves: never fused away
        self.alive = set(computation.instructions)
        self.position = {inst: n for n, inst in enumerate(computation.instructions)}
        self.copies: dict[Instruction, dict] = {}  # fusion -> {original: its fused copy}
        self.changed = False

    def fuse(self, consumer: Instruction, producer: Instruction) -> Instruction:
        """Fuse `producer` into `consumer` (wrapping it in a fusion first if needed);
        returns the fusion, which has taken the consumer's place."""
        self.changed = True
        fusion = consumer
        if consumer.opcode != "fusion":
            fusion = wrap_in_fusion(consumer, self.names)
            self.copies[fusion] = {consumer: fused_computation(fusion).root}
            self._replace(consumer, fusion)
        duplicate = self.users[producer] != {fusion}
        before = set(fusion.operands)
        merge_producer(fusion, producer, self.names, duplicate=duplicate,
                       copies=self.copies.setdefault(fusion, {}),
                       producer_copies=self.copies.get(producer))
        for op in before - set(fusion.operands):
            self.users[op].discard(fusion)
        for op in fusion.operands:
            self.users[op].add(fusion)
        if not duplicate:
            self._remove(producer)
            self.copies.pop(producer, None)
        return fusion

    def finish(self) -> bool:
        """Write the instruction list back; returns whether anything was fused."""
        if self.changed:
            self.computation.instructions = sorted(self.alive, key=self.position.__getitem__)
        return self.changed

    def _replace(self, old: Instruction, new: Instruction) -> None:
        """Put `new` in `old`'s place: same position, same users."""
        self.position[new] = self.position[old]
        self.alive.add(new)
        self.users[new] = self.users[old]
        for user in self.users[new]:
            if user is not None:
                user.replace_operand(old, new)
        if self.computation.root is old:
            self.computation.root = new
        for op in new.operands:
            self.users[op].add(new)
        self._remove(old)

    def _remove(self, inst: Instruction) -> None:
        self.alive.discard(inst)
        for op in set(inst.operands):
            self.users[op].discard(inst)
        del self.users[inst]


# -- checks: each returns None to allow fusion or a reason to refuse ---------------------------

Check = Callable[[InstructionFusion, Instruction, Instruction, dict], "str | None"]


def _hero_of(inst: Instruction) -> Instruction | None:
    """The hero inside `inst`: itself when it is one, its fused hero when it is a fusion."""
    if inst.opcode == "fusion":
        # The kind, kept current by every merge, says whether there is one: a loop
        # fusion's body need not be searched (this runs for every decision).
        if inst.attrs.get("kind") == "kLoop":
            return None
        return find_hero(fused_computation(inst))
    return inst if hero_role(inst) is not None else None


def _check_producer(fusion: InstructionFusion, consumer, producer, users):
    if is_loop_fusible(producer) or _hero_of(producer) is not None:
        return None
    return f"{producer.opcode} is not fusible"


def _check_consumer(fusion: InstructionFusion, consumer, producer, users):
    if consumer.opcode == "fusion" or hero_role(consumer) is not None:
        return None
    if is_loop_fusible(consumer) and consumer.opcode != "constant":
        return None
    return f"{consumer.opcode} cannot take fused producers"


def _check_lone_constant(fusion: InstructionFusion, consumer, producer, users):
    # A constant is free where it is; fusing it only pays inside a fusion that exists
    # anyway (XLA's CPU rule).
    if producer.opcode == "constant" and consumer.opcode != "fusion":
        return "a constant alone is not worth a fusion"
    return None


def _check_hero_operands(fusion: InstructionFusion, consumer, producer, users):
    """Nothing is computed inside the operands of a hero that reads them from memory."""
    hero = _hero_of(consumer)
    if hero is None or HEROES[hero.opcode].fused_operands:
        return None
    if consumer is hero:
        return f"{hero.opcode} reads its operands many times"
    computation = fused_computation(consumer)
    param = computation.parameters[consumer.operands.index(producer)]
    if param in hero.operands:
        return f"{hero.opcode} reads its operands many times"
    return None


def _check_one_hero(fusion: InstructionFusion, consumer, producer, users):
    """A producer with a hero becomes the consumer's hero: the consumer must be a pure
    elementwise epilogue of it."""
    hero = _hero_of(producer)
    if hero is None:
        return None
    if _hero_of(consumer) is not None or _contains_hero_opcode(consumer):
        return "the consumer already has a hero"
    if consumer.opcode != "fusion":
        ok = is_elementwise(consumer) and consumer.shape == producer.shape
        return None if ok else "the consumer is not an elementwise epilogue"
    computation = fused_computation(consumer)
    param = computation.parameters[consumer.operands.index(producer)]
    after = dependents(computation, param)
    ok = (computation.root.shape == producer.shape
          and all(is_elementwise(i) and i.shape.dims == producer.shape.dims for i in after))
    return None if ok else "the consumer is not an elementwise epilogue"


def _check_duplication(fusion: InstructionFusion, consumer, producer, users):
    if users[producer] == {consumer}:
        return None
    if not fusion.may_duplicate(producer):
        return "the producer has other users and is too expensive to copy"
    if producer.opcode == "fusion":
        return "the producer has other users and is a kernel of its own"
    if producer.shape.num_elements <= 1 and producer.opcode != "constant":
        return "the producer has other users and reading it costs nothing"
    # A copy saves reading the producer; it pays when it reads at most one array of the
    # producer's size in its place. That also ends the copying of copies' operands.
    inputs = [op for op in dict.fromkeys(producer.operands)
              if op not in consumer.operands and not _cheap_to_read(op)]
    if len(inputs) > 1:
        return (f"a copy would read {len(inputs)} arrays for the one it saves "
                "(the producer has other users)")
    return None


def _check_reuse(fusion: InstructionFusion, consumer, producer, users):
    if is_expensive(producer) and reuses_operand(consumer, producer):
        return "the consumer would recompute an expensive producer per use"
    return None


def _check_size(fusion: InstructionFusion, consumer, producer, users):
    size = _instruction_count(consumer) + _instruction_count(producer)
    if size > fusion.max_fused_instructions:
        return f"the fusion would have {size} instructions"
    return None


_CHECKS: list[Check] = [
    _check_producer, _check_consumer, _check_lone_constant, _check_hero_operands,
    _check_one_hero, _check_duplication, _check_reuse, _check_size,
]


# -- helpers -----------------------------------------------------------------------------------


def _contains_hero_opcode(inst: Instruction) -> bool:
    if inst.opcode != "fusion":
        return hero_role(inst) is not None
    return any(hero_role(i) is not None for i in fused_computation(inst).instructions)


def _cheap_to_read(inst: Instruction) -> bool:
    """Whether a fusion reads much less than `inst`'s elements to compute it: a scalar, a
    constant, an iota, or a broadcast (which reads its smaller operand, repeatedly)."""
    if inst.shape.num_elements <= 1 or inst.opcode in ("constant", "iota"):
        return True
    return (inst.opcode == "broadcast"
            and inst.operands[0].shape.num_elements < inst.shape.num_elements)


def _instruction_count(inst: Instruction) -> int:
    if inst.opcode == "fusion":
        return sum(i.opcode != "parameter" for i in fused_computation(inst).instructions)
    return 1
