"""Expansions of the ops that move complex values without computing on them: the pair
dimension rides along as the new minor dimension (the op's attributes extended to cover
it), and of `reduce` by addition (each part summed on its own)."""

from __future__ import annotations

import numpy as np

from ...hlo.builder import scalar_computation
from .expander import Expander, as_pairs, expansion, unsupported


@expansion("parameter", "tuple", "get-tuple-element", "while", "conditional", "call")
def _retyped(x: Expander, inst, ops):
    """Same op, expanded shape (called computations are expanded on their own)."""
    return x.retype(inst, ops)


@expansion("constant")
def _constant(x: Expander, inst, ops):
    return x.b.constant(as_pairs(inst.attrs["literal"]), inst.shape.element_type.component)


@expansion("reshape")
def _reshape(x: Expander, inst, ops):
    return x.b.reshape(ops[0], (*inst.shape.dims, 2))


@expansion("transpose")
def _transpose(x: Expander, inst, ops):
    perm = tuple(inst.attrs["dimensions"])
    return x.b.transpose(ops[0], (*perm, len(perm)))


@expansion("broadcast")
def _broadcast(x: Expander, inst, ops):
    out = inst.shape.dims
    return x.b.broadcast(ops[0], (*out, 2), (*inst.attrs["dimensions"], len(out)))


@expansion("reverse")
def _reverse(x: Expander, inst, ops):
    return x.b.reverse(ops[0], inst.attrs["dimensions"])


@expansion("slice")
def _slice(x: Expander, inst, ops):
    spec = (*inst.attrs["slice"], (0, 2, 1))
    return x.b.add("slice", ops, {"slice": spec})


@expansion("concatenate")
def _concatenate(x: Expander, inst, ops):
    return x.b.concatenate(ops, inst.attrs["dimensions"][0])


@expansion("pad")
def _pad(x: Expander, inst, ops):
    (re, im), (value_re, value_im) = x.parts(ops[0]), x.parts(ops[1])
    padding = inst.attrs["padding"]
    return x.join(x.b.pad(re, value_re, padding), x.b.pad(im, value_im, padding))


def _zero_index(x: Expander, starts):
    index_type = starts[0].shape.element_type if starts else "s32"
    return x.b.constant(np.zeros((), np.int64), index_type)


@expansion("dynamic-slice")
def _dynamic_slice(x: Expander, inst, ops):
    operand, starts = ops[0], ops[1:]
    sizes = (*inst.attrs["dynamic_slice_sizes"], 2)
    return x.b.dynamic_slice(operand, [*starts, _zero_index(x, starts)], sizes)


@expansion("dynamic-update-slice")
def _dynamic_update_slice(x: Expander, inst, ops):
    operand, update, starts = ops[0], ops[1], ops[2:]
    return x.b.dynamic_update_slice(operand, update, [*starts, _zero_index(x, starts)])


@expansion("gather")
def _gather(x: Expander, inst, ops):
    operand, indices = ops
    a = inst.attrs
    return x.b.gather(operand, indices, offset_dims=(*a["offset_dims"], inst.shape.rank),
                      collapsed_slice_dims=a["collapsed_slice_dims"],
                      start_index_map=a["start_index_map"],
                      index_vector_dim=a["index_vector_dim"],
                      slice_sizes=(*a["slice_sizes"], 2),
                      indices_are_sorted=a.get("indices_are_sorted", False))


def _is_addition(comp) -> bool:
    root = comp.root
    return (root.opcode == "add" and len(comp.parameters) == 2
            and set(map(id, root.operands)) == set(map(id, comp.parameters)))


@expansion("reduce")
def _reduce(x: Expander, inst, ops):
    if len(ops) != 2 or not _is_addition(inst.to_apply()):
        raise unsupported(inst, "only sums reduce complex values")
    (re, im), (init_re, init_im) = x.parts(ops[0]), x.parts(ops[1])
    adder = scalar_computation("add", re.shape.element_type)
    dims = inst.attrs["dimensions"]
    return x.join(x.b.reduce(re, init_re, dims, adder), x.b.reduce(im, init_im, dims, adder))
