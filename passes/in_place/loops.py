"""In-place rules for loop fusions and calls: a parameter may share the result's buffer
when it reaches the root only through elementwise ops (or, both row-major, reshapes too).
Registered into `SHARING_RULES` on import (the package `aotc.passes.in_place` imports this
module).
"""

from __future__ import annotations

from ...hlo import Computation, Instruction, Shape
from .sharing import rule, same_addresses


def _row_major_order(shape: Shape) -> bool:
    """Every element at its row-major linear index (extent-1 dims may sit anywhere)."""
    physical = [d for d in reversed(shape.layout) if shape.dims[d] != 1]
    return physical == sorted(physical)


@rule("fusion", "call")
def _loop_computation(user: Instruction, operand_index: int) -> bool:
    if user.opcode == "fusion" and user.attrs.get("kind") != "kLoop":
        return False
    computation = user.called_computations[0]
    params = computation.parameters
    if operand_index >= len(params):
        return False
    src, out = user.operands[operand_index].shape, user.shape
    param = params[operand_index]
    if same_addresses(src, out) and reaches_root_elementwise(computation, param):
        return True
    return (_row_major_order(src) and _row_major_order(out)
            and reaches_root_elementwise(computation, param, through_reshapes=True))


#: Opcodes that keep the row-major linear index of every element.
_LINEAR = frozenset({"reshape", "bitcast"})


def reaches_root_elementwise(computation: Computation, param: Instruction, *,
                             through_reshapes: bool = False) -> bool:
    """Every transitive use of `param` is an elementwise op (evaluated at the index of its
    own result), or with `through_reshapes` a reshape (same linear index); so the root
    reads `param` only at the position it computes. A param that reaches nothing is
    trivially fine."""
    root = computation.root
    if root.shape.is_tuple or root.shape.num_elements != param.shape.num_elements:
        return False
    users = computation.users()
    pending, seen = [param], {param}
    while pending:
        value = pending.pop()
        for user in users.get(value, []):
            linear = through_reshapes and user.opcode in _LINEAR
            if not (linear or (user.is_elementwise and user.shape.dims == value.shape.dims)):
                return False
            if user not in seen:
                seen.add(user)
                pending.append(user)
    return True
