"""Ops that reorder elements: Roll, Reverse (V1), ReverseSequence, InvertPermutation."""

from __future__ import annotations

import numpy as np

from ...hlo import Shape
from .indexing import scatter_nd
from .registry import lowering, normalize_axis, single


@lowering("Roll")
def _roll(ctx, node, inputs):
    # Shifts may be run-time values: each rolled axis is a dynamic slice of the input
    # concatenated with itself, starting at (n - shift mod n) mod n.
    x, shift_input, axis_input = inputs
    axes = ctx.static_ints(node, axis_input, "axis")
    if shift_input.shape.num_elements != len(axes):
        ctx.error(node, f"shift and axis must have the same number of elements, got "
                        f"{shift_input.shape.short()} and {len(axes)}")
    b = ctx.b
    t = shift_input.shape.element_type
    shifts = b.reshape(shift_input, (len(axes),))
    total = {}
    for k, axis in enumerate(axes):
        axis = normalize_axis(ctx, node, axis, x.shape.rank)
        s = b.reshape(b.slice(shifts, (k,), (k + 1,), (1,)), ())
        total[axis] = s if axis not in total else b.binary("add", total[axis], s)
    zero = b.constant(0, t)
    for axis, s in sorted(total.items()):
        n = x.shape.dims[axis]
        if n == 0:
            continue
        size = b.constant(n, t)
        r = b.binary("remainder", s, size)  # in (-n, n)
        start = b.binary("remainder", b.binary("subtract", size, r), size)
        start = b.select(b.compare(start, zero, "LT"), b.binary("add", start, size), start)
        doubled = b.concatenate([x, x], axis)
        starts = [start if d == axis else zero for d in range(x.shape.rank)]
        x = b.dynamic_slice(doubled, starts, x.shape.dims)
    return x


@lowering("Reverse")
def _reverse_v1(ctx, node, inputs):
    # dims is a bool vector, one entry per dimension.
    x, dims_input = inputs
    flags = ctx.static_value(dims_input)
    if flags is None or flags.shape != (x.shape.rank,) or flags.dtype != np.bool_:
        ctx.error(node, f"dims must be a constant bool vector of length {x.shape.rank}")
    axes = [d for d, flag in enumerate(flags) if flag]
    return ctx.b.reverse(x, axes) if axes else x


@lowering("ReverseSequence")
def _reverse_sequence(ctx, node, inputs):
    # out[b, i] = x[b, len[b] - 1 - i] for i < len[b], else x[b, i]: a gather with index
    # vectors (b, i') on x with the batch and sequence dims moved to the front.
    x, lengths = inputs
    rank = x.shape.rank
    seq = normalize_axis(ctx, node, ctx.attr(node, "seq_dim"), rank, "seq_dim")
    batch = normalize_axis(ctx, node, ctx.attr(node, "batch_dim", 0), rank, "batch_dim")
    if seq == batch or lengths.shape.dims != (x.shape.dims[batch],):
        ctx.error(node, f"needs distinct seq_dim and batch_dim and seq_lengths of shape "
                        f"[{x.shape.dims[batch]}], got {lengths.shape.short()}")
    b = ctx.b
    perm = [batch, seq] + [d for d in range(rank) if d not in (batch, seq)]
    front = b.transpose(x, perm)
    nb, ns = x.shape.dims[batch], x.shape.dims[seq]
    t = lengths.shape.element_type
    pos = b.iota(Shape(t, (nb, ns)), 1)
    length = b.broadcast(lengths, (nb, ns), (0,))
    flipped = b.binary("subtract", b.binary("subtract", length, ctx.full(1, t, (nb, ns))), pos)
    picks = b.select(b.compare(pos, length, "LT"), flipped, pos)
    vectors = b.concatenate([b.reshape(b.iota(Shape(t, (nb, ns)), 0), (nb, ns, 1)),
                             b.reshape(picks, (nb, ns, 1))], 2)
    gathered = b.gather(front, vectors, offset_dims=range(2, rank), collapsed_slice_dims=(0, 1),
                        start_index_map=(0, 1), index_vector_dim=2,
                        slice_sizes=[1, 1] + list(front.shape.dims[2:]))
    return b.transpose(gathered, list(np.argsort(perm)))


@lowering("InvertPermutation")
def _invert_permutation(ctx, node, inputs):
    # y[x[i]] = i: a scatter of iota at the indices x.
    x = single(inputs)
    if x.shape.rank != 1 or not x.shape.element_type.is_integer:
        ctx.error(node, f"needs an integer vector, got {x.shape.short()}")
    n = x.shape.dims[0]
    t = x.shape.element_type
    value = ctx.static_value(x)
    if value is not None and sorted(value.tolist()) != list(range(n)):
        ctx.error(node, f"input {value.tolist()} is not a permutation of 0..{n - 1}")
    return scatter_nd(ctx, node, ctx.full(0, t, (n,)), ctx.b.reshape(x, (n, 1)),
                      ctx.b.iota(Shape(t, (n,)), 0), None)
