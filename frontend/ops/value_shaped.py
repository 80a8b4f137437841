"""Ops whose output shape depends on input values: Where, Unique, UniqueV2, ListDiff,
DynamicPartition, DynamicStitch and ParallelDynamicStitch.

Compiled code has static shapes, so the values that decide the shape (Where's condition,
the partitions, the stitch indices) must be compile-time constants; the data they move
may be a run-time value (a gather with a constant index map). tf2xla has the same
requirement for everything but Where, whose result it pads to the input size, which
changes the result's shape."""

from __future__ import annotations

import numpy as np

from .indexing import gather_along_axis
from .registry import lowering, single


def _constant(ctx, node, inst, what):
    value = ctx.static_value(inst)
    if value is None:
        ctx.error(node, f"{what} must be a compile-time constant: the size of the result "
                        "depends on its values")
    return value


def _rows(ctx, node, data, leading: int, picks) -> object:
    """data with its first `leading` dims flattened, rows `picks` gathered."""
    b = ctx.b
    dims = data.shape.dims
    count = int(np.prod(dims[:leading], dtype=np.int64))
    flat = b.reshape(data, (count,) + dims[leading:])
    return gather_along_axis(ctx, node, flat, b.constant(np.asarray(picks, np.int64)), 0, 0)


@lowering("Where")
def _where(ctx, node, inputs):
    # The coordinates of the true (nonzero) elements, row-major: [count, rank] int64.
    condition = _constant(ctx, node, single(inputs), "condition")
    return ctx.b.constant(np.argwhere(condition).astype(np.int64).reshape(-1, condition.ndim))


def _unique(ctx, node, x, axis):
    """(unique slices along axis in order of first appearance, index of each slice)."""
    value = _constant(ctx, node, x, "input")
    moved = np.moveaxis(value, axis, 0).reshape(value.shape[axis], -1) if value.ndim else None
    if moved is None:
        ctx.error(node, "input must have rank >= 1")
    _, first, inverse = np.unique(moved, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank_of = np.empty_like(order)
    rank_of[order] = np.arange(len(order))
    idx = rank_of[np.ravel(inverse)]
    out_type = ctx.dtype(node, "out_idx", np.int32).np_dtype
    picks = np.asarray(first)[order]
    return [gather_along_axis(ctx, node, x, ctx.b.constant(picks.astype(np.int64)), axis, 0),
            ctx.b.constant(idx.astype(out_type))]


@lowering("Unique")
def _unique_v1(ctx, node, inputs):
    x = single(inputs)
    if x.shape.rank != 1:
        ctx.error(node, f"input must be a vector, got {x.shape.short()}")
    return _unique(ctx, node, x, 0)


@lowering("UniqueV2")
def _unique_v2(ctx, node, inputs):
    x, axis_input = inputs
    axes = ctx.static_ints(node, axis_input, "axis")
    if len(axes) > 1 or (axes and not -x.shape.rank <= axes[0] < x.shape.rank):
        ctx.error(node, f"axis must hold one dim of the input, got {axes}")
    return _unique(ctx, node, x, axes[0] % x.shape.rank if axes else 0)


@lowering("ListDiff")
def _list_diff(ctx, node, inputs):
    # The elements of x not in y, in order, and their positions in x.
    x, y = inputs
    xv = _constant(ctx, node, x, "x")
    yv = _constant(ctx, node, y, "y")
    keep = np.flatnonzero(~np.isin(xv, yv))
    out_type = ctx.dtype(node, "out_idx", np.int32).np_dtype
    return [ctx.b.constant(xv[keep]), ctx.b.constant(keep.astype(out_type))]


@lowering("DynamicPartition")
def _dynamic_partition(ctx, node, inputs):
    # Output i holds the slices of data whose partition is i, in order.
    data, partitions = inputs
    parts = _constant(ctx, node, partitions, "partitions")
    num = ctx.attr(node, "num_partitions")
    if data.shape.dims[:parts.ndim] != parts.shape:
        ctx.error(node, f"partitions {list(parts.shape)} must be a prefix of data's dims "
                        f"{list(data.shape.dims)}")
    if parts.size and (parts.min() < 0 or parts.max() >= num):
        ctx.error(node, f"partitions must be in [0, {num}), got {sorted(set(parts.ravel()))}")
    flat = parts.ravel()
    return [_rows(ctx, node, data, parts.ndim, np.flatnonzero(flat == i)) for i in range(num)]


@lowering("DynamicStitch", "ParallelDynamicStitch")
def _dynamic_stitch(ctx, node, inputs):
    # merged[indices[m][i]] = data[m][i]; a later write wins. Rows no index names are 0.
    n = len(inputs) // 2
    index_values = [_constant(ctx, node, x, "indices") for x in inputs[:n]]
    data = inputs[n:]
    rest = None
    table, at, writer = [], 0, {}
    for k, (ids, d) in enumerate(zip(index_values, data)):
        if d.shape.dims[:ids.ndim] != ids.shape:
            ctx.error(node, f"data {k} {d.shape.short()} must start with the dims of "
                            f"indices {k} {list(ids.shape)}")
        tail = d.shape.dims[ids.ndim:]
        if rest is not None and tail != rest:
            ctx.error(node, f"data {k} has slices of shape {list(tail)}, others {list(rest)}")
        rest = tail
        flat = ctx.b.reshape(d, (ids.size,) + tail)
        table.append(flat)
        for i, target in enumerate(ids.ravel()):
            if target < 0:
                ctx.error(node, f"index {int(target)} is negative")
            writer[int(target)] = at + i
        at += ids.size
    size = max(writer) + 1 if writer else 0
    ctx.check_folded_size(node, size)  # the row table below is built at compile time
    t = data[0].shape.element_type
    table.append(ctx.full(0, t, (1,) + rest))
    ctx.check_folded_size(node, size)  # the pick table below has one entry per row
    picks = np.full(size, at, np.int64)
    picks[list(writer)] = list(writer.values())
    merged = ctx.b.concatenate(table, 0)
    return gather_along_axis(ctx, node, merged, ctx.b.constant(np.asarray(picks, np.int64)),
                             0, 0)
