"""What the reduce-like rules (reduce, reduce-window, scatter) need to know about a
reducer computation: whether it is one ufunc (`simple_reducer`, the vectorized fast path)
and whether it may run on whole arrays at once (`batchable`).
"""

from __future__ import annotations

import numpy as np

from ..ir import Computation
from ..opcodes import ELEMENTWISE_CATEGORIES


#: Reducer root opcode -> the ufunc that computes it, for the vectorized fast path.
REDUCER_UFUNCS = {
    "add": np.add, "multiply": np.multiply, "maximum": np.maximum, "minimum": np.minimum,
    "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor,
}


def simple_reducer(comp: Computation):
    """The ufunc when `comp` is `op(p0, p1)` on its two scalar parameters, else None."""
    root = comp.root
    params = comp.parameters
    if root.opcode not in REDUCER_UFUNCS or len(params) != 2:
        return None
    if any(p.shape.is_tuple or p.shape.rank for p in params):
        return None
    if {id(o) for o in root.operands} != {id(p) for p in params}:
        return None
    return REDUCER_UFUNCS[root.opcode]


def batchable(comp: Computation) -> bool:
    """True when `comp` uses only elementwise ops on scalars, so running it on arrays applies
    it independently per element (NumPy broadcasting scalars constants against arrays)."""
    for inst in comp.post_order():
        if inst.shape.is_tuple:
            if inst.opcode not in ("tuple", "get-tuple-element", "parameter"):
                return False
            continue
        if inst.shape.rank != 0:
            return False
        if not (inst.info.category in ELEMENTWISE_CATEGORIES
                or inst.opcode in ("parameter", "constant", "tuple", "get-tuple-element")):
            return False
    return True
