"""TensorLists (TF2's TensorArray) of static element shape and static length.

Keras RNN layers and tf.TensorArray in a tf.function keep per-step values in TensorLists:
a TensorListReserve or TensorListFromTensor before a While, TensorListGetItem and
TensorListSetItem in its body, TensorListStack after it. In TF a list is a variant
scalar; here a list of n elements of shape S is simply an array of shape [n, *S], so it
can be a loop variable like any tensor:

    TensorListReserve(S, n)         zeros [n, *S]
    TensorListFromTensor(t, S)      t itself ([n, *S])
    TensorListGetItem(l, i, S)      reshape(dynamic-slice(l, [i, 0, ...], [1, *S]), S)
    TensorListSetItem(l, i, x)      dynamic-update-slice(l, reshape(x, [1, *S]), [i, 0, ...])
    TensorListStack(l, S)           l itself
    TensorListLength(l)             n, a constant
    TensorListElementShape(l)       S, a constant

A TensorArray made without an element shape reserves a list of unknown element shape;
its first TensorListSetItem says what the shape is. Until then the list is a `PendingList`
(the reserve's length and type, no HLO value). A While (or If) that takes one first
lowers its body (or branches) on a scratch builder to let the writes there fix the shape
(ops/control_flow.py), then carries a real array.

Lists that grow or shrink (EmptyTensorList, TensorListPushBack, TensorListPopBack) change
their length at compile time, so they work outside loops; in a loop body the changing
length is reported as a loop variable whose shape changes. TF fails on an out-of-range index; here it is clamped, as XLA's
dynamic slices do.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...hlo import Instruction
from ...hlo.dtypes import DType
from .indexing import gather_along_axis
from .registry import lowering


@dataclass
class PendingList:
    """A reserved list whose element shape the graph has not said yet."""

    node_name: str
    count: int
    element_type: DType
    element_dims: list[int] | None = None  # set by the first write

    def resolve(self, ctx, node, dims) -> None:
        dims = list(dims)
        if self.element_dims is not None and self.element_dims != dims:
            ctx.error(node, f"writes elements of shape {dims} to list '{self.node_name}', "
                            f"whose elements have shape {self.element_dims}")
        self.element_dims = dims

    def materialize(self, ctx, node) -> Instruction:
        """The list as an array of zeros, once its element shape is known."""
        if self.element_dims is None:
            ctx.error(node, f"the element shape of list '{self.node_name}' is never given "
                            "(no element_shape and no write); aotc needs lists of static "
                            "element shape")
        return ctx.full(0, self.element_type, [self.count, *self.element_dims])


def _handle(ctx, node, handle, element_shape: Instruction | None = None):
    """The list input as an array; a pending list takes `element_shape` if it is known."""
    if not isinstance(handle, PendingList):
        return handle
    if handle.element_dims is None and element_shape is not None:
        dims = _element_shape(ctx, node, element_shape, "element_shape")
        if dims is not None and all(d >= 0 for d in dims):
            handle.resolve(ctx, node, dims)
    return handle.materialize(ctx, node)


def _element_shape(ctx, node, inst: Instruction, what: str) -> list[int] | None:
    """The element_shape input as a list of dims (-1 unknown), or None for unknown rank."""
    value = ctx.static_value(inst)
    if value is None:
        ctx.error(node, f"{what} must be a constant")
    dims = [int(d) for d in value.ravel()]
    return None if value.ndim == 0 and dims == [-1] else dims


def _check_element_shape(ctx, node, given: list[int] | None, actual, what: str) -> None:
    if given is None:
        return
    actual = list(actual)
    if len(given) != len(actual) or any(g not in (-1, a) for g, a in zip(given, actual)):
        ctx.error(node, f"{what} {given} does not match the list's elements, which have "
                        f"shape {actual}")


def _list_dims(ctx, node, handle: Instruction) -> tuple[int, list[int]]:
    if handle.shape.rank == 0:
        ctx.error(node, "the list input is not a TensorList of static shape (aotc supports "
                        "lists made by TensorListReserve or TensorListFromTensor)")
    return handle.shape.dims[0], list(handle.shape.dims[1:])


def _starts(ctx, node, index: Instruction, rank: int) -> list[Instruction]:
    if index.shape.rank:
        ctx.error(node, f"index must be a scalar, got shape {list(index.shape.dims)}")
    zero = ctx.b.constant(0, index.shape.element_type)
    return [index] + [zero] * rank


@lowering("TensorListReserve")
def _reserve(ctx, node, inputs):
    element_shape, num_elements = inputs
    dims = _element_shape(ctx, node, element_shape, "element_shape")
    count = ctx.static_ints(node, num_elements, "num_elements")
    if len(count) != 1 or count[0] < 0:
        ctx.error(node, f"num_elements must be a non-negative scalar, got {count}")
    element_type = ctx.dtype(node, "element_dtype")
    if dims is None or any(d < 0 for d in dims):
        return PendingList(node.name, count[0], element_type)  # the first write tells
    return ctx.full(0, element_type, [count[0], *dims])


@lowering("TensorListFromTensor")
def _from_tensor(ctx, node, inputs):
    tensor, element_shape = inputs
    if tensor.shape.rank == 0:
        ctx.error(node, "tensor must have at least one dimension (the list's length)")
    given = _element_shape(ctx, node, element_shape, "element_shape")
    _check_element_shape(ctx, node, given, tensor.shape.dims[1:], "element_shape")
    return tensor


@lowering("TensorListStack")
def _stack(ctx, node, inputs):
    handle, element_shape = inputs
    handle = _handle(ctx, node, handle, element_shape)
    count, dims = _list_dims(ctx, node, handle)
    _check_element_shape(ctx, node, _element_shape(ctx, node, element_shape, "element_shape"),
                         dims, "element_shape")
    wanted = ctx.attr(node, "num_elements", -1)
    if wanted not in (-1, count):
        ctx.error(node, f"num_elements is {wanted} but the list has {count} elements")
    return handle


@lowering("TensorListGetItem")
def _get_item(ctx, node, inputs):
    handle, index, element_shape = inputs
    handle = _handle(ctx, node, handle, element_shape)
    _, dims = _list_dims(ctx, node, handle)
    _check_element_shape(ctx, node, _element_shape(ctx, node, element_shape, "element_shape"),
                         dims, "element_shape")
    item = ctx.b.dynamic_slice(handle, _starts(ctx, node, index, len(dims)), [1, *dims])
    return ctx.b.reshape(item, dims)


@lowering("TensorListSetItem")
def _set_item(ctx, node, inputs):
    handle, index, item = inputs
    if isinstance(handle, PendingList):
        handle.resolve(ctx, node, item.shape.dims)
    handle = _handle(ctx, node, handle)
    _, dims = _list_dims(ctx, node, handle)
    if list(item.shape.dims) != dims or item.shape.element_type != handle.shape.element_type:
        ctx.error(node, f"item {item.shape.short()} does not match the list's elements "
                        f"({handle.shape.element_type.name}{dims})")
    update = ctx.b.reshape(item, [1, *dims])
    return ctx.b.dynamic_update_slice(handle, update, _starts(ctx, node, index, len(dims)))


@lowering("TensorListLength")
def _length(ctx, node, inputs):
    handle = inputs[0]
    count = handle.count if isinstance(handle, PendingList) else _list_dims(ctx, node, handle)[0]
    return ctx.b.constant(count, "s32")


@lowering("TensorListElementShape")
def _element_shape_op(ctx, node, inputs):
    _, dims = _list_dims(ctx, node, _handle(ctx, node, inputs[0]))
    return ctx.b.constant(dims, ctx.dtype(node, "shape_type"))


# -- lists of static length outside loops: growing, shrinking, gathering, concatenating --------


@lowering("EmptyTensorList")
def _empty(ctx, node, inputs):
    # A list of 0 elements; pushes grow it at compile time (in a loop body, where the
    # length would change every iteration, the While rule reports the changing shape).
    element_shape, _max = inputs
    dims = _element_shape(ctx, node, element_shape, "element_shape")
    element_type = ctx.dtype(node, "element_dtype")
    if dims is None or any(d < 0 for d in dims):
        return PendingList(node.name, 0, element_type)
    return ctx.full(0, element_type, [0, *dims])


@lowering("TensorListPushBack")
def _push_back(ctx, node, inputs):
    handle, item = inputs
    if isinstance(handle, PendingList):
        handle.resolve(ctx, node, item.shape.dims)
    handle = _handle(ctx, node, handle)
    _, dims = _list_dims(ctx, node, handle)
    if list(item.shape.dims) != dims or item.shape.element_type != handle.shape.element_type:
        ctx.error(node, f"item {item.shape.short()} does not match the list's elements "
                        f"({handle.shape.element_type.name}{dims})")
    return ctx.b.concatenate([handle, ctx.b.reshape(item, [1, *dims])], 0)


@lowering("TensorListPopBack")
def _pop_back(ctx, node, inputs):
    # (the list without its last element, the last element).
    handle, element_shape = inputs
    handle = _handle(ctx, node, handle, element_shape)
    count, dims = _list_dims(ctx, node, handle)
    if count == 0:
        ctx.error(node, "pops from an empty list")
    b = ctx.b
    rank = len(dims) + 1
    rest = b.slice(handle, [0] * rank, [count - 1, *dims], [1] * rank)
    last = b.slice(handle, [count - 1] + [0] * len(dims), [count, *dims], [1] * rank)
    return [rest, b.reshape(last, dims)]


@lowering("TensorListGather")
def _gather(ctx, node, inputs):
    handle, indices, element_shape = inputs
    handle = _handle(ctx, node, handle, element_shape)
    if indices.shape.rank != 1:
        ctx.error(node, f"indices must be a vector, got {indices.shape.short()}")
    return gather_along_axis(ctx, node, handle, indices, 0, 0)


@lowering("TensorListConcatV2")
def _concat(ctx, node, inputs):
    # The elements joined along their first dim, and each element's length there.
    handle, element_shape, _leading = inputs
    handle = _handle(ctx, node, handle, element_shape)
    count, dims = _list_dims(ctx, node, handle)
    if not dims:
        ctx.error(node, "the list's elements must have rank >= 1 to be concatenated")
    lengths = ctx.b.constant([dims[0]] * count, "s64")
    return [ctx.b.reshape(handle, [count * dims[0], *dims[1:]]), lengths]


@lowering("TensorListSplit")
def _split(ctx, node, inputs):
    # Equal lengths only: a list is one array of equal elements.
    tensor, element_shape, lengths_input = inputs
    lengths = ctx.static_ints(node, lengths_input, "lengths")
    if tensor.shape.rank == 0 or sum(lengths) != tensor.shape.dims[0] or len(set(lengths)) > 1:
        ctx.error(node, f"lengths {lengths} must be equal and add up to the first dim of "
                        f"{tensor.shape.short()} (aotc's lists hold equal-shaped elements)")
    count = len(lengths)
    size = lengths[0] if lengths else 0
    return ctx.b.reshape(tensor, [count, size, *tensor.shape.dims[1:]])
