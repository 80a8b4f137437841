"""Simplifications around contractions (dot, convolution), registered in `RULES`.

Batch broadcasts: a batched dot whose rhs is a weight broadcast over the batch dims is
one GEMM with the batch dims as free dims of the lhs (no broadcast, a packable weight).

Transpose folding (XLA's TransposeFolding): dot(transpose(x), y) becomes a dot of x whose
dimension numbers name x's dimensions directly, when that keeps the result's dimension
order. The CPU dot streams rows of its rhs in the innermost loop, so a transpose of the
rhs is folded only when the rhs's minor-most dimension stays a free (streamed) one;
otherwise materializing the transpose once is cheaper than a strided inner loop.

Scale folding (batch normalization in inference): multiply(contraction(x, W), s) where s
is a per-feature constant along one output dimension and W a constant scales W instead,
once, at compile time: multiply(dot(x, W), broadcast(s)) -> dot(x, W * s). Keras's
Dense/Conv + BatchNormalization lower to that (the shift stays an add, which output
fusion applies in the contraction's epilogue). A bias between the contraction and the
scale is moved past it first: (C + b) * s -> C * s + b * s. The weights are rewritten
only when nothing else uses them, so no constant is duplicated.

Contractions are a table: how a scale along an output dimension maps onto an operand
dimension. An opcode missing from the IR is skipped.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ...hlo.ir import Instruction
from ...hlo.opcodes import OPCODES
from ...hlo.shape import Shape
from .rewriter import rule

#: fn(contraction, output dim) -> [(operand index, operand dim)]: scaling the result along
#: `output dim` is the same as scaling any one of these operands along its dim.
ScaleMap = Callable[[Instruction, int], list]


def _dot_dimensions(inst: Instruction):
    lb, rb = list(inst.attrs.get("lhs_batch_dims", ())), list(inst.attrs.get("rhs_batch_dims", ()))
    lc = list(inst.attrs.get("lhs_contracting_dims", ()))
    rc = list(inst.attrs.get("rhs_contracting_dims", ()))
    lf = [d for d in range(inst.operands[0].shape.rank) if d not in lb + lc]
    rf = [d for d in range(inst.operands[1].shape.rank) if d not in rb + rc]
    return lb, rb, lc, rc, lf, rf


def _dot_scale_map(inst: Instruction, dim: int) -> list:
    # Result dims: batch dims, then lhs free dims, then rhs free dims (XLA's order).
    lb, rb, _, _, lf, rf = _dot_dimensions(inst)
    if dim < len(lb):
        return [(0, lb[dim]), (1, rb[dim])]
    dim -= len(lb)
    return [(0, lf[dim])] if dim < len(lf) else [(1, rf[dim - len(lf)])]


def _convolution_scale_map(inst: Instruction, dim: int) -> list:
    numbers = inst.attrs.get("dim_labels")
    if getattr(numbers, "output_feature", None) != dim:
        return []
    # Output feature o is produced by kernel output feature o (also with feature groups).
    return [(1, numbers.kernel_output_feature)]


CONTRACTIONS: dict[str, ScaleMap] = {"dot": _dot_scale_map, "convolution": _convolution_scale_map}


def _contraction(inst: Instruction) -> ScaleMap | None:
    return CONTRACTIONS.get(inst.opcode) if inst.opcode in OPCODES else None


# -- transpose folding ---------------------------------------------------------------------


@rule("dot")
def _fold_transposes_into_dot(inst):
    attrs = dict(inst.attrs)
    operands = list(inst.operands)
    for k, side in enumerate(("lhs", "rhs")):
        transpose = operands[k]
        if transpose.opcode != "transpose":
            continue
        perm = transpose.attrs["dimensions"]
        batch_dims = list(attrs.get(f"{side}_batch_dims", ()))
        contracting_dims = list(attrs.get(f"{side}_contracting_dims", ()))
        # Dim d of the transpose is dim perm[d] of its operand.
        batch = [perm[d] for d in batch_dims]
        contracting = [perm[d] for d in contracting_dims]
        free = [perm[d] for d in range(len(perm)) if d not in batch_dims + contracting_dims]
        # Free dims reach the result in operand dim order: folding must not reorder them.
        if free != sorted(free):
            continue
        source = transpose.operands[0]
        if side == "rhs" and not (free and max(free) == source.shape.layout[0]):
            continue
        attrs[f"{side}_batch_dims"] = tuple(batch)
        attrs[f"{side}_contracting_dims"] = tuple(contracting)
        operands[k] = source
    if operands == inst.operands:
        return None
    return Instruction("dot", inst.shape, operands, attrs, metadata=inst.metadata)


# -- batch broadcasts ----------------------------------------------------------------------


@rule("dot")
def _unbatch_broadcast_rhs(inst):
    """dot(A[b..., m..., k], broadcast(W[k, n]) over the batch dims) -> dot(A, W) with
    the batch dims as free dims of A: every batch item multiplies the same W, so this is
    one GEMM of M = batch x m rows whose W (a constant: a Dense layer applied through a
    BatchMatMul, as Keras's MultiHeadAttention projections are) is packed at compile
    time, instead of a batched one packing a broadcast copy per item at run time. Only
    when the result keeps its order: A's batch dims first and in order."""
    lhs, rhs = inst.operands
    lb, rb, _, rc, _, _ = _dot_dimensions(inst)
    if not rb or rhs.opcode != "broadcast" or lb != list(range(len(lb))):
        return None
    mapped = list(rhs.attrs["dimensions"])  # W's dim d is the broadcast's dim mapped[d]
    if sorted(set(range(rhs.shape.rank)) - set(mapped)) != sorted(rb) or mapped != sorted(mapped):
        return None  # the broadcast adds other dims too, or reorders W's
    attrs = dict(inst.attrs)
    attrs["lhs_batch_dims"], attrs["rhs_batch_dims"] = (), ()
    attrs["rhs_contracting_dims"] = tuple(mapped.index(d) for d in rc)
    return Instruction("dot", inst.shape, [lhs, rhs.operands[0]], attrs, metadata=inst.metadata)


# -- scale folding -------------------------------------------------------------------------


def _literal_dtype(t) -> np.dtype | None:
    """The NumPy dtype of literals of float type `t`; None for types NumPy cannot round to
    (bf16), which are left alone."""
    return t.np_dtype if t.is_float and t.numpy is not None else None


def _per_feature(inst: Instruction):
    """(dim, vector) when `inst` is a compile-time constant varying along at most one
    dimension: a broadcast of a constant vector or scalar, or a constant of that form.
    dim is None for a splat (one value everywhere, `vector` a scalar)."""
    if _literal_dtype(inst.shape.element_type) is None:
        return None
    if inst.opcode == "broadcast" and inst.operands[0].opcode == "constant":
        literal = inst.operands[0].attrs["literal"]
        if literal.ndim > 1:
            return None
        return (inst.attrs["dimensions"][0] if literal.ndim else None), literal
    if inst.opcode != "constant" or inst.shape.rank == 0:
        return None
    literal = inst.attrs["literal"]
    flat = literal.reshape(-1)
    if flat.size and (flat == flat[0]).all():
        return None, flat[0]
    for dim in range(literal.ndim):
        vector = literal[tuple(slice(None) if d == dim else 0 for d in range(literal.ndim))]
        spread = np.broadcast_to(_along(vector, dim, literal.ndim), literal.shape)
        if np.array_equal(literal, spread):
            return dim, vector
    return None


def _along(vector, dim, rank: int) -> np.ndarray:
    """`vector` shaped to broadcast along `dim` of a rank-`rank` array (a scalar as is)."""
    vector = np.asarray(vector, dtype=np.float64)
    if dim is None:
        return vector
    shape = [1] * rank
    shape[dim] = -1
    return vector.reshape(shape)


def _scaled_weights(contraction: Instruction, dim, vector, use_count):
    """The contraction's operands with one constant weight operand scaled by `vector`
    along the operand dim that output `dim` maps to; None when no operand qualifies."""
    if dim is None:
        candidates = [(k, None) for k in range(len(contraction.operands))]
    else:
        candidates = _contraction(contraction)(contraction, dim)
    for k, operand_dim in candidates:
        weights = contraction.operands[k]
        if (weights.opcode != "constant" or use_count(weights) != 1
                or contraction.operands.count(weights) != 1):
            continue
        literal = weights.attrs["literal"]
        scaled = literal.astype(np.float64) * _along(vector, operand_dim, literal.ndim)
        operands = list(contraction.operands)
        operands[k] = Instruction("constant", weights.shape,
                                  attrs={"literal": scaled.astype(literal.dtype)},
                                  metadata=weights.metadata)
        return operands
    return None


def _split(inst: Instruction, want: Callable[[Instruction], bool]):
    """(x, other) for a binary `inst` with an operand x satisfying `want`, else None."""
    for k in (0, 1):
        if want(inst.operands[k]):
            return inst.operands[k], inst.operands[1 - k]
    return None


@rule("multiply", uses=True)
def _fold_scale_into_weights(inst, use_count):
    found = _split(inst, lambda x: _contraction(x) is not None and use_count(x) == 1)
    if found is None:
        return None
    contraction, scale = found
    feature = _per_feature(scale)
    operands = None if feature is None else _scaled_weights(contraction, *feature, use_count)
    return None if operands is None else contraction.clone(operands)


@rule("multiply", uses=True)
def _scale_past_bias(inst, use_count):
    """(C + b) * s -> C * s + b * s, when C * s then folds into C's weights."""
    found = _split(inst, lambda x: x.opcode == "add" and use_count(x) == 1)
    if found is None:
        return None
    total, scale = found
    inner = _split(total, lambda x: _contraction(x) is not None and use_count(x) == 1)
    if inner is None:
        return None
    contraction, bias = inner
    scale_feature, bias_feature = _per_feature(scale), _per_feature(bias)
    if scale_feature is None or bias_feature is None:
        return None
    (scale_dim, s), (bias_dim, b) = scale_feature, bias_feature
    if None not in (scale_dim, bias_dim) and scale_dim != bias_dim:
        return None
    if _scaled_weights(contraction, scale_dim, s, use_count) is None:
        return None
    # b * s: one vector along the common dim (a scalar if both are splats), broadcast.
    dim = bias_dim if scale_dim is None else scale_dim
    t = inst.shape.element_type
    product = np.asarray(b, np.float64) * np.asarray(s, np.float64)
    product = product.astype(_literal_dtype(t)).reshape(() if dim is None else (-1,))
    constant = Instruction("constant", Shape(t, product.shape), attrs={"literal": product},
                           metadata=bias.metadata)
    spread = Instruction("broadcast", inst.shape, [constant],
                         {"dimensions": () if dim is None else (dim,)}, metadata=bias.metadata)
    scaled = Instruction("multiply", inst.shape, [contraction, scale], metadata=inst.metadata)
    return Instruction("add", inst.shape, [scaled, spread], metadata=total.metadata)
