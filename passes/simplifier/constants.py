"""What the simplifier's rule families share: recognizing constants known at compile time.
"""

from __future__ import annotations

import numpy as np

from ...hlo.ir import Instruction


def splat_value(inst: Instruction) -> np.ndarray | None:
    """The literal behind a constant or a broadcast of a constant, else None."""
    if inst.opcode == "broadcast":
        inst = inst.operands[0]
    if inst.opcode == "constant":
        return inst.attrs["literal"]
    return None


def is_all(inst: Instruction, value) -> bool:
    """True when every element of `inst` is known at compile time to equal `value`."""
    literal = splat_value(inst)
    return literal is not None and literal.size > 0 and bool(np.all(literal == value))
