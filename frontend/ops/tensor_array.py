"""TensorFlow 1 TensorArrays (the V3 ops): dynamic_rnn, map_fn and while_loop bodies.

A TF1 TensorArray is a resource `handle` plus a float scalar `flow` that every op takes
and every write returns: the flow orders the ops on the array, and it is what a TF1 loop
carries from one iteration to the next (the handle enters the loop as an invariant).
So here the flow *is* the array: a TensorArray of n elements of shape S is an array of
shape [n, *S], and the handle is a placeholder constant that no rule reads.

    TensorArrayV3(n)                     handle, zeros [n, *S]
    TensorArrayReadV3(h, i, flow)        reshape(dynamic-slice(flow, [i, 0...], [1, *S]), S)
    TensorArrayWriteV3(h, i, x, flow)    dynamic-update-slice(flow, reshape(x, [1, *S]), ...)
    TensorArrayGatherV3(h, idx, flow)    gather rows (flow itself for idx = 0..n-1)
    TensorArrayScatterV3(h, idx, x, flow)  scatter rows (x itself for idx = 0..n-1)
    TensorArrayConcatV3(h, flow)         reshape to [n * S0, S1...], lengths [S0] * n
    TensorArraySplitV3(h, x, lengths, flow)  reshape to [n, L, ...] (equal lengths L)
    TensorArraySizeV3(h, flow)           n, a constant
    TensorArrayCloseV3(h)                nothing

An array made without a fully known element_shape is a `PendingList` until a write says
what its elements are (inside a loop, the While's trial run of its body does; see
ops/tensor_list.py). Arrays that grow (dynamic_size=True) are not supported: aotc needs
the size at compile time. An index out of range is clamped, as XLA's dynamic slices do.
"""

from __future__ import annotations

import numpy as np

from ...hlo import Instruction
from .indexing import gather_along_axis, scatter_nd
from .registry import lowering
from .tensor_list import PendingList


def _known(dims) -> bool:
    return dims is not None and all(d >= 0 for d in dims)


def _array(ctx, node, flow, dims=None) -> Instruction:
    """The flow input as an array; a pending array takes `dims` if they are known."""
    if not isinstance(flow, PendingList):
        if not isinstance(flow, Instruction) or flow.shape.rank == 0:
            ctx.error(node, "the flow input does not come from a TensorArrayV3 of static "
                            "size (aotc follows a TensorArray through its flow tensor)")
        return flow
    if flow.element_dims is None and _known(dims):
        flow.resolve(ctx, node, dims)
    return flow.materialize(ctx, node)


def _element_shape(ctx, node, attr: str = "element_shape"):
    return ctx.attr(node, attr, None)


def _check_type(ctx, node, array: Instruction, attr: str) -> None:
    want = ctx.dtype(node, attr)
    if array.shape.element_type != want:
        ctx.error(node, f"{attr} is {want.name} but the TensorArray holds "
                        f"{array.shape.element_type.name}")


def _is_iota(ctx, indices: Instruction, count: int) -> bool:
    value = ctx.static_value(indices)
    return value is not None and value.shape == (count,) and (value == np.arange(count)).all()


@lowering("TensorArrayV3")
def _tensor_array(ctx, node, inputs):
    (size,) = inputs
    if ctx.attr(node, "dynamic_size", False):
        ctx.error(node, "dynamic_size=True TensorArrays grow at run time; aotc needs a "
                        "fixed size (create it with dynamic_size=False and a static size)")
    count = ctx.static_ints(node, size, "size")
    if len(count) != 1 or count[0] < 0:
        ctx.error(node, f"size must be a non-negative scalar, got {count}")
    element_type = ctx.dtype(node, "dtype")
    dims = _element_shape(ctx, node)
    handle = ctx.b.constant(0, "s32")  # never read: the flow carries the array
    if _known(dims):
        return [handle, ctx.full(0, element_type, [count[0], *dims])]
    return [handle, PendingList(node.name, count[0], element_type)]


@lowering("TensorArrayReadV3")
def _read(ctx, node, inputs):
    _, index, flow = inputs
    array = _array(ctx, node, flow)
    _check_type(ctx, node, array, "dtype")
    dims = list(array.shape.dims[1:])
    if index.shape.rank:
        ctx.error(node, f"index must be a scalar, got shape {list(index.shape.dims)}")
    zero = ctx.b.constant(0, index.shape.element_type)
    item = ctx.b.dynamic_slice(array, [index] + [zero] * len(dims), [1, *dims])
    return ctx.b.reshape(item, dims)


@lowering("TensorArrayWriteV3")
def _write(ctx, node, inputs):
    _, index, value, flow = inputs
    array = _array(ctx, node, flow, value.shape.dims)
    dims = list(array.shape.dims[1:])
    if list(value.shape.dims) != dims or value.shape.element_type != array.shape.element_type:
        ctx.error(node, f"value {value.shape.short()} does not match the TensorArray's "
                        f"elements ({array.shape.element_type.name}{dims})")
    if index.shape.rank:
        ctx.error(node, f"index must be a scalar, got shape {list(index.shape.dims)}")
    zero = ctx.b.constant(0, index.shape.element_type)
    update = ctx.b.reshape(value, [1, *dims])
    return ctx.b.dynamic_update_slice(array, update, [index] + [zero] * len(dims))


@lowering("TensorArrayGatherV3")
def _gather(ctx, node, inputs):
    _, indices, flow = inputs
    array = _array(ctx, node, flow, _element_shape(ctx, node))
    _check_type(ctx, node, array, "dtype")
    if _is_iota(ctx, indices, array.shape.dims[0]):
        return array  # tf.TensorArray.stack()
    return gather_along_axis(ctx, node, array, indices, 0, 0)


@lowering("TensorArrayScatterV3")
def _scatter(ctx, node, inputs):
    _, indices, value, flow = inputs
    if value.shape.rank == 0:
        ctx.error(node, "value must have at least one dimension (one row per index)")
    array = _array(ctx, node, flow, value.shape.dims[1:])
    if _is_iota(ctx, indices, array.shape.dims[0]) and value.shape.same_array(array.shape):
        return value  # tf.TensorArray.unstack()
    if indices.shape.rank != 1:
        ctx.error(node, f"indices must be a vector, got shape {list(indices.shape.dims)}")
    column = ctx.b.reshape(indices, [indices.shape.dims[0], 1])
    return scatter_nd(ctx, node, array, column, value, None)


@lowering("TensorArrayConcatV3")
def _concat(ctx, node, inputs):
    _, flow = inputs
    rest = _element_shape(ctx, node, "element_shape_except0")
    array = _array(ctx, node, flow)
    _check_type(ctx, node, array, "dtype")
    dims = array.shape.dims
    if len(dims) < 2:
        ctx.error(node, "concatenates scalars; the TensorArray's elements need a dimension")
    if rest is not None and len(rest) == len(dims) - 2 and any(
            r not in (-1, d) for r, d in zip(rest, dims[2:])):
        ctx.error(node, f"element_shape_except0 {list(rest)} does not match the elements "
                        f"{list(dims[1:])}")
    value = ctx.b.reshape(array, [dims[0] * dims[1], *dims[2:]])
    lengths = ctx.b.constant(np.full(dims[0], dims[1], np.int64), "s64")
    return [value, lengths]


@lowering("TensorArraySplitV3")
def _split(ctx, node, inputs):
    _, value, lengths, flow = inputs
    count = flow.count if isinstance(flow, PendingList) else _array(ctx, node, flow).shape.dims[0]
    sizes = ctx.static_ints(node, lengths, "lengths")
    if len(sizes) != count or len(set(sizes)) > 1:
        ctx.error(node, f"lengths {sizes} must be {count} equal sizes (aotc keeps a "
                        "TensorArray as one array, so its elements need one shape)")
    if value.shape.rank == 0 or value.shape.dims[0] != sum(sizes):
        ctx.error(node, f"value {value.shape.short()} does not have {sum(sizes)} rows "
                        f"(the sum of lengths)")
    dims = [sizes[0] if sizes else 0, *value.shape.dims[1:]]
    array = _array(ctx, node, flow, dims)
    return ctx.b.reshape(value, array.shape.dims)


@lowering("TensorArraySizeV3")
def _size(ctx, node, inputs):
    _, flow = inputs
    count = flow.count if isinstance(flow, PendingList) else _array(ctx, node, flow).shape.dims[0]
    return ctx.b.constant(count, "s32")


@lowering("TensorArrayCloseV3")
def _close(ctx, node, inputs):
    return []
