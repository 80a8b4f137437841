"""Counting and searching: Bucketize, LowerBound/UpperBound (searchsorted), InTopKV2 and
the bincounts. Each is a comparison against every candidate reduced by a sum (or a
scatter-add for the bincounts), which is what tf2xla does too."""

from __future__ import annotations

import numpy as np

from ...hlo import Shape
from ...hlo.dtypes import PRED, S32
from .indexing import gather_along_axis
from .registry import lowering, single


def _count(ctx, pred, dimension, out_type):
    """The number of true elements of `pred` along `dimension`, as `out_type`."""
    ones = ctx.b.convert(pred, out_type)
    return ctx.reduce(ones, "add", 0, [dimension])


@lowering("Bucketize")
def _bucketize(ctx, node, inputs):
    # The index of the bucket: how many boundaries are not above x (std::upper_bound in
    # TF's kernel, so NaN lands past the last boundary).
    x = single(inputs)
    boundaries = [float(v) for v in ctx.attr(node, "boundaries", [])]
    if boundaries != sorted(boundaries):
        ctx.error(node, f"boundaries {boundaries} must be sorted")
    b = ctx.b
    dims = x.shape.dims
    if not boundaries:
        return ctx.full(0, S32, dims)
    # The boundaries are f32 in the attr; compared in f64, where both sides are exact.
    wide = b.convert(x, "f64") if x.shape.element_type.name != "f64" else x
    edges = np.asarray(boundaries, np.float32).astype(np.float64)
    edges = b.broadcast(b.constant(edges), dims + (len(boundaries),), (len(dims),))
    values = b.broadcast(wide, dims + (len(boundaries),), tuple(range(len(dims))))
    return _count(ctx, b.unary("not", b.compare(values, edges, "LT")), len(dims), S32)


def _search_sorted(direction):
    def rule(ctx, node, inputs):
        sorted_inputs, values = inputs
        if (sorted_inputs.shape.rank != 2 or values.shape.rank != 2
                or sorted_inputs.shape.dims[0] != values.shape.dims[0]):
            ctx.error(node, f"needs [B, N] sorted inputs and [B, M] values, got "
                            f"{sorted_inputs.shape.short()} and {values.shape.short()}")
        (batch, n), m = sorted_inputs.shape.dims, values.shape.dims[1]
        b = ctx.b
        s = b.broadcast(sorted_inputs, (batch, m, n), (0, 2))
        v = b.broadcast(values, (batch, m, n), (0, 1))
        return _count(ctx, b.compare(s, v, direction), 2, ctx.dtype(node, "out_type"))

    rule.__doc__ = f"The number of sorted elements `{direction}` each value."
    return rule


lowering("LowerBound")(_search_sorted("LT"))
lowering("UpperBound")(_search_sorted("LE"))


@lowering("InTopKV2")
def _in_top_k(ctx, node, inputs):
    # TF's kernel: the target is in the top k when fewer than k classes score strictly
    # higher; a row with a non-finite score, or an out-of-range target, gives false.
    predictions, targets, k = inputs
    if predictions.shape.rank != 2 or targets.shape.dims != predictions.shape.dims[:1]:
        ctx.error(node, f"needs [B, C] predictions and [B] targets, got "
                        f"{predictions.shape.short()} and {targets.shape.short()}")
    b = ctx.b
    batch, classes = predictions.shape.dims
    if classes == 0:
        return ctx.full(False, PRED, (batch,))
    target_score = gather_along_axis(ctx, node, predictions, targets, 1, 1)
    higher = b.compare(predictions, b.broadcast(target_score, (batch, classes), (0,)), "GT")
    higher_count = _count(ctx, higher, 1, targets.shape.element_type)
    finite = ctx.reduce(b.add("is-finite", [predictions]), "and", True, [1])
    t = targets.shape.element_type
    in_range = b.binary("and", b.compare(targets, ctx.full(0, t, (batch,)), "GE"),
                        b.compare(targets, ctx.full(classes, t, (batch,)), "LT"))
    kk = b.broadcast(b.convert(b.reshape(k, ()), t), (batch,), ())
    return b.binary("and", b.binary("and", finite, in_range), b.compare(higher_count, kk, "LT"))


def _bincount(ctx, node, values, size_input, weights, out_type, binary):
    """Counts (or summed weights) of each value in [0, size) of the last dim of `values`
    (rank 1 or 2, one row of bins per row); values outside are dropped."""
    size = ctx.static_int(node, size_input, "size")
    if size < 0:
        ctx.error(node, f"size must be non-negative, got {size}")
    b = ctx.b
    rows = values.shape.dims[:-1]
    dims = tuple(rows) + (size,)
    zeros = ctx.full(0, out_type, dims)
    if values.shape.num_elements == 0 or size == 0:
        return zeros
    if weights is None or binary:
        updates = ctx.full(1, out_type, values.shape.dims)
    else:
        updates = weights
    if rows:
        t = values.shape.element_type
        vectors = b.concatenate([b.reshape(b.iota(Shape(t, values.shape.dims), 0),
                                           values.shape.dims + (1,)),
                                 b.reshape(values, values.shape.dims + (1,))], 2)
    else:
        vectors = b.reshape(values, values.shape.dims + (1,))
    combiner = ctx.reducer("maximum" if binary else "add", out_type)
    depth = vectors.shape.dims[-1]
    return b.scatter(zeros, vectors, updates, combiner, update_window_dims=(),
                     inserted_window_dims=range(depth), scatter_dims_to_operand_dims=range(depth),
                     index_vector_dim=vectors.shape.rank - 1)


@lowering("Bincount")
def _bincount_v1(ctx, node, inputs):
    # Any-rank int32 values; empty weights mean counts.
    values, size_input, weights = inputs
    flat = ctx.b.reshape(values, (values.shape.num_elements,))
    out_type = weights.shape.element_type
    if weights.shape.num_elements == 0:
        weights = None
    elif weights.shape.dims != values.shape.dims:
        ctx.error(node, f"weights {weights.shape.short()} must be empty or shaped like arr "
                        f"{values.shape.short()}")
    else:
        weights = ctx.b.reshape(weights, flat.shape.dims)
    return _bincount(ctx, node, flat, size_input, weights, out_type, False)


@lowering("DenseBincount")
def _dense_bincount(ctx, node, inputs):
    values, size_input, weights = inputs
    if values.shape.rank not in (1, 2):
        ctx.error(node, f"input must have rank 1 or 2, got {values.shape.short()}")
    out_type = weights.shape.element_type
    if weights.shape.num_elements == 0:
        weights = None
    elif weights.shape.dims != values.shape.dims:
        ctx.error(node, f"weights {weights.shape.short()} must be empty or shaped like the "
                        f"input {values.shape.short()}")
    return _bincount(ctx, node, values, size_input, weights, out_type,
                     ctx.attr(node, "binary_output", False))
