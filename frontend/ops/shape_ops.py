"""Ops on shapes and layouts: BroadcastArgs, ConcatOffset, DataFormatDimMap,
DataFormatVecPermute, and LinSpace (whose count sets its output shape).

Shapes are static in aotc, so shape inputs are constants and the results are folded;
DataFormat* and LinSpace also accept run-time values."""

from __future__ import annotations

import numpy as np

from ...hlo import Shape
from .indexing import gather_along_axis
from .registry import lowering, single


def _static(ctx, node, inst, what):
    value = ctx.static_value(inst)
    if value is None:
        ctx.error(node, f"{what} must be a constant (shapes are static)")
    return value


@lowering("BroadcastArgs")
def _broadcast_args(ctx, node, inputs):
    s0, s1 = (_static(ctx, node, x, "shape") for x in inputs)
    try:
        dims = np.broadcast_shapes(tuple(s0.tolist()), tuple(s1.tolist()))
    except ValueError:
        ctx.error(node, f"shapes {s0.tolist()} and {s1.tolist()} are not broadcast-compatible")
    return ctx.b.constant(np.asarray(dims, s0.dtype))


@lowering("ConcatOffset")
def _concat_offset(ctx, node, inputs):
    # The offset of each input of a concatenation along concat_dim.
    axis = ctx.static_int(node, inputs[0], "concat_dim")
    shapes = [_static(ctx, node, x, "shape") for x in inputs[1:]]
    rank = len(shapes[0])
    if not -rank <= axis < rank:
        ctx.error(node, f"concat_dim {axis} is out of range for rank {rank}")
    axis %= rank
    offsets, at = [], 0
    for s in shapes:
        offset = np.zeros(rank, s.dtype)
        offset[axis] = at
        at += int(s[axis])
        offsets.append(ctx.b.constant(offset))
    return offsets


def _formats(ctx, node):
    src = ctx.attr(node, "src_format", "NHWC")
    dst = ctx.attr(node, "dst_format", "NCHW")
    src, dst = (f.decode() if isinstance(f, bytes) else f for f in (src, dst))
    if sorted(src) != sorted(dst) or len(set(src)) != len(src):
        ctx.error(node, f"dst_format {dst!r} must be a permutation of src_format {src!r}")
    return src, dst


@lowering("DataFormatDimMap")
def _data_format_dim_map(ctx, node, inputs):
    # A dim index of src_format (maybe negative) -> the index of that dim in dst_format.
    x = single(inputs)
    src, dst = _formats(ctx, node)
    n = len(src)
    table = ctx.b.constant(np.asarray([dst.index(ch) for ch in src], x.shape.element_type
                                      .np_dtype))
    b = ctx.b
    size = ctx.full(n, x.shape.element_type, x.shape.dims)
    wrapped = b.binary("remainder", b.binary("add", b.binary("remainder", x, size), size), size)
    return gather_along_axis(ctx, node, table, wrapped, 0, 0)


@lowering("DataFormatVecPermute")
def _data_format_vec_permute(ctx, node, inputs):
    # A vector (or [n, 2] matrix) in src_format order -> dst_format order; with 2 rows
    # only the spatial dims are present.
    x = single(inputs)
    src, dst = _formats(ctx, node)
    count = x.shape.dims[0] if x.shape.rank else 0
    if count == len(src) - 2:
        src, dst = (f.replace("N", "").replace("C", "") for f in (src, dst))
    if x.shape.rank not in (1, 2) or count != len(src) or x.shape.dims[1:] not in ((), (2,)):
        ctx.error(node, f"input must be a vector or [n, 2] matrix with n = {len(src)} (or "
                        f"{len(src) - 2} spatial dims), got {x.shape.short()}")
    picks = ctx.b.constant(np.asarray([src.index(ch) for ch in dst], np.int32))
    return gather_along_axis(ctx, node, x, picks, 0, 0)


@lowering("LinSpace")
def _lin_space(ctx, node, inputs):
    # TF's kernel: start + i * (stop - start) / (num - 1), and exactly stop at the end.
    start, stop, num_input = inputs
    num = ctx.static_int(node, num_input, "num")
    if num < 1:
        ctx.error(node, f"num must be positive, got {num}")
    b = ctx.b
    t = start.shape.element_type
    start, stop = b.reshape(start, ()), b.reshape(stop, ())
    if num == 1:
        return b.reshape(start, (1,))
    step = b.binary("divide", b.binary("subtract", stop, start), b.constant(num - 1, t))
    ramp = b.binary("add", b.broadcast(start, (num,), ()),
                    b.binary("multiply", b.iota(Shape(t, (num,)), 0),
                             b.broadcast(step, (num,), ())))
    last = b.compare(b.iota(Shape(num_input.shape.element_type, (num,)), 0),
                     ctx.full(num - 1, num_input.shape.element_type, (num,)), "EQ")
    return b.select(last, b.broadcast(stop, (num,), ()), ramp)
