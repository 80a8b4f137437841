"""Evaluator rules for the indexing ops: gather, scatter, dynamic-slice,
dynamic-update-slice and sort (semantics in hlo/indexing.py).

Registered into `EVALUATORS` on import (the package `aotc.hlo.evaluation` imports this
module). Gather and the dynamic slices are vectorized with NumPy indexing; scatter walks the
update windows in row-major order (so duplicate indices combine in that order); sort is a
stable argsort when the comparator compares one operand with LT or GT, and otherwise
Python's stable sort with the comparator as the ordering.
"""

from __future__ import annotations

import functools

import numpy as np

from ..indexing import (gather_offset_operand_dims, gather_output_batch_dims,
                        scatter_update_scatter_dims, scatter_window_sizes)
from .interpreter import evaluate_computation, rule, run_computation
from .reducers import batchable, simple_reducer


def _index_vectors(indices: np.ndarray, index_vector_dim: int) -> np.ndarray:
    """The index array with its vector dimension moved last (added when implicit), int64."""
    if index_vector_dim == indices.ndim:
        indices = indices[..., np.newaxis]
    else:
        indices = np.moveaxis(indices, index_vector_dim, -1)
    return indices.astype(np.int64)


@rule("gather")
def _gather(inst, ops):
    operand, indices = ops
    attrs = inst.attrs
    out_dims = inst.shape.dims
    sizes = attrs["slice_sizes"]
    vectors = _index_vectors(indices, attrs["index_vector_dim"])  # batch dims..., k
    batch_positions = gather_output_batch_dims(attrs, len(out_dims))
    # The index vectors laid out over the output's batch dimensions (size 1 elsewhere).
    batch_view = [1] * len(out_dims)
    for position, extent in zip(batch_positions, vectors.shape[:-1]):
        batch_view[position] = extent
    starts = [np.zeros((1,) * len(out_dims), np.int64) for _ in range(operand.ndim)]
    for k, d in enumerate(attrs["start_index_map"]):
        start = vectors[..., k].reshape(batch_view)
        starts[d] = np.clip(start, 0, operand.shape[d] - sizes[d])
    index = list(starts)
    for position, d in zip(attrs["offset_dims"], gather_offset_operand_dims(attrs, operand.ndim)):
        view = [1] * len(out_dims)
        view[position] = sizes[d]
        index[d] = index[d] + np.arange(sizes[d]).reshape(view)
    if not operand.ndim:
        return np.broadcast_to(operand, out_dims).copy()
    return np.broadcast_to(operand[tuple(index)], out_dims).copy()


def _combiner(comp):
    """fn(current, update) applying the scatter computation to arrays of equal shape."""
    ufunc = simple_reducer(comp)
    if ufunc is not None:
        return lambda current, update: ufunc(current, update).astype(current.dtype)
    if batchable(comp):
        return lambda current, update: np.broadcast_to(
            run_computation(comp, [current, update], check_dims=False), current.shape)

    def elementwise(current, update):
        out = np.empty_like(current)
        for i in np.ndindex(*current.shape):
            out[i] = evaluate_computation(comp, [np.asarray(current[i]), np.asarray(update[i])])
        return out

    return elementwise


@rule("scatter")
def _scatter(inst, ops):
    operand, indices, updates = ops
    attrs = inst.attrs
    result = operand.copy()
    combine = _combiner(inst.to_apply())
    vectors = _index_vectors(indices, attrs["index_vector_dim"])
    window = scatter_window_sizes(attrs, operand.ndim, updates.shape)
    scatter_dims = scatter_update_scatter_dims(attrs, updates.ndim)
    for batch_index in np.ndindex(*vectors.shape[:-1]):
        start = [0] * operand.ndim
        for k, d in enumerate(attrs["scatter_dims_to_operand_dims"]):
            start[d] = int(vectors[batch_index + (k,)])
        if any(not 0 <= s <= n - w for s, n, w in zip(start, operand.shape, window)):
            continue  # a window not wholly inside the operand is skipped (XLA)
        pick = [slice(None)] * updates.ndim
        for d, i in zip(scatter_dims, batch_index):
            pick[d] = i
        # The window dims keep their order, so inserting the size-1 dims is a reshape.
        update = updates[tuple(pick)].reshape(window)
        region = tuple(slice(s, s + w) for s, w in zip(start, window))
        result[region] = combine(result[region], update)
    return result


def _clamped_starts(starts, operand_shape, sizes) -> list[int]:
    return [int(np.clip(int(s), 0, n - size)) for s, n, size in zip(starts, operand_shape, sizes)]


@rule("dynamic-slice")
def _dynamic_slice(inst, ops):
    operand, starts = ops[0], ops[1:]
    sizes = inst.attrs["dynamic_slice_sizes"]
    begin = _clamped_starts(starts, operand.shape, sizes)
    return operand[tuple(slice(b, b + n) for b, n in zip(begin, sizes))].copy()


@rule("dynamic-update-slice")
def _dynamic_update_slice(inst, ops):
    operand, update, starts = ops[0], ops[1], ops[2:]
    begin = _clamped_starts(starts, operand.shape, update.shape)
    result = operand.copy()
    result[tuple(slice(b, b + n) for b, n in zip(begin, update.shape))] = update
    return result


def _key_order(comparator) -> tuple[int, bool] | None:
    """(k, descending) when the comparator is compare(lhs_k, rhs_k, LT or GT) (either
    operand order): sorting is then a stable argsort of operand k. Else None."""
    root, params = comparator.root, comparator.parameters
    if root.opcode != "compare" or root.attrs["direction"] not in ("LT", "GT"):
        return None
    numbers = [params.index(op) if op in params else -1 for op in root.operands]
    if -1 in numbers or numbers[0] // 2 != numbers[1] // 2 or numbers[0] == numbers[1]:
        return None
    # lhs < rhs sorts ascending; lhs > rhs, or rhs < lhs, descending.
    descending = (root.attrs["direction"] == "GT") == (numbers[0] < numbers[1])
    return numbers[0] // 2, descending


def _stable_argsort(keys: np.ndarray, descending: bool) -> np.ndarray:
    """Stable argsort along the last axis; descending keeps equal keys in index order."""
    if not descending:
        return np.argsort(keys, axis=-1, kind="stable")
    n = keys.shape[-1]
    return n - 1 - np.flip(np.argsort(np.flip(keys, -1), axis=-1, kind="stable"), -1)


def _less_matrix(comparator, rows: list[np.ndarray]) -> np.ndarray:
    """less[i, j] = comparator(row_k[i] vs row_k[j] for every operand k), all pairs at once
    when the comparator is elementwise, pair by pair otherwise."""
    n = rows[0].shape[0]
    args = []
    for row in rows:
        args += [np.broadcast_to(row[:, None], (n, n)), np.broadcast_to(row[None, :], (n, n))]
    if batchable(comparator):
        return np.broadcast_to(run_computation(comparator, args, check_dims=False), (n, n))
    less = np.empty((n, n), bool)
    for i, j in np.ndindex(n, n):
        less[i, j] = evaluate_computation(comparator, [np.asarray(a[i, j]) for a in args])
    return less


@rule("sort")
def _sort(inst, ops):
    (dim,) = inst.attrs["dimensions"]
    comparator = inst.to_apply()
    moved = [np.moveaxis(x, dim, -1) for x in ops]
    key_order = _key_order(comparator)
    if key_order is not None:  # the common case (TopK, plain sorts), vectorized
        k, descending = key_order
        order = _stable_argsort(moved[k], descending)
        results = [np.moveaxis(np.take_along_axis(m, order, -1), -1, dim) for m in moved]
        return results[0] if len(results) == 1 else tuple(results)
    results = [np.empty_like(m) for m in moved]
    for row in np.ndindex(*moved[0].shape[:-1]):
        less = _less_matrix(comparator, [m[row] for m in moved])

        def order(i, j):
            return -1 if less[i, j] else (1 if less[j, i] else 0)

        # Python's sort is stable, so this is also the is_stable=true order.
        permutation = sorted(range(moved[0].shape[-1]), key=functools.cmp_to_key(order))
        for result, m in zip(results, moved):
            result[row] = m[row][permutation]
    results = [np.moveaxis(r, -1, dim) for r in results]
    return results[0] if len(results) == 1 else tuple(results)
