"""The algebraic simplifier: `AlgebraicSimplifier` applies the rewrite rules of `RULES` to a
fixed point (see rewriter.py).

Each family module registers its rules on import; this package imports them once, in the
order their rules are tried for an opcode: algebraic identities, conv(pad(x)) folding,
contraction (transpose and scale) folding, dynamic-slice folding.
"""

from . import algebraic, conv_pad, contraction, indexing  # noqa: F401  (register, in order)
from .rewriter import RULES, AlgebraicSimplifier, UseCounts, simplify_instruction

__all__ = ["RULES", "AlgebraicSimplifier", "UseCounts", "simplify_instruction"]
