"""The indexing ops' semantics and dimension numbers: `gather`, `scatter`,
`dynamic-slice`, `dynamic-update-slice` and `sort` (XLA's "Operation Semantics").

The helpers here are shared by the shape rules (shape_rules/indexing.py), the evaluator
(evaluation/indexing.py) and the backends, so the index arithmetic every layer does is
spelled out once.

Gather. `start_indices` holds one index vector per *batch* position: the dimension
`index_vector_dim` holds the vector (when it equals the rank, the vector is an implicit
trailing dimension of size 1); the other dimensions are the batch dimensions. Output
dimensions listed in `offset_dims` walk a slice of size `slice_sizes`; the others are the
batch dimensions, in order. For output index Out:

    S      = start_indices[batch part of Out, :]          (the index vector)
    Start  = 0 except Start[start_index_map[k]] = S[k], clamped per operand dimension d
             into [0, operand.dims[d] - slice_sizes[d]]  (so the slice is always inside)
    Offset = the offset part of Out spread over the operand dimensions that are not in
             collapsed_slice_dims (in order); collapsed dimensions (size 1) get 0
    Out    = operand[Start + Offset]

Out-of-range indices are therefore clamped, as in XLA; TensorFlow's CPU kernels raise an
error for them instead, so only in-range indices are comparable with TensorFlow.

Scatter is gather's mirror image: `update_window_dims` are the window dimensions of
`updates`, the rest its scatter dimensions (matching the batch dimensions of
`scatter_indices`); `inserted_window_dims` are operand dimensions the window has size 1 in;
`scatter_dims_to_operand_dims` maps the index vector into the operand. Each update element
is combined into the operand with `to_apply(current, update)`, in row-major order of the
updates, so duplicate indices accumulate. An update whose whole window is not inside the
operand is skipped (XLA's rule; nothing is clamped).

dynamic-slice / dynamic-update-slice take one scalar start index per dimension, clamped
into [0, dim - size] so the slice (the update) always fits.

sort sorts the operands together along `dimensions[0]`: the comparator takes the pair
(lhs_i, rhs_i) of every operand, 2n scalars, and returns whether lhs sorts before rhs; it
must be a strict weak order. `is_stable` keeps equal elements in their original order (the
CPU backend's sort is always stable).
"""


from __future__ import annotations

from .shape import Shape


def index_batch_dims(indices: Shape, index_vector_dim: int) -> list[int]:
    """The batch dimensions of a gather/scatter index array (all but the vector dim)."""
    return [d for d in range(indices.rank) if d != index_vector_dim]


def index_vector_size(indices: Shape, index_vector_dim: int) -> int:
    """Length of each index vector (1 when the vector dimension is implicit)."""
    return 1 if index_vector_dim == indices.rank else indices.dims[index_vector_dim]


def gather_output_batch_dims(attrs: dict, output_rank: int) -> list[int]:
    """Output dimensions of a gather that are batch (not offset) dimensions, in order."""
    offset = set(attrs["offset_dims"])
    return [d for d in range(output_rank) if d not in offset]


def gather_offset_operand_dims(attrs: dict, operand_rank: int) -> list[int]:
    """Operand dimensions that offset_dims[k] walks, in order (the uncollapsed ones)."""
    collapsed = set(attrs["collapsed_slice_dims"])
    return [d for d in range(operand_rank) if d not in collapsed]


def scatter_update_scatter_dims(attrs: dict, updates_rank: int) -> list[int]:
    """Dimensions of `updates` that select an index vector (not window dimensions)."""
    window = set(attrs["update_window_dims"])
    return [d for d in range(updates_rank) if d not in window]


def scatter_window_operand_dims(attrs: dict, operand_rank: int) -> list[int]:
    """Operand dimensions that update_window_dims[k] walks (the uninserted ones)."""
    inserted = set(attrs["inserted_window_dims"])
    return [d for d in range(operand_rank) if d not in inserted]


def scatter_window_sizes(attrs: dict, operand_rank: int, updates_dims) -> list[int]:
    """Extent of an update window in each operand dimension (1 for inserted ones)."""
    sizes = [1] * operand_rank
    for d, u in zip(scatter_window_operand_dims(attrs, operand_rank), attrs["update_window_dims"]):
        sizes[d] = updates_dims[u]
    return sizes
