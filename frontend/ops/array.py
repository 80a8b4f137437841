"""Array ops: constants, shapes, and data movement (reshape, transpose, concat, slices,
padding, tiling, selection).

Shape-like inputs (Reshape's shape, Transpose's perm, ConcatV2's axis, ...) must be
compile-time constants: `ctx.static_ints` reads them and reports the node otherwise.
Since every shape is static, Shape/Size/Rank lower to constants, so graphs that compute
shapes (tf.shape(x)[0] fed to Reshape) still see constants downstream.
"""

from __future__ import annotations

import numpy as np

from .registry import lowering, normalize_axis, single, to_hlo_dtype
from .indexing import gather_v2

# -- constants and shapes -------------------------------------------------------------


@lowering("Const")
def _const(ctx, node, inputs):
    value = ctx.attr(node, "value")
    declared = ctx.attr(node, "dtype")
    if np.dtype(declared) != value.dtype:  # TF's Const kernel rejects this too
        ctx.error(node, f"attr 'dtype' is {np.dtype(declared).name} but its value tensor is "
                        f"{value.dtype.name}")
    t = to_hlo_dtype(value.dtype, lambda msg: ctx.error(node, msg))
    return ctx.b.constant(value, t)


def _int_constant(ctx, node, value):
    out_type = ctx.dtype(node, "out_type", np.int32)
    return ctx.b.constant(np.asarray(value, dtype=np.int64), out_type)


@lowering("Shape")
def _shape(ctx, node, inputs):
    return _int_constant(ctx, node, single(inputs).shape.dims)


@lowering("ShapeN")
def _shape_n(ctx, node, inputs):
    return [_int_constant(ctx, node, x.shape.dims) for x in inputs]


@lowering("Size")
def _size(ctx, node, inputs):
    return _int_constant(ctx, node, single(inputs).shape.num_elements)


@lowering("Rank")
def _rank(ctx, node, inputs):
    return ctx.b.constant(np.int32(single(inputs).shape.rank))


@lowering("Fill")
def _fill(ctx, node, inputs):
    dims_input, value = inputs
    dims = ctx.static_ints(node, dims_input, "dims")
    if any(d < 0 for d in dims):
        ctx.error(node, f"dims {dims} must not be negative")
    if value.shape.rank != 0:
        ctx.error(node, f"value must be a scalar, got shape {list(value.shape.dims)}")
    return ctx.b.broadcast(value, dims, ())


@lowering("ZerosLike")
def _zeros_like(ctx, node, inputs):
    return ctx.full_like(single(inputs), 0)


@lowering("OnesLike")
def _ones_like(ctx, node, inputs):
    return ctx.full_like(single(inputs), 1)


@lowering("Range")
def _range(ctx, node, inputs):
    start, limit, delta = (ctx.static_scalar(node, x, what)
                           for x, what in zip(inputs, ("start", "limit", "delta")))
    if delta == 0:
        ctx.error(node, "delta must not be 0")
    if (limit - start) * delta < 0:  # as TensorFlow's kernel says it
        ctx.error(node, f"requires start {'<=' if delta > 0 else '>='} limit when delta is "
                        f"{delta}, got start {start} and limit {limit}")
    count = int(np.ceil(abs((limit - start) / delta)))
    ctx.check_folded_size(node, count)
    t = ctx.dtype(node, "Tidx", np.int32)
    return ctx.b.constant(np.arange(start, limit, delta).astype(t.np_dtype), t)


# -- reshaping ------------------------------------------------------------------------


@lowering("Reshape")
def _reshape(ctx, node, inputs):
    x, shape_input = inputs
    dims = ctx.static_ints(node, shape_input, "shape")
    if dims.count(-1) > 1:
        ctx.error(node, f"shape {dims} has more than one -1")
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1]))
        if known == 0 or x.shape.num_elements % known:
            ctx.error(node, f"cannot reshape {list(x.shape.dims)} to {dims}")
        dims[dims.index(-1)] = x.shape.num_elements // known
    if any(d < 0 for d in dims) or int(np.prod(dims)) != x.shape.num_elements:
        ctx.error(node, f"cannot reshape a tensor of shape {list(x.shape.dims)} "
                        f"({x.shape.num_elements} elements) to {dims}")
    return ctx.b.reshape(x, dims)


@lowering("Squeeze")
def _squeeze(ctx, node, inputs):
    # No squeeze_dims: drop every size-1 dim.
    x = single(inputs)
    rank = x.shape.rank
    axes = ctx.attr(node, "squeeze_dims", [])
    if axes:
        axes = {normalize_axis(ctx, node, a, rank, "squeeze dim") for a in axes}
        for a in axes:
            if x.shape.dims[a] != 1:
                ctx.error(node, f"cannot squeeze dim {a} of size {x.shape.dims[a]}")
    else:
        axes = {d for d, n in enumerate(x.shape.dims) if n == 1}
    return ctx.b.reshape(x, [n for d, n in enumerate(x.shape.dims) if d not in axes])


@lowering("ExpandDims")
def _expand_dims(ctx, node, inputs):
    x, dim_input = inputs
    values = ctx.static_ints(node, dim_input, "dim")
    if len(values) != 1:
        ctx.error(node, f"dim must hold exactly one value, got {values}")
    # The new axis may also go after the last dim, hence rank + 1.
    axis = normalize_axis(ctx, node, values[0], x.shape.rank + 1, "dim")
    dims = list(x.shape.dims)
    dims.insert(axis, 1)
    return ctx.b.reshape(x, dims)


@lowering("Transpose")
def transpose(ctx, node, inputs):
    """Transpose's rule, also ConjugateTranspose's first step (ops/complex.py)."""
    x, perm_input = inputs
    perm = ctx.static_ints(node, perm_input, "perm")
    if sorted(perm) != list(range(x.shape.rank)):
        ctx.error(node, f"perm {perm} is not a permutation of the {x.shape.rank} input dims")
    if perm == sorted(perm):
        return x
    return ctx.b.transpose(x, perm)


@lowering("BroadcastTo")
def _broadcast_to(ctx, node, inputs):
    x, shape_input = inputs
    dims = ctx.static_ints(node, shape_input, "shape")
    try:
        return ctx.b.broadcast_to(x, dims)
    except ValueError as e:
        ctx.error(node, str(e))


# -- joining and splitting ------------------------------------------------------------


def _concat(ctx, node, values, axis_input):
    axes = ctx.static_ints(node, axis_input, "axis")
    if len(axes) != 1:
        ctx.error(node, f"axis must be a scalar, got {axes}")
    axis = normalize_axis(ctx, node, axes[0], values[0].shape.rank, "concat axis")
    for v in values:
        same = all(a == b for d, (a, b) in enumerate(zip(v.shape.dims, values[0].shape.dims))
                   if d != axis)
        if v.shape.rank != values[0].shape.rank or not same:
            ctx.error(node, "inputs must match outside the concat axis, got shapes "
                            + ", ".join(str(list(u.shape.dims)) for u in values))
    if len(values) == 1:
        return values[0]
    return ctx.b.concatenate(values, axis)


@lowering("ConcatV2")
def _concat_v2(ctx, node, inputs):
    return _concat(ctx, node, inputs[:-1], inputs[-1])


@lowering("Concat")
def _concat_v1(ctx, node, inputs):
    return _concat(ctx, node, inputs[1:], inputs[0])


@lowering("Pack")
def _pack(ctx, node, inputs):
    dims = list(inputs[0].shape.dims)
    axis = normalize_axis(ctx, node, ctx.attr(node, "axis", 0), len(dims) + 1, "axis")
    dims.insert(axis, 1)
    for x in inputs:
        if x.shape.dims != inputs[0].shape.dims:
            ctx.error(node, "inputs must have equal shapes, got "
                            + ", ".join(str(list(u.shape.dims)) for u in inputs))
    parts = [ctx.b.reshape(x, dims) for x in inputs]
    return parts[0] if len(parts) == 1 else ctx.b.concatenate(parts, axis)


def _split_along(ctx, x, axis, sizes):
    """Slices of `x` along `axis` with the given sizes, in order."""
    parts, start = [], 0
    for size in sizes:
        starts = [0] * x.shape.rank
        limits = list(x.shape.dims)
        starts[axis], limits[axis] = start, start + size
        parts.append(ctx.b.slice(x, starts, limits))
        start += size
    return parts


@lowering("Unpack")
def _unpack(ctx, node, inputs):
    x = single(inputs)
    axis = normalize_axis(ctx, node, ctx.attr(node, "axis", 0), x.shape.rank, "axis")
    dims = [n for d, n in enumerate(x.shape.dims) if d != axis]
    return [ctx.b.reshape(p, dims) for p in _split_along(ctx, x, axis, [1] * x.shape.dims[axis])]


@lowering("Split")
def _split(ctx, node, inputs):
    axis_input, x = inputs
    axis = ctx.static_int(node, axis_input, "split_dim")
    axis = normalize_axis(ctx, node, axis, x.shape.rank, "split_dim")
    num = ctx.attr(node, "num_split")
    if x.shape.dims[axis] % num:
        ctx.error(node, f"dimension {axis} of size {x.shape.dims[axis]} is not divisible "
                        f"into {num} splits")
    return _split_along(ctx, x, axis, [x.shape.dims[axis] // num] * num)


@lowering("SplitV")
def _split_v(ctx, node, inputs):
    x, sizes_input, axis_input = inputs
    axis = ctx.static_int(node, axis_input, "split_dim")
    axis = normalize_axis(ctx, node, axis, x.shape.rank, "split_dim")
    sizes = ctx.static_ints(node, sizes_input, "size_splits")
    total = x.shape.dims[axis]
    if sizes.count(-1) == 1:
        sizes[sizes.index(-1)] = total - (sum(sizes) + 1)
    if sum(sizes) != total or any(s < 0 for s in sizes):
        ctx.error(node, f"size_splits {sizes} do not add up to dimension {axis} ({total})")
    return _split_along(ctx, x, axis, sizes)


# -- slicing, padding, tiling ---------------------------------------------------------


@lowering("Slice")
def _slice(ctx, node, inputs):
    x, begin_input, size_input = inputs
    begin = ctx.static_ints(node, begin_input, "begin")
    size = ctx.static_ints(node, size_input, "size")
    if len(begin) != x.shape.rank or len(size) != x.shape.rank:
        ctx.error(node, f"begin and size need {x.shape.rank} entries")
    limits = [b + (n - b if s == -1 else s) for b, s, n in zip(begin, size, x.shape.dims)]
    for b, lim, n in zip(begin, limits, x.shape.dims):
        if not 0 <= b <= lim <= n:
            ctx.error(node, f"slice begin {begin} size {size} is out of bounds for "
                            f"shape {list(x.shape.dims)}")
    return ctx.b.slice(x, begin, limits)


@lowering("StridedSlice")
def _strided_slice(ctx, node, inputs):
    # Canonicalize TF's sparse spec (masks, ellipsis, new axes, shrinks) into one Python
    # slice per input dim plus the output dims, then: reverse the dims with negative
    # strides, one HLO slice, one reshape (new axes and shrunk dims are size 1).
    x, begin_in, end_in, strides_in = inputs
    if ctx.static_value(begin_in) is None:
        return _dynamic_strided_slice(ctx, node, x, begin_in, strides_in)
    begin = ctx.static_ints(node, begin_in, "begin")
    end = ctx.static_ints(node, end_in, "end")
    strides = ctx.static_ints(node, strides_in, "strides")
    if not len(begin) == len(end) == len(strides):
        ctx.error(node, f"begin, end and strides must have the same length, got {begin}, "
                        f"{end} and {strides}")
    masks = {m: ctx.attr(node, m, 0) for m in
             ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")}
    bit = lambda m, i: (masks[m] >> i) & 1  # noqa: E731
    rank = x.shape.rank
    n_sparse = len(begin)
    consuming = sum(1 for i in range(n_sparse)
                    if not bit("ellipsis_mask", i) and not bit("new_axis_mask", i))
    if masks["ellipsis_mask"] & (masks["ellipsis_mask"] - 1):
        ctx.error(node, "only one ellipsis is allowed")
    spec = []  # per input dim: (start, stop, stride, shrink)
    out_dims = []
    dim = 0
    entries = list(range(n_sparse))
    if not masks["ellipsis_mask"]:
        entries.append("...")  # an implicit trailing ellipsis covers unnamed dims
    for i in entries:
        if i == "..." or bit("ellipsis_mask", i):
            for _ in range(rank - consuming):
                spec.append((0, x.shape.dims[dim], 1, False))
                out_dims.append(x.shape.dims[dim])
                dim += 1
            continue
        if bit("new_axis_mask", i):
            out_dims.append(1)
            continue
        if dim >= rank:
            ctx.error(node, f"slice spec has more dims than the input's rank {rank}")
        size, stride = x.shape.dims[dim], strides[i]
        if stride == 0:
            ctx.error(node, "strides must be nonzero")
        if bit("shrink_axis_mask", i):
            index = begin[i] + size if begin[i] < 0 else begin[i]
            if not 0 <= index < size:
                ctx.error(node, f"index {begin[i]} is out of bounds for dim {dim} of size {size}")
            spec.append((index, index + 1, 1, True))
        else:
            py = slice(None if bit("begin_mask", i) else begin[i],
                       None if bit("end_mask", i) else end[i], stride).indices(size)
            spec.append((*py, False))
            out_dims.append(len(range(*py)))
        dim += 1
    reversed_dims = [d for d, (_, _, s, _) in enumerate(spec) if s < 0]
    if reversed_dims:
        x = ctx.b.reverse(x, reversed_dims)
    starts, limits, steps = [], [], []
    for d, (start, stop, stride, _) in enumerate(spec):
        n = x.shape.dims[d]
        if stride < 0:  # index i of the original is n-1-i of the reversed dim
            start, stop, stride = n - 1 - start, n - 1 - stop, -stride
        starts.append(start)
        limits.append(max(stop, start))
        steps.append(stride)
    if starts != [0] * rank or limits != list(x.shape.dims) or steps != [1] * rank:
        x = ctx.b.slice(x, starts, limits, steps)
    return ctx.b.reshape(x, out_dims)


def _dynamic_strided_slice(ctx, node, x, begin_in, strides_in):
    # x[i] with a computed i (TF1 loop bodies index a tensor with the loop counter), as in
    # tf2xla: each dim either picks one index (shrink_axis) at a run-time position, a
    # dynamic slice, or is taken whole (begin_mask and end_mask).
    masks = {m: ctx.attr(node, m, 0) for m in
             ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")}
    count = begin_in.shape.dims[0] if begin_in.shape.rank == 1 else -1
    strides = ctx.static_ints(node, strides_in, "strides")
    if masks["ellipsis_mask"] or masks["new_axis_mask"] or count > x.shape.rank or any(
            s != 1 for s in strides):
        ctx.error(node, "begin input depends on a graph input; aotc supports that only for "
                        "unit strides without ellipsis or new axes (x[i, :, ...])")
    b, t = ctx.b, begin_in.shape.element_type
    starts, sizes, out_dims = [], [], []
    for dim, size in enumerate(x.shape.dims):
        bit = lambda m: (masks[m] >> dim) & 1 if dim < count else 1  # noqa: E731
        if dim < count and (masks["shrink_axis_mask"] >> dim) & 1:
            index = b.reshape(b.slice(begin_in, [dim], [dim + 1], [1]), [])
            negative = b.compare(index, b.constant(0, t), "LT")
            starts.append(b.select(negative, b.binary("add", index, b.constant(size, t)), index))
            sizes.append(1)
        elif bit("begin_mask") and bit("end_mask"):
            starts.append(b.constant(0, t))
            sizes.append(size)
            out_dims.append(size)
        else:
            ctx.error(node, f"begin input depends on a graph input; dim {dim} must then pick "
                            "one index (x[i]) or be taken whole (x[:, ...])")
    return b.reshape(b.dynamic_slice(x, starts, sizes), out_dims)


def _paddings(ctx, node, x, paddings_input):
    value = ctx.static_value(paddings_input)
    if value is None:
        ctx.error(node, "paddings input must be a constant")
    if value.shape != (x.shape.rank, 2):
        ctx.error(node, f"paddings must have shape [{x.shape.rank}, 2], got {list(value.shape)}")
    if (value < 0).any():
        ctx.error(node, "paddings must be non-negative")
    return [(int(lo), int(hi), 0) for lo, hi in value]


@lowering("Pad")
def _pad(ctx, node, inputs):
    x, paddings_input = inputs
    zero = ctx.b.constant(0, x.shape.element_type)
    return ctx.b.pad(x, zero, _paddings(ctx, node, x, paddings_input))


@lowering("PadV2")
def _pad_v2(ctx, node, inputs):
    x, paddings_input, value = inputs
    return ctx.b.pad(x, value, _paddings(ctx, node, x, paddings_input))


@lowering("Tile")
def _tile(ctx, node, inputs):
    # Broadcast [d0, d1] to [m0, d0, m1, d1] (each copy a new outer dim), then merge pairs.
    x, multiples_input = inputs
    multiples = ctx.static_ints(node, multiples_input, "multiples")
    if len(multiples) != x.shape.rank or any(m < 0 for m in multiples):
        ctx.error(node, f"multiples {multiples} must be {x.shape.rank} non-negative ints")
    if all(m == 1 for m in multiples):
        return x
    wide = [n for pair in zip(multiples, x.shape.dims) for n in pair]
    y = ctx.b.broadcast(x, wide, range(1, 2 * x.shape.rank, 2))
    return ctx.b.reshape(y, [m * n for m, n in zip(multiples, x.shape.dims)])


@lowering("ReverseV2")
def _reverse_v2(ctx, node, inputs):
    x, axes_input = inputs
    axes = ctx.static_ints(node, axes_input, "axis")
    axes = sorted({normalize_axis(ctx, node, a, x.shape.rank) for a in axes})
    return ctx.b.reverse(x, axes) if axes else x


# -- selection ------------------------------------------------------------------------


@lowering("SelectV2")
def _select_v2(ctx, node, inputs):
    cond, a, b = inputs
    try:
        dims = np.broadcast_shapes(cond.shape.dims, a.shape.dims, b.shape.dims)
    except ValueError:
        ctx.error(node, "condition and branches are not broadcast-compatible: "
                        + ", ".join(str(list(u.shape.dims)) for u in inputs))
    return ctx.b.select(*(ctx.b.broadcast_to(v, dims) for v in inputs))


@lowering("Select")
def _select(ctx, node, inputs):
    # V1: the condition matches the branches' shape, is a vector selecting rows, or is
    # a scalar selecting a whole branch.
    cond, a, b = inputs
    if a.shape.dims != b.shape.dims:
        ctx.error(node, "branches must have equal shapes")
    if cond.shape.rank == 0:
        cond = ctx.b.broadcast_to(cond, a.shape.dims)
    elif cond.shape.dims != a.shape.dims:
        if cond.shape.rank != 1 or not a.shape.rank or cond.shape.dims[0] != a.shape.dims[0]:
            ctx.error(node, f"condition shape {list(cond.shape.dims)} must match "
                            f"{list(a.shape.dims)} or its first dimension")
        cond = ctx.b.broadcast(cond, a.shape.dims, [0])
    return ctx.b.select(cond, a, b)


@lowering("OneHot")
def _one_hot(ctx, node, inputs):
    indices, depth_input, on_value, off_value = inputs
    depth = ctx.static_int(node, depth_input, "depth")
    if depth < 0:
        ctx.error(node, f"depth must be non-negative, got {depth}")
    rank = indices.shape.rank
    axis = ctx.attr(node, "axis", -1)
    axis = rank if axis == -1 else normalize_axis(ctx, node, axis, rank + 1)
    dims = list(indices.shape.dims)
    dims.insert(axis, depth)
    b = ctx.b
    position = b.iota(indices.shape.with_dims(dims), axis)
    kept = [d for d in range(rank + 1) if d != axis]
    hit = b.compare(b.broadcast(indices, dims, kept), position, "EQ")
    return b.select(hit, b.broadcast(on_value, dims, ()), b.broadcast(off_value, dims, ()))


@lowering("GatherV2", "Gather")
def _gather(ctx, node, inputs):
    # One XLA gather (frontend/ops/indexing.py); ResourceGather reuses this rule too.
    if node.op == "Gather":
        (params, indices), axis = inputs, 0
    else:
        params, indices, axis_input = inputs
        axis = ctx.static_int(node, axis_input, "axis")
    return gather_v2(ctx, node, params, indices, axis)
