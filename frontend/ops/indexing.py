"""Indexing ops: gathers, scatters and segment reductions, top-k, image resizing,
space/depth shuffles and mirror padding.

Index-driven ops lower to XLA's gather/scatter/sort (hlo/indexing.py) the way tf2xla's
kernels do (gather_op.cc, scatter_nd_op.cc, topk_op.cc, image_resize_ops.cc). Two
semantic differences from TensorFlow's CPU kernels are inherent to XLA and documented
rather than emulated: an out-of-range gather index is clamped into range, and an
out-of-range scatter index drops its update, where TensorFlow raises an error at run time
(negative segment ids are dropped by both).
Indices that are compile-time constants are checked here instead, with an error naming
the node.

Resizes need no indexing at run time: the sampling positions depend only on the static
sizes, so bilinear resizing is two dots with constant interpolation-weight matrices (one
per spatial dimension) and nearest-neighbor resizing a gather with constant indices. The
weights are computed in float32 exactly as TensorFlow's kernels compute them.
"""

from __future__ import annotations

import math

import numpy as np

from ...hlo import Builder, Computation, Instruction, Shape
from ...hlo.builder import sort_comparator
from .registry import lowering, normalize_axis

# -- gathers --------------------------------------------------------------------------


def _check_static_indices(ctx, node, indices: Instruction, bounds) -> None:
    """Constant indices out of [0, bound) are a user error (TF fails on them at run time;
    XLA would silently clamp). `bounds` is one bound per index-vector entry."""
    value = ctx.static_value(indices)
    if value is None or value.size == 0:
        return
    vectors = value.reshape(-1, len(bounds)) if len(bounds) else value.reshape(-1, 0)
    for k, bound in enumerate(bounds):
        bad = (vectors[:, k] < 0) | (vectors[:, k] >= bound)
        if bad.any():
            ctx.error(node, f"constant index {int(vectors[bad, k][0])} is out of range "
                            f"[0, {bound})")


def gather_along_axis(ctx, node, params: Instruction, indices: Instruction, axis: int,
                      batch_dims: int) -> Instruction:
    """TF's GatherV2 semantics as one XLA gather (axis and batch_dims already normalized):
    output = params[:axis] + indices[batch_dims:] + params[axis + 1:], where the first
    batch_dims dimensions of params and indices are matched pairwise."""
    b = ctx.b
    rank, index_rank = params.shape.rank, indices.shape.rank
    if not indices.shape.element_type.is_integer:
        ctx.error(node, f"indices must be integers, got {indices.shape.element_type}")
    if params.shape.dims[:batch_dims] != indices.shape.dims[:batch_dims]:
        ctx.error(node, f"the first {batch_dims} dimensions of params {list(params.shape.dims)} "
                        f"and indices {list(indices.shape.dims)} must be equal (batch_dims)")
    out_dims = (params.shape.dims[:axis] + indices.shape.dims[batch_dims:]
                + params.shape.dims[axis + 1:])
    _check_static_indices(ctx, node, indices, [params.shape.dims[axis]])
    if params.shape.dims[axis] == 0:
        if int(np.prod(out_dims)):
            ctx.error(node, f"gathers from dimension {axis} of size 0")
        return ctx.full(0, params.shape.element_type, out_dims)
    if batch_dims:
        # Each batch position gathers from its own slice of params: spell the batch
        # coordinates out as leading entries of every index vector (iota along each).
        vector_dims = indices.shape.dims + (1,)
        t = indices.shape.element_type
        parts = [b.iota(Shape(t, vector_dims), d) for d in range(batch_dims)]
        indices = b.concatenate(parts + [b.reshape(indices, vector_dims)], index_rank)
    collapsed = list(range(batch_dims)) + [axis]
    out_rank = rank - 1 + index_rank - batch_dims
    return b.gather(
        params, indices,
        offset_dims=list(range(batch_dims, axis)) + list(range(axis + index_rank - batch_dims,
                                                               out_rank)),
        collapsed_slice_dims=collapsed,
        start_index_map=collapsed,
        index_vector_dim=index_rank,
        slice_sizes=[1 if d in collapsed else n for d, n in enumerate(params.shape.dims)])


def gather_v2(ctx, node, params: Instruction, indices: Instruction, axis: int) -> Instruction:
    """GatherV2 (and ResourceGather) with `axis` and the node's batch_dims normalized."""
    if params.shape.rank == 0:
        ctx.error(node, "params must have rank >= 1")
    axis = normalize_axis(ctx, node, axis, params.shape.rank)
    given = ctx.attr(node, "batch_dims", 0)
    batch_dims = given + indices.shape.rank if given < 0 else given
    if not 0 <= batch_dims <= min(axis, indices.shape.rank):
        ctx.error(node, f"batch_dims {given} must be in "
                        f"[0, min(axis {axis}, indices rank {indices.shape.rank})]")
    return gather_along_axis(ctx, node, params, indices, axis, batch_dims)


@lowering("GatherNd")
def _gather_nd(ctx, node, inputs):
    # indices[..., :N] are index vectors into the first N dims of params; each picks the
    # slice params[i0, ..., iN-1, ...].
    params, indices = inputs
    if indices.shape.rank == 0 or not indices.shape.element_type.is_integer:
        ctx.error(node, f"indices must be an integer tensor of rank >= 1, got "
                        f"{indices.shape.short()}")
    depth = indices.shape.dims[-1]
    if depth > params.shape.rank:
        ctx.error(node, f"index vectors of length {depth} exceed the rank of params "
                        f"{list(params.shape.dims)}")
    out_dims = indices.shape.dims[:-1] + params.shape.dims[depth:]
    _check_static_indices(ctx, node, indices, params.shape.dims[:depth])
    if 0 in params.shape.dims[:depth]:
        if int(np.prod(out_dims)):
            ctx.error(node, f"gathers from an empty dimension of params {list(params.shape.dims)}")
        return ctx.full(0, params.shape.element_type, out_dims)
    batch_rank = indices.shape.rank - 1
    return ctx.b.gather(
        params, indices,
        offset_dims=range(batch_rank, batch_rank + params.shape.rank - depth),
        collapsed_slice_dims=range(depth), start_index_map=range(depth),
        index_vector_dim=batch_rank,
        slice_sizes=[1] * depth + list(params.shape.dims[depth:]))


# -- scatters -------------------------------------------------------------------------


def scatter_nd(ctx, node, operand: Instruction, indices: Instruction, updates: Instruction,
               opcode: str | None) -> Instruction:
    """`operand` with each slice of `updates` combined in at indices[..., :N] by the
    binary `opcode` (current, update), or replacing it when `opcode` is None: the
    tensor_scatter_* semantics."""
    if indices.shape.rank == 0 or not indices.shape.element_type.is_integer:
        ctx.error(node, f"indices must be an integer tensor of rank >= 1, got "
                        f"{indices.shape.short()}")
    depth = indices.shape.dims[-1]
    dims = operand.shape.dims
    want = indices.shape.dims[:-1] + dims[depth:]
    if depth > len(dims) or updates.shape.dims != want:
        ctx.error(node, f"updates {list(updates.shape.dims)} must have shape {list(want)} "
                        f"(indices {list(indices.shape.dims)}, output {list(dims)})")
    if updates.shape.element_type != operand.shape.element_type:
        ctx.error(node, f"updates are {updates.shape.element_type}, the output "
                        f"{operand.shape.element_type}")
    _check_static_indices(ctx, node, indices, dims[:depth])
    if updates.shape.num_elements == 0:
        return operand
    if 0 in dims[:depth]:
        ctx.error(node, f"scatters into an empty dimension of {list(dims)}")
    t = operand.shape.element_type
    combiner = _replace_computation(t) if opcode is None else ctx.reducer(opcode, t)
    batch_rank = indices.shape.rank - 1
    return ctx.b.scatter(
        operand, indices, updates, combiner,
        update_window_dims=range(batch_rank, updates.shape.rank),
        inserted_window_dims=range(depth), scatter_dims_to_operand_dims=range(depth),
        index_vector_dim=batch_rank)


@lowering("ScatterNd")
def _scatter_nd(ctx, node, inputs):
    # Zeros with every update added in: duplicate indices accumulate.
    indices, updates, shape_input = inputs
    dims = ctx.static_ints(node, shape_input, "shape")
    if any(d < 0 for d in dims):
        ctx.error(node, f"shape {dims} must be non-negative")
    zeros = ctx.full(0, updates.shape.element_type, dims)
    return scatter_nd(ctx, node, zeros, indices, updates, "add")


@lowering("SparseToDense")
def _sparse_to_dense(ctx, node, inputs):
    # default_value everywhere, then each value written at its index (a scalar index or
    # vector for 1-D outputs, else one row of sparse_indices per value).
    indices, shape_input, values, default = inputs
    dims = ctx.static_ints(node, shape_input, "output_shape")
    b = ctx.b
    count = indices.shape.dims[0] if indices.shape.rank else 1
    depth = indices.shape.dims[1] if indices.shape.rank == 2 else 1
    if depth != len(dims) or indices.shape.rank > 2:
        ctx.error(node, f"sparse_indices {indices.shape.short()} do not index a tensor of "
                        f"rank {len(dims)}")
    indices = b.reshape(indices, (count, depth))
    if values.shape.rank == 0:
        values = b.broadcast(values, (count,), ())
    elif values.shape.dims != (count,):
        ctx.error(node, f"sparse_values {values.shape.short()} must be a scalar or [{count}]")
    base = b.broadcast(b.reshape(default, ()), dims, ())
    return scatter_nd(ctx, node, base, indices, values, None)


def _replace_computation(element_type) -> Computation:
    """(current, update) -> update: the combiner of tensor_scatter_update."""
    b = Builder(f"replace_{element_type.name}")
    suffix = next(Instruction._ids)  # parameter names are module-wide in HLO
    b.parameter(Shape(element_type), f"current.{suffix}")
    b.parameter(Shape(element_type), f"update.{suffix}")
    return b.build()


#: TensorScatter* op -> the binary opcode combining (current, update); None replaces.
_TENSOR_SCATTERS = {"TensorScatterUpdate": None, "TensorScatterAdd": "add",
                    "TensorScatterSub": "subtract", "TensorScatterMax": "maximum",
                    "TensorScatterMin": "minimum"}


@lowering(*_TENSOR_SCATTERS)
def _tensor_scatter(ctx, node, inputs):
    # Subtraction combines as current - update, which is what TensorScatterSub means.
    tensor, indices, updates = inputs
    return scatter_nd(ctx, node, tensor, indices, updates, _TENSOR_SCATTERS[node.op])


#: UnsortedSegment* op -> (combining opcode, value of an empty segment).
_SEGMENT_REDUCTIONS = {"UnsortedSegmentSum": ("add", "zero"),
                       "UnsortedSegmentProd": ("multiply", "one"),
                       "UnsortedSegmentMax": ("maximum", "lowest"),
                       "UnsortedSegmentMin": ("minimum", "highest")}


#: Segment* op -> the UnsortedSegment* op it reduces like.
_SORTED_SEGMENT_REDUCTIONS = {"SegmentSum": "UnsortedSegmentSum",
                              "SegmentProd": "UnsortedSegmentProd",
                              "SegmentMax": "UnsortedSegmentMax",
                              "SegmentMin": "UnsortedSegmentMin"}


def _identity_value(kind: str, t):
    """0, 1, or the type's finite extremes (TF fills empty max/min segments with
    NumTraits<T>::lowest()/highest(), not with infinities)."""
    if kind in ("zero", "one"):
        return 0 if kind == "zero" else 1
    info = np.finfo(t.np_dtype) if t.is_float else np.iinfo(t.np_dtype)
    return info.min if kind == "lowest" else info.max


@lowering(*_SEGMENT_REDUCTIONS, *(op + "V2" for op in _SORTED_SEGMENT_REDUCTIONS))
def _unsorted_segment(ctx, node, inputs):
    # Segment*V2 (sorted ids and a num_segments input, XLA-only ops) reduce the same way.
    # output[s, ...] = reduce of data[i..., ...] over every i with segment_ids[i...] == s:
    # a scatter of data into the reduction's identity, one segment id per index "vector"
    # (an implicit trailing dimension). Negative ids are dropped, as in TF.
    data, ids, num_input = inputs
    num_segments = ctx.static_int(node, num_input, "num_segments")
    rank = ids.shape.rank
    if data.shape.dims[:rank] != ids.shape.dims or not ids.shape.element_type.is_integer:
        ctx.error(node, f"segment_ids {ids.shape.short()} must be integers shaped like a "
                        f"prefix of data {list(data.shape.dims)}")
    if num_segments < 0:
        ctx.error(node, f"num_segments must be non-negative, got {num_segments}")
    opcode, identity = _SEGMENT_REDUCTIONS[_SORTED_SEGMENT_REDUCTIONS.get(node.op[:-2], node.op)]
    t = data.shape.element_type
    dims = [num_segments, *data.shape.dims[rank:]]
    _check_static_indices(ctx, node, ids, [num_segments])
    init = ctx.full(_identity_value(identity, t), t, dims)
    if data.shape.num_elements == 0 or num_segments == 0:
        return init
    return ctx.b.scatter(init, ids, data, ctx.reducer(opcode, t),
                         update_window_dims=range(rank, data.shape.rank),
                         inserted_window_dims=[0], scatter_dims_to_operand_dims=[0],
                         index_vector_dim=rank)


# -- sorting --------------------------------------------------------------------------


@lowering("TopKV2", "TopK")
def _top_k(ctx, node, inputs):
    # A stable descending sort of (values, iota) along the last dim, then the first k:
    # equal values keep their index order, which is TF's tie-break (lower index first).
    if node.op == "TopK":
        (x,), k = inputs, ctx.attr(node, "k")
    else:
        x, k_input = inputs
        k = ctx.static_int(node, k_input, "k")
    if x.shape.rank == 0:
        ctx.error(node, "input must have rank >= 1")
    n = x.shape.dims[-1]
    if not 0 <= k <= n:
        ctx.error(node, f"k = {k} must be in [0, {n}] (the size of the last dimension)")
    b = ctx.b
    index_type = ctx.dtype(node, "index_type", np.int32)
    last = x.shape.rank - 1
    positions = b.iota(Shape(index_type, x.shape.dims), last)
    comparator = sort_comparator([x.shape.element_type, index_type], "GT")
    ordered = b.sort([x, positions], last, comparator, is_stable=True)
    limits = list(x.shape.dims[:-1]) + [k]
    return [b.slice(b.get_tuple_element(ordered, i), [0] * x.shape.rank, limits)
            for i in range(2)]


@lowering("ApproxTopK")
def _approx_top_k(ctx, node, inputs):
    # The exact top k (a valid answer for any recall target; XLA's CPU fallback is exact
    # too) along reduction_dimension, largest or (is_max_k false) smallest first.
    (x,) = inputs
    k = ctx.attr(node, "k")
    if x.shape.rank == 0:
        ctx.error(node, "input must have rank >= 1")
    axis = normalize_axis(ctx, node, ctx.attr(node, "reduction_dimension", -1), x.shape.rank,
                          "reduction_dimension")
    n = x.shape.dims[axis]
    if not 0 <= k <= n:
        ctx.error(node, f"k = {k} must be in [0, {n}]")
    b = ctx.b
    positions = b.iota(Shape("s32", x.shape.dims), axis)
    direction = "GT" if ctx.attr(node, "is_max_k", True) else "LT"
    comparator = sort_comparator([x.shape.element_type, positions.shape.element_type],
                                 direction)
    ordered = b.sort([x, positions], axis, comparator, is_stable=True)
    limits = list(x.shape.dims)
    limits[axis] = k
    return [b.slice(b.get_tuple_element(ordered, i), [0] * x.shape.rank, limits)
            for i in range(2)]


# -- image resizing -------------------------------------------------------------------


def _resize_args(ctx, node, inputs):
    images, size_input = inputs
    if images.shape.rank != 4:
        ctx.error(node, f"images must be 4-D [batch, height, width, channels], got "
                        f"{list(images.shape.dims)}")
    size = ctx.static_ints(node, size_input, "size")
    if len(size) != 2 or min(size) <= 0:
        ctx.error(node, f"size must be two positive integers, got {size}")
    align_corners = ctx.attr(node, "align_corners", False)
    half_pixel = ctx.attr(node, "half_pixel_centers", False)
    if align_corners and half_pixel:
        ctx.error(node, "align_corners and half_pixel_centers cannot both be true")
    if 0 in images.shape.dims[1:3]:
        ctx.error(node, f"cannot resize images of size {list(images.shape.dims[1:3])}")
    return images, size, align_corners, half_pixel


def _resize_scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    """TensorFlow's CalculateResizeScale, in float32."""
    if align_corners and out_size > 1:
        return np.float32(in_size - 1) / np.float32(out_size - 1)
    return np.float32(in_size) / np.float32(out_size)


def bilinear_weights(in_size: int, out_size: int, align_corners: bool,
                     half_pixel: bool) -> np.ndarray:
    """[out_size, in_size] float32: row i holds the two taps of output position i and their
    weights (1 - lerp, lerp), computed as TensorFlow's compute_interpolation_weights does."""
    scale = _resize_scale(in_size, out_size, align_corners)
    weights = np.zeros((out_size, in_size), np.float32)
    half, one = np.float32(0.5), np.float32(1)
    for i in range(out_size):
        x = (np.float32(i) + half) * scale - half if half_pixel else np.float32(i) * scale
        floor = np.floor(x)
        lower = max(int(floor), 0)
        upper = min(int(np.ceil(x)), in_size - 1)
        lerp = np.float32(x - floor)
        weights[i, lower] += one - lerp
        weights[i, upper] += lerp
    return weights


def nearest_indices(in_size: int, out_size: int, align_corners: bool,
                    half_pixel: bool) -> np.ndarray:
    """The input position each output position copies (TensorFlow's NN resize rule)."""
    scale = _resize_scale(in_size, out_size, align_corners)
    result = []
    for i in range(out_size):
        # The half-pixel rule for nearest neighbor has no "- 0.5" (HalfPixelScalerForNN).
        position = np.float32(i) + np.float32(0.5) if half_pixel else np.float32(i)
        x = float(position * scale)
        if align_corners:
            index = math.floor(x) + (1 if x - math.floor(x) >= 0.5 else 0)  # roundf
        else:
            index = math.floor(x)
        index = min(index, in_size - 1)
        result.append(max(index, 0) if half_pixel else index)
    return np.array(result, np.int32)


@lowering("ResizeBilinear")
def _resize_bilinear(ctx, node, inputs):
    images, (out_h, out_w), align_corners, half_pixel = _resize_args(ctx, node, inputs)
    b = ctx.b
    x = images if images.shape.element_type.name == "f32" else b.convert(images, "f32")
    _, in_h, in_w, _ = x.shape.dims
    # out[n, y, x, c] = sum_h sum_w Wh[y, h] Ww[x, w] in[n, h, w, c]: a dot per dimension.
    wh = bilinear_weights(in_h, out_h, align_corners, half_pixel)
    ww = bilinear_weights(in_w, out_w, align_corners, half_pixel)
    if wh.shape[0] == wh.shape[1] and np.array_equal(wh, np.eye(in_h, dtype=np.float32)):
        rows = b.transpose(x, [1, 0, 2, 3])  # [OH, N, W, C], as the dot below gives
    else:
        rows = b.dot(b.constant(wh), x, lhs_contracting=[1], rhs_contracting=[1])
    if ww.shape[0] == ww.shape[1] and np.array_equal(ww, np.eye(in_w, dtype=np.float32)):
        both = b.transpose(rows, [0, 1, 3, 2])  # [OH, N, C, OW]
    else:
        both = b.dot(rows, b.constant(ww), lhs_contracting=[2], rhs_contracting=[1])
    return b.transpose(both, [1, 0, 3, 2])  # [N, OH, OW, C]


@lowering("ResizeNearestNeighbor")
def _resize_nearest(ctx, node, inputs):
    images, (out_h, out_w), align_corners, half_pixel = _resize_args(ctx, node, inputs)
    x = images
    for axis, out_size in ((1, out_h), (2, out_w)):
        in_size = x.shape.dims[axis]
        picks = nearest_indices(in_size, out_size, align_corners, half_pixel)
        if out_size == in_size and np.array_equal(picks, np.arange(in_size)):
            continue
        x = gather_along_axis(ctx, node, x, ctx.b.constant(picks), axis, 0)
    return x


# -- space/depth shuffles -------------------------------------------------------------


def _block_args(ctx, node, inputs):
    x = inputs[0]
    block = ctx.attr(node, "block_size")
    data_format = ctx.attr(node, "data_format", "NHWC")
    if data_format != "NHWC":
        ctx.error(node, f"data_format {data_format} is not supported (only NHWC)")
    if x.shape.rank != 4:
        ctx.error(node, f"input must be 4-D NHWC, got {list(x.shape.dims)}")
    if block < 2:
        ctx.error(node, f"block_size must be at least 2, got {block}")
    return x, block


@lowering("SpaceToDepth")
def _space_to_depth(ctx, node, inputs):
    # [N, H, W, C] -> [N, H/b, b, W/b, b, C] -> [N, H/b, W/b, b, b, C] -> [N, H/b, W/b, b*b*C]
    x, block = _block_args(ctx, node, inputs)
    n, h, w, c = x.shape.dims
    if h % block or w % block:
        ctx.error(node, f"height {h} and width {w} must be divisible by block_size {block}")
    b = ctx.b
    split = b.reshape(x, [n, h // block, block, w // block, block, c])
    moved = b.transpose(split, [0, 1, 3, 2, 4, 5])
    return b.reshape(moved, [n, h // block, w // block, block * block * c])


@lowering("DepthToSpace")
def _depth_to_space(ctx, node, inputs):
    # [N, H, W, b*b*C] -> [N, H, W, b, b, C] -> [N, H, b, W, b, C] -> [N, H*b, W*b, C]
    x, block = _block_args(ctx, node, inputs)
    n, h, w, c = x.shape.dims
    if c % (block * block):
        ctx.error(node, f"depth {c} must be divisible by block_size^2 = {block * block}")
    depth = c // (block * block)
    b = ctx.b
    split = b.reshape(x, [n, h, w, block, block, depth])
    moved = b.transpose(split, [0, 1, 3, 2, 4, 5])
    return b.reshape(moved, [n, h * block, w * block, depth])


# -- mirror padding -------------------------------------------------------------------

#: mode -> how far the mirror starts from the edge: REFLECT leaves the edge element out
#: ([1 2 3] -> 3 2 | 1 2 3 | 2 1), SYMMETRIC repeats it (2 1 | 1 2 3 | 3 2).
_MIRROR_OFFSET = {"REFLECT": 1, "SYMMETRIC": 0}


@lowering("MirrorPad")
def _mirror_pad(ctx, node, inputs):
    # One dimension at a time (later dimensions mirror the already padded ones, which is
    # what fills the corners), each as reverse(slice) | x | reverse(slice).
    x, paddings_input = inputs
    mode = ctx.attr(node, "mode")
    if mode not in _MIRROR_OFFSET:
        ctx.error(node, f"mode must be REFLECT or SYMMETRIC, got {mode!r}")
    offset = _MIRROR_OFFSET[mode]
    paddings = ctx.static_value(paddings_input)
    if paddings is None:
        ctx.error(node, "paddings input must be a constant")
    if paddings.shape != (x.shape.rank, 2):
        ctx.error(node, f"paddings must have shape [{x.shape.rank}, 2], got "
                        f"{list(paddings.shape)}")
    b = ctx.b
    for d, (low, high) in enumerate(paddings.tolist()):
        n = x.shape.dims[d]
        bound = max(n - offset, 0)
        if min(low, high) < 0 or max(low, high) > bound:
            ctx.error(node, f"paddings ({low}, {high}) of dimension {d} must be in "
                            f"[0, {bound}] for {mode} mode and size {n}")
        parts = []
        for start, stop in ((offset, offset + low), (n - offset - high, n - offset)):
            starts, limits = [0] * x.shape.rank, list(x.shape.dims)
            starts[d], limits[d] = start, stop
            parts.append(b.reverse(b.slice(x, starts, limits), [d]) if stop > start else None)
        pieces = [p for p in (parts[0], x, parts[1]) if p is not None]
        x = pieces[0] if len(pieces) == 1 else b.concatenate(pieces, d)
    return x
