"""Algebraic simplification (a small XLA AlgebraicSimplifier): the rule table and the pass.

Rewrite rules live in `RULES`, keyed by opcode; the family modules of this package
(algebraic, conv_pad, contraction, indexing) register into it, and `aotc.passes.simplifier`
imports them all, in that order (a key's rules are tried in registration order). Each rule
looks at one instruction and returns what should replace it (an existing instruction, or a
new one built from existing operands) or None. The pass applies them in program order until
nothing changes, so chains such as reshape(reshape(reshape(x))) and x + 0 + 0 collapse
completely.

Every rewrite must keep the value's shape, layout included: a rule that would change it is
ignored (before layout assignment all layouts are the default, so nothing is lost).
"""

from __future__ import annotations

from typing import Callable

from ...hlo.ir import Computation, Instruction
from ...hlo.registry import Registry
from ..pass_base import ComputationPass, rewrite_forward

Rule = Callable[[Instruction], "Instruction | None"]

#: opcode -> the rules tried on instructions of that opcode, in order.
RULES: Registry[Rule] = Registry("simplifier rule", many=True)

#: Bound on re-simplifying one instruction's replacement, and on sweeps over a computation;
#: every rule shrinks the graph, so these are only a guard against a rule that cycles.
MAX_REWRITES_PER_INSTRUCTION = 16
MAX_SWEEPS = 16


def rule(*opcodes: str, uses: bool = False):
    """Register the decorated function as a rule for `opcodes`.

    uses: the rule is called as fn(inst, use_count), where use_count(x) is how many
    instructions use x (the root counts as one); rules that move or rewrite a value only
    safe to change when nothing else reads it (a weight constant) need it.
    """

    def register(fn: Rule) -> Rule:
        fn.needs_uses = uses
        return RULES.register(*opcodes)(fn)

    return register


# -- the pass --------------------------------------------------------------------------


def simplify_instruction(inst: Instruction, use_count=None) -> Instruction | None:
    """The first shape-preserving rewrite of `inst` that a rule offers, or None.

    Rules registered with `uses=True` run only when `use_count` is given.
    """
    for fn in RULES.get(inst.opcode, ()):
        if getattr(fn, "needs_uses", False):
            if use_count is None:
                continue
            replacement = fn(inst, use_count)
        else:
            replacement = fn(inst)
        if replacement is not None and replacement.shape == inst.shape:
            return replacement
    return None


class UseCounts:
    """How many users each instruction had when a sweep started, kept conservative during
    the sweep: an instruction a rewrite created or gave a new user counts as used many
    times, so a rule never mistakes a shared value for a private one."""

    UNKNOWN = 1 << 30

    def __init__(self, computation: Computation):
        # Users the root does not need (left for DCE) do not count.
        live = set(computation.post_order()) if computation.root is not None else set()
        self._counts = {inst: sum(u in live for u in users)
                        for inst, users in computation.users().items()}
        if computation.root is not None:
            self._counts[computation.root] = self._counts.get(computation.root, 0) + 1

    def __call__(self, inst: Instruction) -> int:
        return self._counts.get(inst, self.UNKNOWN)

    def touched(self, replacement: Instruction) -> None:
        """`replacement` is new or reused by a rewrite: it and its operands gain users."""
        self._counts.pop(replacement, None)
        for op in replacement.operands:
            self._counts.pop(op, None)


class AlgebraicSimplifier(ComputationPass):
    """Applies the rewrite rules of `RULES` to a fixed point."""

    name = "algsimp"

    def run_on_computation(self, computation: Computation) -> bool:
        changed = False
        for _ in range(MAX_SWEEPS):
            uses = UseCounts(computation)
            if not rewrite_forward(computation, lambda inst: self._simplify(inst, uses)):
                break
            changed = True
        return changed

    @staticmethod
    def _simplify(inst: Instruction, uses: UseCounts | None = None) -> Instruction | None:
        # A rule may return a new instruction that another rule simplifies further
        # (reshape(reshape(x)) -> reshape(x) -> x); keep going on the replacement.
        current = inst
        for _ in range(MAX_REWRITES_PER_INSTRUCTION):
            replacement = simplify_instruction(current, uses)
            if replacement is None:
                break
            if uses is not None:
                uses.touched(replacement)
            current = replacement
        return None if current is inst else current
