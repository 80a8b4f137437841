"""Simplifier rules for arithmetic identities (x + 0, x * 1, ...) and data movement that
moves nothing (identity transposes, whole slices, reshapes of reshapes, ...).
Registered into `RULES` on import (the package `aotc.passes.simplifier` imports this
module).
"""

from __future__ import annotations

from ...hlo.ir import Instruction
from .constants import is_all
from .rewriter import rule


def _derived(inst: Instruction, opcode: str, operands, attrs: dict) -> Instruction:
    """A new instruction replacing `inst`: same result shape and metadata."""
    return Instruction(opcode, inst.shape, operands, attrs, metadata=inst.metadata)


def _is_identity(permutation) -> bool:
    return tuple(permutation) == tuple(range(len(permutation)))


# -- arithmetic identities -------------------------------------------------------------


@rule("add")
def _add_zero(inst):
    lhs, rhs = inst.operands
    if is_all(rhs, 0):
        return lhs
    if is_all(lhs, 0):
        return rhs
    return None


@rule("subtract")
def _subtract_zero(inst):
    lhs, rhs = inst.operands
    return lhs if is_all(rhs, 0) else None


@rule("multiply")
def _multiply_one(inst):
    lhs, rhs = inst.operands
    if is_all(rhs, 1):
        return lhs
    if is_all(lhs, 1):
        return rhs
    return None


@rule("divide")
def _divide_one(inst):
    lhs, rhs = inst.operands
    return lhs if is_all(rhs, 1) else None


@rule("maximum", "minimum")
def _same_operands(inst):
    lhs, rhs = inst.operands
    return lhs if lhs is rhs else None


@rule("select")
def _select_known(inst):
    predicate, on_true, on_false = inst.operands
    if on_true is on_false or is_all(predicate, True):
        return on_true
    return on_false if is_all(predicate, False) else None


@rule("negate")
def _negate_negate(inst):
    (x,) = inst.operands
    return x.operands[0] if x.opcode == "negate" else None


# -- data movement ---------------------------------------------------------------------


@rule("reshape")
def _reshape_noop(inst):
    (x,) = inst.operands
    return x if x.shape.dims == inst.shape.dims else None


@rule("reshape")
def _reshape_reshape(inst):
    (x,) = inst.operands
    if x.opcode != "reshape":
        return None
    return _derived(inst, "reshape", [x.operands[0]], inst.attrs)


@rule("transpose")
def _transpose_identity(inst):
    return inst.operands[0] if _is_identity(inst.attrs["dimensions"]) else None


@rule("transpose")
def _transpose_transpose(inst):
    # Result dim i of a transpose is operand dim perm[i]; through two transposes that is
    # dim inner[outer[i]] of the innermost operand.
    (x,) = inst.operands
    if x.opcode != "transpose":
        return None
    inner, outer = x.attrs["dimensions"], inst.attrs["dimensions"]
    composed = tuple(inner[d] for d in outer)
    return _derived(inst, "transpose", [x.operands[0]], {**inst.attrs, "dimensions": composed})


@rule("broadcast")
def _broadcast_broadcast(inst):
    # Operand dim i lands in inner dim inner[i], which lands in outer dim outer[inner[i]].
    (x,) = inst.operands
    if x.opcode != "broadcast":
        return None
    inner, outer = x.attrs["dimensions"], inst.attrs["dimensions"]
    composed = tuple(outer[d] for d in inner)
    return _derived(inst, "broadcast", [x.operands[0]], {**inst.attrs, "dimensions": composed})


@rule("reshape", "transpose")
def _reshape_of_scalar_broadcast(inst):
    # Moving the elements of a splat around gives the same splat in the new shape; keeping
    # it a broadcast lets the identities above see zeros and ones through reshapes.
    (x,) = inst.operands
    if x.opcode != "broadcast" or x.operands[0].shape.rank != 0:
        return None
    return _derived(inst, "broadcast", [x.operands[0]], {"dimensions": ()})


@rule("concatenate")
def _concatenate_single(inst):
    return inst.operands[0] if len(inst.operands) == 1 else None


@rule("pad")
def _pad_nothing(inst):
    no_padding = all(tuple(p) == (0, 0, 0) for p in inst.attrs["padding"])
    return inst.operands[0] if no_padding else None


@rule("reverse")
def _reverse_nothing(inst):
    # Reversing only dimensions of size 0 or 1 moves no element.
    (x,) = inst.operands
    return x if all(x.shape.dims[d] <= 1 for d in inst.attrs["dimensions"]) else None


@rule("convert")
def _convert_same_type(inst):
    (x,) = inst.operands
    return x if x.shape.element_type == inst.shape.element_type else None


@rule("slice")
def _slice_whole(inst):
    (x,) = inst.operands
    whole = tuple((0, d, 1) for d in x.shape.dims)
    return x if tuple(tuple(s) for s in inst.attrs["slice"]) == whole else None


@rule("broadcast")
def _broadcast_noop(inst):
    (x,) = inst.operands
    same = x.shape.dims == inst.shape.dims and _is_identity(inst.attrs["dimensions"])
    return x if same else None


@rule("copy")
def _copy(inst):
    # A copy that changes the layout is a real relayout; the shape guard keeps those.
    return inst.operands[0]


@rule("get-tuple-element")
def _gte_of_tuple(inst):
    (x,) = inst.operands
    return x.operands[inst.attrs["index"]] if x.opcode == "tuple" else None
