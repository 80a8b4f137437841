"""TensorStridedSliceUpdate: a strided slice written into a tensor (and the helper
ResourceStridedSliceAssign shares). The slice's positions are found by running the
StridedSlice rule on a constant tensor of flat positions, so the two ops read TF's
slice spec (masks, ellipsis, new and shrunk axes) the same way; the value is then
scattered into those positions."""

from __future__ import annotations

import numpy as np

from .indexing import scatter_nd
from .registry import LOWERINGS, lowering


def strided_slice_update(ctx, node, x, begin, end, strides, value):
    """x with x[begin:end:strides] (TF's spec, the node's mask attrs) replaced by value
    (broadcast to the slice's shape)."""
    b = ctx.b
    positions = b.constant(np.arange(x.shape.num_elements, dtype=np.int64).reshape(x.shape.dims))
    picked = ctx.static_value(LOWERINGS["StridedSlice"](ctx, node, [positions, begin, end,
                                                                    strides]))
    if value.shape.element_type != x.shape.element_type:
        ctx.error(node, f"value is {value.shape.element_type}, the input {x.shape.element_type}")
    try:
        target = np.broadcast_shapes(value.shape.dims, picked.shape)
    except ValueError:
        target = None
    if target != picked.shape:
        ctx.error(node, f"value {value.shape.short()} does not broadcast to the slice's shape "
                        f"{list(picked.shape)}")
    if picked.size == 0:
        return x
    value = b.reshape(b.broadcast_to(value, picked.shape), (picked.size,))
    flat = b.reshape(x, (x.shape.num_elements,))
    indices = b.constant(picked.reshape(-1, 1))
    return b.reshape(scatter_nd(ctx, node, flat, indices, value, None), x.shape.dims)


@lowering("TensorStridedSliceUpdate")
def _tensor_strided_slice_update(ctx, node, inputs):
    return strided_slice_update(ctx, node, *inputs)
