"""In-place updates for dynamic-update-slice and scatter (registered in `SHARING_RULES`;
XLA's CanShareBuffer allows the same).

Both produce their operand 0 with some elements replaced: the CPU backend copies the
operand into the result and then rewrites only the updated elements, reading operand
element i (if at all) only to write result element i. So the result may live in operand
0's buffer when the two have the same addresses for the same index (equal dims and
layout); the copy then costs nothing (the backend skips it) and a TensorList write in a
loop body touches one row instead of the whole list.
"""

from __future__ import annotations

from .sharing import rule


@rule("dynamic-update-slice", "scatter")
def _updates_operand_zero(user, operand_index: int) -> bool:
    src, out = user.operands[operand_index].shape, user.shape
    return operand_index == 0 and src.dims == out.dims and src.layout == out.layout
