"""Shape rules for the indexing ops: `gather`, `scatter`, `dynamic-slice`,
`dynamic-update-slice` and `sort` (semantics and dimension numbers in hlo/indexing.py).
Registered into `SHAPE_RULES` on import (the package `aotc.hlo.shape_rules` imports this
module).
"""

from __future__ import annotations

from ..dtypes import PRED
from ..indexing import (index_batch_dims, index_vector_size, scatter_update_scatter_dims,
                        scatter_window_sizes)
from ..shape import Shape
from .inference import require, rule


def _ints(attrs: dict, key: str) -> tuple[int, ...]:
    value = attrs.get(key, ())
    require(isinstance(value, (tuple, list)), f"{key} must be a list of integers")
    return tuple(int(v) for v in value)


def _sorted_unique(values, what: str, bound: int, where: str) -> None:
    require(list(values) == sorted(set(values)),
             f"{where} {what} {list(values)} must be sorted and unique")
    require(all(0 <= v < bound for v in values),
             f"{where} {what} {list(values)} out of range [0, {bound})")


def _check_indices(opcode: str, indices: Shape, index_vector_dim, vector_map, operand: Shape,
                   map_name: str) -> None:
    require(not indices.is_tuple and indices.element_type.is_integer,
             f"{opcode} indices must be an integer array, got {indices.short()}")
    require(isinstance(index_vector_dim, int) and 0 <= index_vector_dim <= indices.rank,
             f"{opcode} index_vector_dim {index_vector_dim!r} out of range [0, {indices.rank}]")
    size = index_vector_size(indices, index_vector_dim)
    require(len(vector_map) == size,
             f"{opcode} {map_name} has {len(vector_map)} entries but the index vectors of "
             f"{indices.short()} (dimension {index_vector_dim}) have {size}")
    require(len(set(vector_map)) == len(vector_map)
             and all(0 <= d < operand.rank for d in vector_map),
             f"{opcode} {map_name} {list(vector_map)} must be distinct operand dimensions "
             f"of {operand.short()}")


@rule("gather")
def _gather(opcode, shapes, attrs, called):
    operand, indices = shapes
    require(not operand.is_tuple, "gather operand must be an array")
    offset_dims = _ints(attrs, "offset_dims")
    collapsed = _ints(attrs, "collapsed_slice_dims")
    start_index_map = _ints(attrs, "start_index_map")
    slice_sizes = _ints(attrs, "slice_sizes")
    index_vector_dim = attrs.get("index_vector_dim")
    _check_indices(opcode, indices, index_vector_dim, start_index_map, operand,
                   "start_index_map")
    require(len(slice_sizes) == operand.rank,
             f"gather slice_sizes {list(slice_sizes)} need one entry per dimension of "
             f"{operand.short()}")
    for d, (size, extent) in enumerate(zip(slice_sizes, operand.dims)):
        require(0 <= size <= extent,
                 f"gather slice size {size} of dimension {d} exceeds {operand.short()}")
    _sorted_unique(collapsed, "collapsed_slice_dims", operand.rank, "gather")
    for d in collapsed:
        require(slice_sizes[d] <= 1,
                 f"gather collapses dimension {d} whose slice size is {slice_sizes[d]}, not 1")
    batch = [indices.dims[d] for d in index_batch_dims(indices, index_vector_dim)]
    offsets = [size for d, size in enumerate(slice_sizes) if d not in collapsed]
    require(len(offset_dims) == len(offsets),
             f"gather has {len(offset_dims)} offset_dims but {len(offsets)} uncollapsed "
             f"slice dimensions")
    rank = len(batch) + len(offsets)
    _sorted_unique(offset_dims, "offset_dims", rank, "gather")
    dims, batch_it, offset_it = [], iter(batch), iter(offsets)
    for d in range(rank):
        dims.append(next(offset_it) if d in offset_dims else next(batch_it))
    return Shape(operand.element_type, tuple(dims))


def _check_binary_computation(opcode: str, called, element_type) -> None:
    """`to_apply` of scatter: (scalar, scalar) -> scalar of the operand's element type."""
    require(len(called) == 1, f"{opcode} needs one update computation")
    comp = called[0]
    params = comp.parameters
    scalar = Shape(element_type)
    require(len(params) == 2 and all(p.shape.same_array(scalar) for p in params),
             f"{opcode} computation {comp.name} must take two {scalar.short()} parameters")
    require(comp.root is not None and comp.root.shape.same_array(scalar),
             f"{opcode} computation {comp.name} must return {scalar.short()}")


@rule("scatter")
def _scatter(opcode, shapes, attrs, called):
    operand, indices, updates = shapes
    require(not operand.is_tuple and not updates.is_tuple, "scatter operands must be arrays")
    require(updates.element_type == operand.element_type,
             f"scatter updates {updates.short()} differ in type from {operand.short()}")
    window_dims = _ints(attrs, "update_window_dims")
    inserted = _ints(attrs, "inserted_window_dims")
    to_operand = _ints(attrs, "scatter_dims_to_operand_dims")
    index_vector_dim = attrs.get("index_vector_dim")
    _check_indices(opcode, indices, index_vector_dim, to_operand, operand,
                   "scatter_dims_to_operand_dims")
    _sorted_unique(window_dims, "update_window_dims", updates.rank, "scatter")
    _sorted_unique(inserted, "inserted_window_dims", operand.rank, "scatter")
    require(len(window_dims) + len(inserted) == operand.rank,
             f"scatter window rank {len(window_dims)} + inserted dims {len(inserted)} != "
             f"operand rank {operand.rank}")
    batch = [indices.dims[d] for d in index_batch_dims(indices, index_vector_dim)]
    scatter_dims = [updates.dims[d] for d in
                    scatter_update_scatter_dims({"update_window_dims": window_dims}, updates.rank)]
    require(scatter_dims == batch,
             f"scatter updates {updates.short()} have scatter dimensions {scatter_dims}, "
             f"but the indices {indices.short()} have batch dimensions {batch}")
    attrs = {"update_window_dims": window_dims, "inserted_window_dims": inserted}
    for d, size in enumerate(scatter_window_sizes(attrs, operand.rank, updates.dims)):
        require(size <= operand.dims[d],
                 f"scatter window size {size} exceeds dimension {d} of {operand.short()}")
    _check_binary_computation(opcode, called, operand.element_type)
    return Shape(operand.element_type, operand.dims)


def _check_starts(opcode: str, operand: Shape, starts: list[Shape]) -> None:
    require(len(starts) == operand.rank,
             f"{opcode} of {operand.short()} takes {operand.rank} start indices, "
             f"got {len(starts)}")
    for s in starts:
        require(not s.is_tuple and s.rank == 0 and s.element_type.is_integer,
                 f"{opcode} start indices must be integer scalars, got {s.short()}")
        require(s.element_type == starts[0].element_type,
                 f"{opcode} start indices differ in type: "
                 + ", ".join(x.short() for x in starts))


@rule("dynamic-slice")
def _dynamic_slice(opcode, shapes, attrs, called):
    require(len(shapes) >= 1, "dynamic-slice needs an operand")
    operand, starts = shapes[0], shapes[1:]
    require(not operand.is_tuple, "dynamic-slice operand must be an array")
    _check_starts(opcode, operand, starts)
    sizes = _ints(attrs, "dynamic_slice_sizes")
    require(len(sizes) == operand.rank,
             f"dynamic_slice_sizes {list(sizes)} need one entry per dimension of "
             f"{operand.short()}")
    for d, (size, extent) in enumerate(zip(sizes, operand.dims)):
        require(0 <= size <= extent,
                 f"dynamic-slice size {size} of dimension {d} exceeds {operand.short()}")
    return Shape(operand.element_type, sizes)


@rule("dynamic-update-slice")
def _dynamic_update_slice(opcode, shapes, attrs, called):
    require(len(shapes) >= 2, "dynamic-update-slice needs an operand and an update")
    operand, update, starts = shapes[0], shapes[1], shapes[2:]
    require(not operand.is_tuple and not update.is_tuple,
             "dynamic-update-slice operands must be arrays")
    require(update.element_type == operand.element_type and update.rank == operand.rank,
             f"dynamic-update-slice update {update.short()} does not match {operand.short()}")
    for d, (size, extent) in enumerate(zip(update.dims, operand.dims)):
        require(size <= extent, f"dynamic-update-slice update {update.short()} exceeds "
                                 f"dimension {d} of {operand.short()}")
    _check_starts(opcode, operand, starts)
    return Shape(operand.element_type, operand.dims)


@rule("sort")
def _sort(opcode, shapes, attrs, called):
    require(len(shapes) >= 1, "sort needs operands")
    first = shapes[0]
    for s in shapes:
        require(not s.is_tuple and s.dims == first.dims,
                 "sort operands must be arrays of equal dimensions: "
                 + ", ".join(x.short() for x in shapes))
    dims = _ints(attrs, "dimensions")
    require(len(dims) == 1 and 0 <= dims[0] < first.rank,
             f"sort dimensions {list(dims)} must name one dimension of {first.short()}")
    require(len(called) == 1, "sort needs one comparator computation")
    comp = called[0]
    want = [Shape(s.element_type) for s in shapes for _ in range(2)]
    params = comp.parameters
    require(len(params) == len(want) and all(p.shape.same_array(w) for p, w in zip(params, want)),
             f"sort comparator {comp.name} must take ({', '.join(w.short() for w in want)})")
    require(comp.root is not None and comp.root.shape.same_array(Shape(PRED)),
             f"sort comparator {comp.name} must return pred[]")
    results = [Shape(s.element_type, s.dims) for s in shapes]
    return results[0] if len(results) == 1 else Shape.tuple(results)
