"""Simplifications of the dynamic slices, registered in `RULES` (XLA's
AlgebraicSimplifier does the same):

- dynamic-slice with constant start indices is a static `slice` (starts clamped as the
  dynamic op would clamp them), which later passes and the backend handle better;
- a dynamic-slice or dynamic-update-slice that covers its whole operand is the operand
  (the starts can only clamp to 0), or the update respectively.
"""

from __future__ import annotations

from ...hlo.ir import Instruction
from .rewriter import rule


def _constant_starts(starts: list[Instruction]) -> list[int] | None:
    if not all(s.opcode == "constant" for s in starts):
        return None
    return [int(s.attrs["literal"]) for s in starts]


@rule("dynamic-slice")
def _dynamic_slice_whole(inst):
    operand = inst.operands[0]
    return operand if tuple(inst.attrs["dynamic_slice_sizes"]) == operand.shape.dims else None


@rule("dynamic-slice")
def _dynamic_slice_constant(inst):
    operand, starts = inst.operands[0], inst.operands[1:]
    values = _constant_starts(starts)
    if values is None:
        return None
    spec = []
    for start, size, extent in zip(values, inst.attrs["dynamic_slice_sizes"], operand.shape.dims):
        begin = min(max(start, 0), extent - size)
        spec.append((begin, begin + size, 1))
    return Instruction("slice", inst.shape, [operand], {"slice": tuple(spec)},
                       metadata=inst.metadata)


@rule("dynamic-update-slice")
def _dynamic_update_slice_whole(inst):
    operand, update = inst.operands[0], inst.operands[1]
    return update if update.shape.dims == operand.shape.dims else None
