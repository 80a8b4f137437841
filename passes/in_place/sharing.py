"""Which instructions may write their result over an operand's buffer (XLA's
HloDataflowAnalysis::CanShareBuffer).

Sharing is safe when the user reads each element of that operand only where it writes the
corresponding result element, before writing it: then every element is consumed before it
is overwritten, in any loop order and on any number of threads. That holds for

- elementwise ops whose operand has the result's dims, layout and element size (the same
  index is the same address);
- loop fusions (and calls, which the CPU backend emits the same way) whose parameter
  reaches the root only through elementwise ops, under the same condition; or only through
  elementwise ops and reshapes, when the operand and the result are both laid out
  row-major: a reshape keeps the row-major linear index, which is then the address.

The table `SHARING_RULES` holds the rules of the opcodes that are not plain elementwise;
the family modules of this package (loops, indexing) register into it, and
`aotc.passes.in_place` imports them all.

Whether the operand *dies* at the user, and whether its buffer is a temporary at all, is
buffer assignment's business; this module only answers for the instruction's semantics.
"""

from __future__ import annotations

from typing import Callable

from ...hlo import Instruction, Shape
from ...hlo.registry import Registry

#: opcode -> fn(user, operand index) -> bool, for opcodes that are not plain elementwise.
SHARING_RULES: Registry[Callable[[Instruction, int], bool]] = Registry("in-place rule")


def rule(*opcodes: str):
    """Register the decorated function as the in-place rule of `opcodes`."""
    return SHARING_RULES.register(*opcodes)


def can_share_buffer(user: Instruction, operand_index: int) -> bool:
    """May `user` compute its result into the buffer of its operand `operand_index`?"""
    out, src = user.shape, user.operands[operand_index].shape
    if out.is_tuple or src.is_tuple:
        return False
    if src.element_type.byte_size != out.element_type.byte_size:
        return False
    if src.num_elements != out.num_elements:
        return False
    fn = SHARING_RULES.get(user.opcode)
    if fn is not None:
        return fn(user, operand_index)
    return user.is_elementwise and same_addresses(src, out)


def same_addresses(a: Shape, b: Shape) -> bool:
    """The same index is the same address in both (equal dims and layout)."""
    return a.dims == b.dims and a.layout == b.layout
