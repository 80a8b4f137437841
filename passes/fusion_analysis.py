"""What fusion knows about opcodes and fused computations.

Shared by the fusion pass (to decide) and the backends (to emit):

- which instructions may be fused into a loop (a positive list: an opcode not named here,
  such as one added to the IR after this was written, is never fused);
- which are expensive to compute (never duplicated, never recomputed per use);
- which consumers read each element of an operand at most once;
- the *hero* of a fusion (XLA's term): the one dot, convolution or reduce that decides
  how the fusion is emitted, with its elementwise epilogue between it and the root.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..hlo.ir import Computation, Instruction
from ..hlo.opcodes import ELEMENTWISE_CATEGORIES, OPCODES

#: Structural opcodes computable per output element by index arithmetic alone, so a loop
#: fusion can contain them. (Every op of an elementwise category is fusible too: the
#: category itself says that element i is computed from element i of the operands.)
LOOP_FUSIBLE_STRUCTURAL = frozenset({
    "broadcast", "reshape", "transpose", "slice", "reverse", "concatenate", "pad", "iota",
    "constant",  # only when every element is the same value: see `is_loop_fusible`
})

#: Opcodes cheap enough to recompute wherever they are used (XLA's list of cheap
#: instructions). Everything else counts as expensive: transcendentals, division, dots,
#: reductions and any opcode this list does not know.
CHEAP_OPCODES = frozenset({
    "abs", "add", "and", "ceil", "clamp", "compare", "convert", "copy", "floor",
    "is-finite", "maximum", "minimum", "multiply", "negate", "not", "or", "xor", "select",
    "sign", "subtract", "shift-left", "shift-right-arithmetic", "shift-right-logical",
    "round-nearest-afz", "round-nearest-even",
    "broadcast", "reshape", "transpose", "slice", "reverse", "concatenate", "pad", "iota",
    "constant", "parameter", "tuple", "get-tuple-element",
})


@dataclass(frozen=True)
class Hero:
    """How an instruction that does real work per output element anchors a fusion.

    kind: the fusion kind of a fusion built around it.
    fused_operands: whether its operands may be computed inside the fusion. A reduce
        reads each operand element once, through the elemental generator; a dot or a
        convolution reads each operand element many times, from memory.
    """

    kind: str
    fused_operands: bool


#: Opcode -> its role as a hero. Opcodes missing from the IR (not yet added) are ignored.
HEROES: dict[str, Hero] = {
    "reduce": Hero("kInput", fused_operands=True),
    "dot": Hero("kOutput", fused_operands=False),
    "convolution": Hero("kOutput", fused_operands=False),
}

#: Fusion kind -> whether that kind has a hero.
KINDS_WITH_HERO = frozenset(h.kind for h in HEROES.values())

#: Per-opcode answer to "does `inst` read each element of operand `k` at most once?".
#: Elementwise ops always do; opcodes not listed (dot, gather, ...) are assumed not to.
_READS_ONCE: dict[str, Callable[[Instruction, int], bool]] = {
    "reshape": lambda inst, k: True,
    "transpose": lambda inst, k: True,
    "reverse": lambda inst, k: True,
    "slice": lambda inst, k: True,
    "concatenate": lambda inst, k: True,
    "convert": lambda inst, k: True,
    # A broadcast that adds dimensions reads each operand element once per copy.
    "broadcast": lambda inst, k: inst.shape.num_elements <= inst.operands[0].shape.num_elements,
    # The padding value is read for every padded element.
    "pad": lambda inst, k: k == 0,
    # Each input element once; the init value once per output element.
    "reduce": lambda inst, k: k < len(inst.operands) // 2 or inst.shape.num_elements <= 1,
}


def is_elementwise(inst: Instruction) -> bool:
    return inst.opcode in OPCODES and OPCODES[inst.opcode].category in ELEMENTWISE_CATEGORIES


def is_splat_constant(inst: Instruction) -> bool:
    """A constant whose elements all have one value (fused as a scalar and a broadcast)."""
    if inst.opcode != "constant" or inst.shape.is_tuple:
        return False
    literal = inst.attrs["literal"]
    flat = literal.reshape(-1)
    return flat.size >= 1 and bool((flat == flat[0]).all() or (flat != flat).all())


def is_loop_fusible(inst: Instruction) -> bool:
    """Whether `inst` can be computed per element inside a loop fusion (no hero)."""
    if inst.shape.is_tuple:
        return False
    if inst.opcode == "fusion":
        return inst.attrs.get("kind") == "kLoop" and not _has_tuple_root(inst)
    if inst.opcode == "constant":
        return is_splat_constant(inst)
    return is_elementwise(inst) or inst.opcode in LOOP_FUSIBLE_STRUCTURAL


def hero_role(inst: Instruction) -> Hero | None:
    """The Hero entry of a plain instruction that can anchor a fusion, else None."""
    if inst.opcode not in OPCODES or inst.shape.is_tuple:
        return None  # a variadic reduce is a multi-output op: not a hero here
    return HEROES.get(inst.opcode)


def is_expensive(inst: Instruction) -> bool:
    """Whether recomputing `inst` per use costs real work (XLA's IsExpensive)."""
    if inst.opcode == "fusion":
        return any(is_expensive(i) for i in inst.called_computations[0].instructions)
    return inst.opcode not in CHEAP_OPCODES


def reads_operand_once(inst: Instruction, k: int) -> bool:
    """Whether `inst` reads each element of its operand `k` at most once."""
    if is_elementwise(inst):
        return True
    rule = _READS_ONCE.get(inst.opcode)
    return rule is not None and rule(inst, k)


def fused_computation(fusion: Instruction) -> Computation:
    return fusion.called_computations[0]


def _has_tuple_root(fusion: Instruction) -> bool:
    return fused_computation(fusion).root.shape.is_tuple


# -- analyses of fused computations ----------------------------------------------------------


def dependents(computation: Computation, start: Instruction) -> list[Instruction]:
    """Every instruction of `computation` that (transitively) uses `start`, in order."""
    reached = {start}
    result = []
    for inst in computation.instructions:
        if inst is not start and any(op in reached for op in inst.operands):
            reached.add(inst)
            result.append(inst)
    return result


def fusion_outputs(computation: Computation) -> list[Instruction]:
    """What a fused computation computes: its root, or for a multi-output fusion (a tuple
    root, passes/multi_output_fusion.py) the root's elements, the first being the main
    output (a hero's result) and the others siblings computed on the way."""
    root = computation.root
    return list(root.operands) if root.opcode == "tuple" else [root]


def is_epilogue_of(computation: Computation, hero: Instruction) -> bool:
    """Whether everything after `hero` up to the (main) output is elementwise over the
    hero's dimensions and that output has the hero's shape: then its element i needs only
    element i of the hero, so the hero can be computed in the fusion's (main) output buffer
    and the epilogue applied in place. A multi-output fusion's other outputs must not
    depend on the hero (they are computed while it reads its operands)."""
    main, *siblings = fusion_outputs(computation)
    root = computation.root
    after = [i for i in dependents(computation, hero) if i is not root or root.opcode != "tuple"]
    if main is not hero and main not in after:
        return False
    if main.shape != hero.shape or any(s is hero or s in after for s in siblings):
        return False
    return all(is_elementwise(i) and i.shape.dims == hero.shape.dims for i in after)


def find_hero(computation: Computation) -> Instruction | None:
    """The hero of a fused computation: its only hero-capable instruction, provided what
    follows it is an in-place epilogue (`is_epilogue_of`). None for a loop fusion."""
    # The opcode test first: this runs after every merge, over every fused instruction.
    heroes = [i for i in computation.instructions
              if i.opcode in HEROES and hero_role(i) is not None]
    if len(heroes) != 1 or not is_epilogue_of(computation, heroes[0]):
        return None
    return heroes[0]


def fusion_kind(computation: Computation) -> str:
    """kLoop, or the kind its hero gives the fusion (kInput for a reduce, kOutput for a
    dot or a convolution)."""
    hero = find_hero(computation)
    return "kLoop" if hero is None else HEROES[hero.opcode].kind


_REUSED = None  # marker in `read_paths`: read more than once per element of the root


def read_paths(computation: Computation) -> dict[Instruction, frozenset | None]:
    """For each instruction, the distinct ways the root's computation reads it.

    A way is the chain of non-elementwise (operand-moving) users between the instruction
    and the root; elementwise users keep the index, so every read through them is the
    same read (the elemental emitter memoizes it). An instruction read through two
    different chains, or through a user that reads operand elements repeatedly (a
    broadcast, a dot), maps to None: computing it inside the fusion would recompute it.
    """
    users = computation.users()
    paths: dict[Instruction, frozenset | None] = {computation.root: frozenset({()})}
    for inst in reversed(computation.instructions):
        if inst is computation.root:
            continue
        found: set = set()
        for user in users.get(inst, ()):
            if user not in paths:
                continue  # dead
            above = paths[user]
            for k, op in enumerate(user.operands):
                if op is not inst:
                    continue
                if above is _REUSED or not reads_operand_once(user, k):
                    found = None
                    break
                if is_elementwise(user):
                    found |= above
                else:
                    found |= {((id(user), k),) + chain for chain in above}
            if found is None:
                break
        paths[inst] = None if found is None or len(found) > 1 else frozenset(found)
    return paths


def reuses_parameter(computation: Computation, parameter: Instruction) -> bool:
    """Whether the fused computation reads elements of `parameter` more than once."""
    return read_paths(computation).get(parameter, frozenset()) is _REUSED


def reuses_operand(consumer: Instruction, producer: Instruction) -> bool:
    """Whether `consumer` reads elements of its operand `producer` more than once."""
    if consumer.opcode == "fusion":
        computation = fused_computation(consumer)
        parameter = computation.parameters[consumer.operands.index(producer)]
        return reuses_parameter(computation, parameter)
    positions = [k for k, op in enumerate(consumer.operands) if op is producer]
    if is_elementwise(consumer):
        return False  # every position is read at the same index
    return len(positions) > 1 or not all(reads_operand_once(consumer, k) for k in positions)
