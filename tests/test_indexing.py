"""The indexing ops end to end: gather, scatter, dynamic-slice, dynamic-update-slice and
sort in the IR (evaluator against plain NumPy loops, text round trips, verifier messages),
on the CPU backend (against the evaluator, entry and fused), and the TF ops that lower to
them (against TensorFlow at test time).

Tolerances: exact for everything that only moves data (gathers, scatters of integers,
sorts, top-k, space/depth shuffles, mirror padding, nearest-neighbor resizing);
rtol=atol=1e-5 for bilinear resizing (TensorFlow lerps, we sum weighted taps) and 1e-6 for
float scatters (the same adds in the same order; the slack covers f32 contraction).
Out-of-range indices are compared with the evaluator only: XLA clamps (gather) or drops
(scatter) them, where TensorFlow's CPU kernels raise errors.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from aotc.frontend.errors import FrontendError
from aotc.hlo import Builder, HloVerifierError, Shape, parse_module, print_module, verify
from aotc.hlo import scalar_computation
from aotc.hlo.builder import sort_comparator
from aotc.hlo.evaluation import evaluate
from compiled import Compiled, check_compiled as _check

import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)

from tf_graphs import lower_case, rand, run_aotc, run_tf  # noqa: E402

raw = tf.raw_ops
f32, i32, i64 = np.float32, np.int32, np.int64
_rng = np.random.default_rng(20240607)


# =========================================================================================
# IR: the evaluator against straightforward NumPy loops
# =========================================================================================


def gather_reference(operand, indices, *, offset_dims, collapsed_slice_dims, start_index_map,
                     index_vector_dim, slice_sizes):
    """XLA Gather, element by element, exactly as the operation semantics page says."""
    if index_vector_dim == indices.ndim:
        indices = indices[..., np.newaxis]
    vectors = np.moveaxis(indices, index_vector_dim, -1)
    batch_shape = vectors.shape[:-1]
    offsets = [s for d, s in enumerate(slice_sizes) if d not in collapsed_slice_dims]
    out_rank = len(batch_shape) + len(offsets)
    out_shape, batch_it, offset_it = [], iter(batch_shape), iter(offsets)
    for d in range(out_rank):
        out_shape.append(next(offset_it) if d in offset_dims else next(batch_it))
    out = np.zeros(out_shape, operand.dtype)
    walked = [d for d in range(operand.ndim) if d not in collapsed_slice_dims]
    for out_index in np.ndindex(*out_shape):
        batch = tuple(out_index[d] for d in range(out_rank) if d not in offset_dims)
        start = [0] * operand.ndim
        for k, d in enumerate(start_index_map):
            start[d] = min(max(int(vectors[batch][k]), 0), operand.shape[d] - slice_sizes[d])
        for position, d in zip(offset_dims, walked):
            start[d] += out_index[position]
        out[out_index] = operand[tuple(start)]
    return out


def scatter_reference(operand, indices, updates, combine, *, update_window_dims,
                      inserted_window_dims, scatter_dims_to_operand_dims, index_vector_dim):
    """XLA Scatter, one update element at a time in row-major order; an update whose
    window does not fit is skipped."""
    if index_vector_dim == indices.ndim:
        indices = indices[..., np.newaxis]
    vectors = np.moveaxis(indices, index_vector_dim, -1)
    out = operand.copy()
    walked = [d for d in range(operand.ndim) if d not in inserted_window_dims]
    window = [1] * operand.ndim
    for d, u in zip(walked, update_window_dims):
        window[d] = updates.shape[u]
    scatter_dims = [d for d in range(updates.ndim) if d not in update_window_dims]
    for u_index in np.ndindex(*updates.shape):
        batch = tuple(u_index[d] for d in scatter_dims)
        start = [0] * operand.ndim
        for k, d in enumerate(scatter_dims_to_operand_dims):
            start[d] = int(vectors[batch][k])
        if any(not 0 <= s <= n - w for s, n, w in zip(start, operand.shape, window)):
            continue
        target = list(start)
        for d, u in zip(walked, update_window_dims):
            target[d] += u_index[u]
        out[tuple(target)] = combine(out[tuple(target)], updates[u_index])
    return out


#: Gather configurations: (operand dims, indices (array), dimension numbers).
GATHERS = {
    # tf.gather(x, i, axis=0): rows, with an implicit index vector dim.
    "rows": ((5, 3), np.array([4, 0, 2, 2], i32),
             dict(offset_dims=[1], collapsed_slice_dims=[0], start_index_map=[0],
                  index_vector_dim=1, slice_sizes=[1, 3])),
    # Out of range both ways: clamped to the first and last row.
    "rows-clamped": ((5, 3), np.array([[7, -3], [5, -1]], i64),
                     dict(offset_dims=[2], collapsed_slice_dims=[0], start_index_map=[0],
                          index_vector_dim=2, slice_sizes=[1, 3])),
    # gather_nd-style pairs, the vector in the middle dimension, map order swapped.
    "pairs-middle-vector": ((4, 6, 2), np.array([[[1, 5], [0, 2]], [[3, 0], [2, 9]]], i32),
                            dict(offset_dims=[2], collapsed_slice_dims=[0, 1],
                                 start_index_map=[1, 0], index_vector_dim=1,
                                 slice_sizes=[1, 1, 2])),
    # Windows of 2x2 (nothing collapsed): clamping keeps the window inside.
    "windows": ((4, 5), np.array([[0, 0], [3, 4], [-1, 2]], i32),
                dict(offset_dims=[1, 2], collapsed_slice_dims=[], start_index_map=[0, 1],
                     index_vector_dim=1, slice_sizes=[2, 2])),
    # Offset dims before the batch dim, and a partial slice of the last dim.
    "offsets-first": ((3, 4, 5), np.array([2, 0, 1], np.uint8),
                      dict(offset_dims=[0, 1], collapsed_slice_dims=[1],
                           start_index_map=[1], index_vector_dim=1, slice_sizes=[3, 1, 4])),
    # An empty index vector: every batch position takes the same (whole) slice.
    "no-index": ((2, 3), np.zeros((4, 0), i32),
                 dict(offset_dims=[1, 2], collapsed_slice_dims=[], start_index_map=[],
                      index_vector_dim=1, slice_sizes=[2, 3])),
    # No batch positions at all (empty indices).
    "empty": ((5, 3), np.zeros((0,), i32),
              dict(offset_dims=[1], collapsed_slice_dims=[0], start_index_map=[0],
                   index_vector_dim=1, slice_sizes=[1, 3])),
}


def _gather_module(operand_dims, indices, dnums, dtype="f32"):
    b = Builder("gather")
    x = b.parameter(Shape.array(dtype, operand_dims), "x")
    i = b.parameter(Shape.array(_hlo_type(indices.dtype), indices.shape), "i")
    return b.module(b.gather(x, i, **dnums))


def _hlo_type(np_dtype) -> str:
    from aotc.hlo.dtypes import from_numpy
    return from_numpy(np_dtype).name


@pytest.mark.parametrize("name", sorted(GATHERS))
def test_gather_evaluator_matches_loops(name):
    dims, indices, dnums = GATHERS[name]
    x = _rng.standard_normal(dims).astype(f32)
    got = evaluate(_gather_module(dims, indices, dnums), x, indices)
    np.testing.assert_array_equal(got, gather_reference(x, indices, **dnums))


def test_gather_rows_is_numpy_take():
    x = _rng.standard_normal((6, 4)).astype(f32)
    i = np.array([[5, 0], [3, 3]], i32)
    dnums = dict(offset_dims=[2], collapsed_slice_dims=[0], start_index_map=[0],
                 index_vector_dim=2, slice_sizes=[1, 4])
    np.testing.assert_array_equal(evaluate(_gather_module((6, 4), i, dnums), x, i),
                                  np.take(x, i, axis=0))


#: Scatter configurations: (operand dims, indices, updates dims, dimension numbers).
SCATTERS = {
    # ScatterNd rows with duplicates (they accumulate) and one row out of range (dropped).
    "rows-duplicates": ((5, 3), np.array([[1], [1], [4], [5], [-1]], i32), (5, 3),
                        dict(update_window_dims=[1], inserted_window_dims=[0],
                             scatter_dims_to_operand_dims=[0], index_vector_dim=1)),
    # Single elements by (row, col) pairs, implicit-free vector dim first.
    "elements": ((4, 4), np.array([[0, 3, 3, 1], [0, 2, 2, 1]], i32), (4,),
                 dict(update_window_dims=[], inserted_window_dims=[0, 1],
                      scatter_dims_to_operand_dims=[0, 1], index_vector_dim=0)),
    # 2x2 windows, window dims before the scatter dim; one window overhangs (dropped).
    "windows": ((4, 5), np.array([[0, 0], [2, 3], [3, 3]], i32), (2, 3, 2),
                dict(update_window_dims=[0, 2], inserted_window_dims=[],
                     scatter_dims_to_operand_dims=[0, 1], index_vector_dim=1)),
    # Columns (scatter into dim 1), implicit index vector dim.
    "columns": ((3, 6), np.array([5, 0, 5], i64), (3, 3),
                dict(update_window_dims=[0], inserted_window_dims=[1],
                     scatter_dims_to_operand_dims=[1], index_vector_dim=1)),
}


def _scatter_module(operand_dims, indices, update_dims, dnums, opcode="add", dtype="s32"):
    b = Builder("scatter")
    x = b.parameter(Shape.array(dtype, operand_dims), "x")
    i = b.parameter(Shape.array(_hlo_type(indices.dtype), indices.shape), "i")
    u = b.parameter(Shape.array(dtype, update_dims), "u")
    return b.module(b.scatter(x, i, u, scalar_computation(opcode, dtype), **dnums))


_COMBINE = {"add": np.add, "multiply": np.multiply, "maximum": np.maximum}


@pytest.mark.parametrize("opcode", ["add", "multiply", "maximum"])
@pytest.mark.parametrize("name", sorted(SCATTERS))
def test_scatter_evaluator_matches_loops(name, opcode):
    dims, indices, update_dims, dnums = SCATTERS[name]
    x = _rng.integers(-5, 5, dims).astype(i32)
    u = _rng.integers(-5, 5, update_dims).astype(i32)
    got = evaluate(_scatter_module(dims, indices, update_dims, dnums, opcode), x, indices, u)
    want = scatter_reference(x, indices, u, _COMBINE[opcode], **dnums)
    np.testing.assert_array_equal(got, want)


def test_scatter_add_into_zeros_is_numpy_add_at():
    i = np.array([3, 1, 3, 3, 0], i32)
    u = _rng.integers(-9, 9, (5, 2)).astype(i32)
    dnums = dict(update_window_dims=[1], inserted_window_dims=[0],
                 scatter_dims_to_operand_dims=[0], index_vector_dim=1)
    want = np.zeros((4, 2), i32)
    np.add.at(want, i, u)
    got = evaluate(_scatter_module((4, 2), i, (5, 2), dnums), np.zeros((4, 2), i32), i, u)
    np.testing.assert_array_equal(got, want)


def _dynamic_module(operand_dims, sizes, update_dims, index_type="s32"):
    b = Builder("dynamic")
    x = b.parameter(Shape.array("f32", operand_dims), "x")
    u = b.parameter(Shape.array("f32", update_dims), "u")
    starts = [b.parameter(Shape.array(index_type, ()), f"s{d}") for d in range(len(operand_dims))]
    return b.module(b.tuple([b.dynamic_slice(x, starts, sizes),
                             b.dynamic_update_slice(x, u, starts)]))


@pytest.mark.parametrize("starts", [(1, 2), (0, 0), (-4, 9), (3, -1), (100, 100)])
def test_dynamic_slices_clamp_like_xla(starts):
    x = np.arange(30, dtype=f32).reshape(5, 6)
    u = -np.arange(1, 7, dtype=f32).reshape(2, 3)
    module = _dynamic_module((5, 6), (3, 4), (2, 3))
    got_slice, got_update = evaluate(module, x, u, *[np.int32(s) for s in starts])
    r, c = min(max(starts[0], 0), 2), min(max(starts[1], 0), 2)
    np.testing.assert_array_equal(got_slice, x[r:r + 3, c:c + 4])
    r, c = min(max(starts[0], 0), 3), min(max(starts[1], 0), 3)
    want = x.copy()
    want[r:r + 2, c:c + 3] = u
    np.testing.assert_array_equal(got_update, want)


def _sort_module(dims, dim, types, direction="LT", stable=True, extra_iota=False):
    b = Builder("sort")
    operands = [b.parameter(Shape.array(t, dims), f"x{k}") for k, t in enumerate(types)]
    if extra_iota:
        operands.append(b.iota(Shape.array("s32", dims), dim))
        types = [*types, "s32"]
    return b.module(b.sort(operands, dim, sort_comparator(types, direction), is_stable=stable))


def _stable_argsort(keys, axis, descending):
    if not descending:
        return np.argsort(keys, axis=axis, kind="stable")
    # Descending but stable: sort the reversed array ascending and map back.
    n = keys.shape[axis]
    flipped = np.argsort(np.flip(keys, axis), axis=axis, kind="stable")
    return np.flip(n - 1 - flipped, axis)


@pytest.mark.parametrize("direction", ["LT", "GT"])
@pytest.mark.parametrize("dims,dim", [((7,), 0), ((3, 40), 1), ((25, 2, 3), 0)])
def test_sort_evaluator_is_a_stable_argsort(dims, dim, direction):
    keys = _rng.integers(0, 6, dims).astype(f32)  # many ties
    payload = _rng.integers(-100, 100, dims).astype(i32)
    values, moved, positions = evaluate(
        _sort_module(dims, dim, ["f32", "s32"], direction, extra_iota=True), keys, payload)
    order = _stable_argsort(keys, dim, direction == "GT")
    np.testing.assert_array_equal(values, np.take_along_axis(keys, order, dim))
    np.testing.assert_array_equal(moved, np.take_along_axis(payload, order, dim))
    np.testing.assert_array_equal(positions, order)


def test_sort_general_comparator_path_agrees_with_the_argsort_path():
    # compare(rhs, lhs, LT) is a descending key sort with swapped operands (still the
    # argsort path); "LT or false" is ascending in a form only the general path handles.
    keys = _rng.integers(0, 4, (3, 30)).astype(f32)
    for direction, wrapped in (("GT", "swapped"), ("LT", "or-false")):
        cb = Builder(f"cmp_{wrapped}")
        lhs, rhs = (cb.parameter(Shape.array("f32", []), f"{n}.{wrapped}") for n in ("l", "r"))
        li, ri = (cb.parameter(Shape.array("s32", []), f"{n}i.{wrapped}") for n in ("l", "r"))
        if wrapped == "swapped":
            cb.compare(rhs, lhs, "LT")
        else:
            cb.binary("or", cb.compare(lhs, rhs, "LT"), cb.constant(np.bool_(False)))
        b = Builder("general")
        x = b.parameter(Shape.array("f32", [3, 30]), "x")
        module = b.module(b.sort([x, b.iota(Shape.array("s32", [3, 30]), 1)], 1, cb.build(),
                                 is_stable=True))
        got = evaluate(module, keys)
        want = evaluate(_sort_module((3, 30), 1, ["f32"], direction, extra_iota=True), keys)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def test_sort_with_a_lexicographic_comparator():
    # Order by the first operand ascending, then by the second descending.
    b = Builder("lex")
    a0 = b.parameter(Shape.array("s32", [12]), "a0")
    a1 = b.parameter(Shape.array("f32", [12]), "a1")
    cb = Builder("lex_less")
    p = [cb.parameter(Shape.array(t, []), f"{n}.lex") for t, n in
         [("s32", "l0"), ("s32", "r0"), ("f32", "l1"), ("f32", "r1")]]
    first = cb.compare(p[0], p[1], "LT")
    tie = cb.binary("and", cb.compare(p[0], p[1], "EQ"), cb.compare(p[2], p[3], "GT"))
    cb.binary("or", first, tie)
    module = b.module(b.sort([a0, a1], 0, cb.build()))
    x0 = _rng.integers(0, 3, 12).astype(i32)
    x1 = _rng.standard_normal(12).astype(f32)
    got0, got1 = evaluate(module, x0, x1)
    order = np.lexsort((-x1, x0))
    np.testing.assert_array_equal(got0, x0[order])
    np.testing.assert_array_equal(got1, x1[order])


# =========================================================================================
# IR: HLO text and the verifier
# =========================================================================================


def _indexing_module():
    """One module holding every indexing opcode (for text and backend tests)."""
    b = Builder("indexing")
    x = b.parameter(Shape.array("f32", [5, 3]), "x")
    rows = b.parameter(Shape.array("s32", [4]), "rows")
    pairs = b.parameter(Shape.array("s64", [4, 1]), "pairs")
    updates = b.parameter(Shape.array("f32", [4, 3]), "updates")
    start = b.parameter(Shape.array("s32", []), "start")
    g = b.gather(x, rows, offset_dims=[1], collapsed_slice_dims=[0], start_index_map=[0],
                 index_vector_dim=1, slice_sizes=[1, 3], indices_are_sorted=True)
    s = b.scatter(x, pairs, updates, scalar_computation("add", "f32"), update_window_dims=[1],
                  inserted_window_dims=[0], scatter_dims_to_operand_dims=[0],
                  index_vector_dim=1, unique_indices=False)
    ds = b.dynamic_slice(x, [start, start], [2, 2])
    dus = b.dynamic_update_slice(x, ds, [start, b.scalar(1, "s32")])
    keys = b.sort([x, b.iota(Shape.array("s32", [5, 3]), 0)], 0,
                  sort_comparator(["f32", "s32"], "GT"), is_stable=True)
    alone = b.sort([x], 1, sort_comparator(["f32"], "LT"))
    return b.module(b.tuple([g, s, ds, dus, b.get_tuple_element(keys, 0),
                             b.get_tuple_element(keys, 1), alone]))


def test_text_round_trip_and_xla_syntax():
    text = print_module(_indexing_module())
    assert print_module(parse_module(text)) == text
    assert re.search(r"gather\(x, rows\), offset_dims=\{1\}, collapsed_slice_dims=\{0\}, "
                     r"start_index_map=\{0\}, index_vector_dim=1, slice_sizes=\{1,3\}, "
                     r"indices_are_sorted=true\n", text)
    assert re.search(r"scatter\(x, pairs, updates\), update_window_dims=\{1\}, "
                     r"inserted_window_dims=\{0\}, scatter_dims_to_operand_dims=\{0\}, "
                     r"index_vector_dim=1, to_apply=add_f32\n", text)
    assert "dynamic-slice(x, start, start), dynamic_slice_sizes={2,2}\n" in text
    assert re.search(r"dynamic-update-slice\(x, dynamic-slice\.\d+, start, constant\.\d+\)\n",
                     text)
    assert re.search(r"sort\(x, iota\.\d+\), dimensions=\{0\}, is_stable=true, "
                     r"to_apply=compare_gt_f32\n", text)
    # Defaults are left out, as XLA prints them.
    assert re.search(r"sort\(x\), dimensions=\{1\}, to_apply=compare_lt_f32\n", text)
    assert "unique_indices" not in text


XLA_TEXT = """
HloModule xla_style

%cmp (a: f32[], b: f32[]) -> pred[] {
  %a = f32[] parameter(0)
  %b = f32[] parameter(1)
  ROOT %lt = pred[] compare(f32[] %a, f32[] %b), direction=LT
}

%add (p: s32[], q: s32[]) -> s32[] {
  %p = s32[] parameter(0)
  %q = s32[] parameter(1)
  ROOT %sum = s32[] add(s32[] %p, s32[] %q)
}

ENTRY %main (x: f32[4,3], i: s32[2,2], y: s32[6], j: s32[3,1], u: s32[3]) -> (f32[2,3], f32[4,3], s32[6]) {
  %x = f32[4,3]{1,0} parameter(0)
  %i = s32[2,2]{1,0} parameter(1)
  %y = s32[6]{0} parameter(2)
  %j = s32[3,1]{1,0} parameter(3)
  %u = s32[3]{0} parameter(4)
  %g = f32[2,3]{1,0} gather(f32[4,3]{1,0} %x, s32[2,2]{1,0} %i), offset_dims={1}, collapsed_slice_dims={0}, start_index_map={0,1}, index_vector_dim=1, slice_sizes={1,3}, indices_are_sorted=false
  %s = f32[4,3]{1,0} sort(f32[4,3]{1,0} %x), dimensions={1}, is_stable=true, to_apply=%cmp
  %sc = s32[6]{0} scatter(s32[6]{0} %y, s32[3,1]{1,0} %j, s32[3]{0} %u), update_window_dims={}, inserted_window_dims={0}, scatter_dims_to_operand_dims={0}, index_vector_dim=1, indices_are_sorted=true, unique_indices=false, to_apply=%add
  ROOT %t = (f32[2,3]{1,0}, f32[4,3]{1,0}, s32[6]{0}) tuple(%g, %s, %sc)
}
"""


def test_parses_hand_written_xla_text():
    module = parse_module(XLA_TEXT)
    verify(module)
    x = _rng.standard_normal((4, 3)).astype(f32)
    i = np.array([[3, 0], [1, 2]], i32)  # the column entry is clamped to 0 (slice spans it)
    y = np.arange(6, dtype=i32)
    j = np.array([[5], [0], [5]], i32)
    u = np.array([10, 20, 30], i32)
    g, s, sc = evaluate(module, x, i, y, j, u)
    np.testing.assert_array_equal(g, x[[3, 1]])
    np.testing.assert_array_equal(s, np.sort(x, axis=1))
    np.testing.assert_array_equal(sc, [20, 1, 2, 3, 4, 45])


def _problems(build) -> str:
    with pytest.raises(HloVerifierError) as info:
        verify(build())
    return str(info.value)


def _replace_attr(module, opcode, **attrs):
    for inst in module.entry.instructions:
        if inst.opcode == opcode:
            inst.attrs.update(attrs)
            return module
    raise AssertionError(opcode)


@pytest.mark.parametrize("opcode,attrs,message", [
    ("gather", {"slice_sizes": (1, 4)}, r"gather slice size 4 of dimension 1 exceeds f32\[5,3\]"),
    ("gather", {"collapsed_slice_dims": (1,)},
     r"gather collapses dimension 1 whose slice size is 3"),
    ("gather", {"start_index_map": (0, 1)}, r"start_index_map has 2 entries but the index "
                                            r"vectors of s32\[4\] \(dimension 1\) have 1"),
    ("gather", {"offset_dims": (0,)}, r"shape f32\[4,3\]\{1,0\} does not match the inferred "
                                      r"f32\[3,4\]"),
    ("scatter", {"update_window_dims": ()},
     r"scatter window rank 0 \+ inserted dims 1 != operand rank 2"),
    ("scatter", {"index_vector_dim": 3}, r"index_vector_dim 3 out of range \[0, 2\]"),
    ("dynamic-slice", {"dynamic_slice_sizes": (2, 9)},
     r"dynamic-slice size 9 of dimension 1 exceeds f32\[5,3\]"),
    ("sort", {"dimensions": (2,)}, r"sort dimensions \[2\] must name one dimension"),
])
def test_verifier_names_the_bad_attribute(opcode, attrs, message):
    text = _problems(lambda: _replace_attr(_indexing_module(), opcode, **attrs))
    assert re.search(message, text), text


def test_verifier_checks_called_computations_and_operands():
    def wrong_comparator():
        b = Builder("m")
        x = b.parameter(Shape.array("f32", [4]), "x")
        sort = b.add("sort", [x], {"dimensions": (0,), "is_stable": False},
                     called=[scalar_computation("add", "f32")], shape=Shape.array("f32", [4]))
        return b.module(sort)

    assert "sort comparator" in _problems(wrong_comparator)
    assert "must return pred[]" in _problems(wrong_comparator)

    def wrong_combiner():
        b = Builder("m")
        x = b.parameter(Shape.array("f32", [4]), "x")
        i = b.parameter(Shape.array("s32", [2, 1]), "i")
        u = b.parameter(Shape.array("f32", [2]), "u")
        attrs = dict(update_window_dims=(), inserted_window_dims=(0,),
                     scatter_dims_to_operand_dims=(0,), index_vector_dim=1)
        return b.module(b.add("scatter", [x, i, u], attrs, shape=x.shape,
                              called=[scalar_computation("add", "s32")]))

    assert "must take two f32[] parameters" in _problems(wrong_combiner)

    def float_start():
        b = Builder("m")
        x = b.parameter(Shape.array("f32", [4]), "x")
        s = b.parameter(Shape.array("f32", []), "s")
        return b.module(b.add("dynamic-slice", [x, s], {"dynamic_slice_sizes": (2,)},
                              shape=Shape.array("f32", [2])))

    assert "start indices must be integer scalars" in _problems(float_start)

    def no_operands():
        b = Builder("m")
        b.parameter(Shape.array("f32", [4]), "x")
        return b.module(b.add("dynamic-update-slice", [], shape=Shape.array("f32", [4])))

    assert "needs at least 2 operands, has 0" in _problems(no_operands)


def test_simplifier_folds_static_dynamic_slices():
    from aotc.passes import AlgebraicSimplifier, DeadCodeElimination

    module = parse_module("""
HloModule fold
ENTRY main {
  x = f32[5,6]{1,0} parameter(0)
  u = f32[5,6]{1,0} parameter(1)
  i = s32[] parameter(2)
  big = s32[] constant(9)
  neg = s32[] constant(-2)
  fixed = f32[3,4]{1,0} dynamic-slice(x, big, neg), dynamic_slice_sizes={3,4}
  whole = f32[5,6]{1,0} dynamic-slice(x, i, i), dynamic_slice_sizes={5,6}
  moving = f32[2,2]{1,0} dynamic-slice(x, i, i), dynamic_slice_sizes={2,2}
  replaced = f32[5,6]{1,0} dynamic-update-slice(x, u, i, i)
  ROOT t = (f32[3,4]{1,0}, f32[5,6]{1,0}, f32[2,2]{1,0}, f32[5,6]{1,0}) tuple(fixed, whole, moving, replaced)
}
""")
    AlgebraicSimplifier().run(module)
    DeadCodeElimination().run(module)
    verify(module)
    text = print_module(module)
    # Constant starts clamp to (2, 0): a static slice; whole-operand ops disappear.
    assert "fixed = f32[3,4]{1,0} slice(x), slice={[2:5], [0:4]}" in text
    assert "tuple(fixed, x, moving, u)" in text
    assert text.count("dynamic-slice(") == 1 and "dynamic-update-slice" not in text


# =========================================================================================
# CPU backend against the evaluator
# =========================================================================================


def test_backend_every_indexing_op():
    module = _indexing_module()
    x = _rng.standard_normal((5, 3)).astype(f32)
    x[1, :] = x[3, :]  # ties for the stable sort
    args = [x, np.array([4, 0, 9, -2], i32), np.array([[1], [1], [4], [5]], i64),
            _rng.standard_normal((4, 3)).astype(f32), np.int32(2)]
    compiled = _check(module, args, rtol=1e-6, atol=1e-6)
    for start in (-7, 0, 4, 99):  # clamped starts
        args[-1] = np.int32(start)
        _check(module, args, compiled=compiled)


def test_backend_gathers_and_scatters():
    b = Builder("many")
    inputs, outputs = [], []
    for name in sorted(GATHERS):
        dims, indices, dnums = GATHERS[name]
        x = b.parameter(Shape.array("f32", dims), f"gx_{name}")
        i = b.parameter(Shape.array(_hlo_type(indices.dtype), indices.shape), f"gi_{name}")
        outputs.append(b.gather(x, i, **dnums))
        inputs += [_rng.standard_normal(dims).astype(f32), indices]
    for name in sorted(SCATTERS):
        dims, indices, update_dims, dnums = SCATTERS[name]
        for opcode in ("add", "maximum"):
            x = b.parameter(Shape.array("s32", dims), f"sx_{name}_{opcode}")
            i = b.parameter(Shape.array(_hlo_type(indices.dtype), indices.shape),
                            f"si_{name}_{opcode}")
            u = b.parameter(Shape.array("s32", update_dims), f"su_{name}_{opcode}")
            outputs.append(b.scatter(x, i, u, scalar_computation(opcode, "s32"), **dnums))
            inputs += [_rng.integers(-50, 50, dims).astype(i32), indices,
                       _rng.integers(-50, 50, update_dims).astype(i32)]
    # Float accumulation of duplicates, in the evaluator's order.
    x = b.parameter(Shape.array("f32", [3, 2]), "fx")
    i = b.parameter(Shape.array("s32", [6]), "fi")
    u = b.parameter(Shape.array("f32", [6, 2]), "fu")
    outputs.append(b.scatter(x, i, u, scalar_computation("add", "f32"), update_window_dims=[1],
                             inserted_window_dims=[0], scatter_dims_to_operand_dims=[0],
                             index_vector_dim=1))
    inputs += [np.zeros((3, 2), f32), np.array([2, 0, 2, 2, 1, 0], i32),
               _rng.standard_normal((6, 2)).astype(f32)]
    _check(b.module(b.tuple(outputs)), inputs, rtol=1e-6, atol=1e-6)


def test_backend_sorts():
    b = Builder("sorts")
    inputs, outputs = [], []

    def sort(dims, dim, types, direction, values, iota=False):
        params = [b.parameter(Shape.array(t, dims), f"p{len(inputs) + k}")
                  for k, t in enumerate(types)]
        inputs.extend(values)
        operands = list(params)
        if iota:
            operands.append(b.iota(Shape.array("s32", dims), dim))
            types = [*types, "s32"]
        result = b.sort(operands, dim, sort_comparator(types, direction), is_stable=True)
        if len(operands) == 1:
            outputs.append(result)
        else:
            outputs.extend(b.get_tuple_element(result, k) for k in range(len(operands)))

    # Long rows with many ties exercise every merge level and stability (the iota).
    sort((2, 1000), 1, ["s32"], "LT", [_rng.integers(0, 40, (2, 1000)).astype(i32)], iota=True)
    sort((3, 333), 1, ["f32", "u8"], "GT",
         [_rng.integers(-20, 20, (3, 333)).astype(f32),
          _rng.integers(0, 255, (3, 333)).astype(np.uint8)])
    # Along a major dimension (strided rows), rank 3: a length-1 row (nothing to do), one
    # insertion-sorted block, and two blocks merged with a short tail.
    for n in (1, 2, 41):
        sort((n, 2, 3), 0, ["f64"], "LT", [_rng.standard_normal((n, 2, 3))], iota=True)
    sort((4, 25), 1, ["pred", "s64"], "GT",
         [_rng.random((4, 25)) < 0.5, _rng.integers(-9, 9, (4, 25)).astype(i64)])
    sort((0, 5), 1, ["f32"], "LT", [np.zeros((0, 5), f32)])
    _check(b.module(b.tuple(outputs)), inputs)


def test_backend_updates_in_place():
    # A chain of updates on a temporary: each may take over its operand's buffer (the
    # copy is then skipped), which must not change any value.
    b = Builder("chain")
    x = b.parameter(Shape.array("f32", [6, 4]), "x")
    u = b.parameter(Shape.array("f32", [2, 4]), "u")
    i = b.parameter(Shape.array("s32", [3, 1]), "i")
    start = b.parameter(Shape.array("s32", []), "start")
    doubled = b.binary("add", x, x)
    rows = b.slice(doubled, [0, 0], [3, 4])  # read before doubled's buffer is reused
    written = b.dynamic_update_slice(doubled, u, [start, b.scalar(0, "s32")])
    scattered = b.scatter(written, i, rows,
                          scalar_computation("add", "f32"), update_window_dims=[1],
                          inserted_window_dims=[0], scatter_dims_to_operand_dims=[0],
                          index_vector_dim=1)
    module = b.module(b.tuple([b.binary("multiply", scattered, scattered)]))
    compiled = Compiled(module)
    slices = compiled.assignment.slice_of
    assert slices(written) == slices(doubled) and slices(scattered) == slices(written)
    x = _rng.standard_normal((6, 4)).astype(f32)
    for start in (-1, 2, 5):
        _check(module, [x, _rng.standard_normal((2, 4)).astype(f32),
                        np.array([[5], [0], [5]], i32), np.int32(start)],
               rtol=1e-6, atol=1e-6, compiled=compiled)


def test_backend_gather_and_dynamic_slices_fuse():
    # The elemental rules inside a kLoop fusion: gather -> add, and a dynamic-update-slice
    # of a dynamic-slice, computed per output element with no intermediate buffers.
    fb = Builder("fused")
    x = fb.parameter(Shape.array("f32", [6, 4]), "fx")
    i = fb.parameter(Shape.array("s32", [5]), "fi")
    s = fb.parameter(Shape.array("s32", []), "fs")
    g = fb.gather(x, i, offset_dims=[1], collapsed_slice_dims=[0], start_index_map=[0],
                  index_vector_dim=1, slice_sizes=[1, 4])
    window = fb.dynamic_slice(x, [s, s], [5, 3])
    grown = fb.dynamic_update_slice(g, window, [fb.scalar(0, "s32"), s])
    fb.binary("add", grown, g)
    fused = fb.build()

    b = Builder("main")
    params = [b.parameter(p.shape, f"m{p.name}") for p in fused.parameters]
    fusion = b.add("fusion", params, {"kind": "kLoop"}, called=[fused])
    module = b.module(b.tuple([fusion]))
    verify(module)
    x = _rng.standard_normal((6, 4)).astype(f32)
    compiled = None
    for start in (-1, 0, 1, 3):
        compiled = _check(module, [x, np.array([5, 0, 7, 2, -1], i32), np.int32(start)],
                          compiled=compiled)


# =========================================================================================
# TF lowerings against TensorFlow
# =========================================================================================

EXACT, RESIZE = 0.0, 1e-5


def T(op, name, build, *inputs):
    """A TF case: the op under test, a graph builder, and lazily drawn inputs."""
    return pytest.param(op, build, inputs, id=f"{op}-{name}")


def R(*shape, dtype=f32, low=-2.0, high=2.0):
    return lambda: rand(shape, dtype, low, high)


def idx(values, dtype=i32):
    return lambda: np.array(values, dtype)


TF_CASES = [
    # GatherV2: axes (negative too), batch_dims, int64 and size-1 dims, empty indices.
    T("GatherV2", "axis0", lambda x, i: tf.gather(x, i), R(5, 3), idx([[4, 0], [1, 1]])),
    T("GatherV2", "neg-axis", lambda x, i: tf.gather(x, i, axis=-1), R(2, 3, 4),
     idx([3, 0, 3, 1, 2], i64)),
    T("GatherV2", "batch1-axis2", lambda x, i: tf.gather(x, i, axis=2, batch_dims=1),
     R(2, 3, 4, 5), idx([[3, 0], [1, 1]])),
    T("GatherV2", "batch-neg", lambda x, i: tf.gather(x, i, axis=1, batch_dims=-1),
     R(2, 4, 3), idx([[2, 0, 3], [1, 1, 0]], i64)),
    T("GatherV2", "batch2", lambda x, i: tf.gather(x, i, axis=2, batch_dims=2),
     R(2, 3, 4), idx([[[3], [0], [1]], [[2], [2], [0]]])),
    T("GatherV2", "size1", lambda x, i: tf.gather(x, i, axis=1), R(1, 1, 2), idx([[0, 0, 0]])),
    T("GatherV2", "empty", lambda x, i: tf.gather(x, i, axis=0), R(3, 2), idx(np.zeros((0, 2)))),
    T("GatherV2", "scalar-index", lambda x, i: tf.gather(x, i, axis=1), R(3, 4), idx(2)),
    T("GatherV2", "const-bool", lambda x: tf.gather(x, [2, 0], axis=0),
     R(3, 2, dtype=np.bool_)),
    # GatherNd: full and partial index depth, batch of batches, int64.
    T("GatherNd", "elements", lambda x, i: tf.gather_nd(x, i), R(4, 3),
     idx([[3, 0], [1, 2], [3, 0]])),
    T("GatherNd", "rows", lambda x, i: tf.gather_nd(x, i), R(4, 3, 2), idx([[[3], [0]]], i64)),
    T("GatherNd", "depth0", lambda x, i: tf.gather_nd(x, i), R(2, 3), idx(np.zeros((2, 0)))),
    T("GatherNd", "vector", lambda x, i: tf.gather_nd(x, i), R(3, 4, 5), idx([2, 1])),
    # ScatterNd: duplicates accumulate, elements vs slices, empty updates.
    T("ScatterNd", "dup-rows", lambda i, u: tf.scatter_nd(i, u, [5, 3]),
     idx([[1], [1], [4], [1]]), R(4, 3)),
    T("ScatterNd", "dup-elements-i32", lambda i, u: tf.scatter_nd(i, u, [3, 4]),
     idx([[0, 3], [2, 2], [0, 3]], i64), R(3, dtype=i32, low=-9, high=9)),
    T("ScatterNd", "batched", lambda i, u: tf.scatter_nd(i, u, [4, 2, 2]),
     idx([[[0], [3]], [[0], [2]]]), R(2, 2, 2, 2)),
    T("ScatterNd", "empty", lambda i, u: tf.scatter_nd(i, u, [3]), idx(np.zeros((0, 1))), R(0)),
    # TensorScatter*: replace, combine, duplicates.
    T("TensorScatterUpdate", "rows", lambda t, i, u: tf.tensor_scatter_nd_update(t, i, u),
      R(5, 3), idx([[1], [3]]), R(2, 3)),
    T("TensorScatterAdd", "dup", lambda t, i, u: tf.tensor_scatter_nd_add(t, i, u),
      R(5, 3, dtype=i32), idx([[1], [3], [1]], i64), R(3, 3, dtype=i32)),
    T("TensorScatterSub", "elements", lambda t, i, u: tf.tensor_scatter_nd_sub(t, i, u),
      R(3, 4), idx([[1, 2], [1, 2], [0, 0]]), R(3)),
    T("TensorScatterMax", "dup", lambda t, i, u: tf.tensor_scatter_nd_max(t, i, u),
      R(4, 2), idx([[1], [3], [1]]), R(3, 2)),
    T("TensorScatterMin", "dup", lambda t, i, u: tf.tensor_scatter_nd_min(t, i, u),
      R(4, 2), idx([[1], [3], [1]]), R(3, 2)),
    # UnsortedSegment*: empty segments get the identity (lowest/highest for max/min),
    # negative ids are dropped, ids of rank 2.
    T("UnsortedSegmentSum", "rows", lambda d, i: tf.math.unsorted_segment_sum(d, i, 5),
      R(6, 3), idx([0, 4, 4, -1, 2, 0])),
    T("UnsortedSegmentMax", "empty-segments", lambda d, i: tf.math.unsorted_segment_max(d, i, 5),
      R(6, 3), idx([0, 4, 4, -1, 2, 0])),
    T("UnsortedSegmentMin", "rank2-ids", lambda d, i: tf.math.unsorted_segment_min(d, i, 4),
      R(2, 3, 2, dtype=i32, low=-9, high=9), idx([[0, 3, 3], [1, 0, 0]], i64)),
    T("UnsortedSegmentProd", "vector", lambda d, i: tf.math.unsorted_segment_prod(d, i, 3),
      R(4), idx([2, 0, 2, 2])),
    # TopKV2: k = n, ties (lower index first), int32 values, rank 3, k = 0; tf.sort and
    # tf.argsort are TopKV2 with k = n.
    T("TopKV2", "k2", lambda x: tf.math.top_k(x, 2), R(3, 7)),
    T("TopKV2", "k-full-ties", lambda x: tf.math.top_k(x, 6),
     R(4, 6, dtype=i32, low=0, high=2)),
    T("TopKV2", "rank3", lambda x: tf.math.top_k(x, 3), R(2, 3, 30)),
    T("TopKV2", "vector-k1", lambda x: tf.math.top_k(x, 1), R(9)),
    T("TopKV2", "k0", lambda x: tf.math.top_k(x, 0), R(2, 4)),
    T("TopKV2", "argsort", lambda x: tf.argsort(x), R(3, 7)),
    T("TopKV2", "sort-desc-i32", lambda x: tf.sort(x, direction="DESCENDING"),
      R(3, 7, dtype=i32, low=-3, high=3)),
    # ResizeBilinear: up, down, align_corners, half_pixel_centers, non-float input.
    T("ResizeBilinear", "up-half-pixel",
     lambda x: raw.ResizeBilinear(images=x, size=[7, 9], half_pixel_centers=True),
     R(2, 3, 4, 2)),
    T("ResizeBilinear", "up-align", lambda x: raw.ResizeBilinear(images=x, size=[5, 8],
                                                               align_corners=True),
     R(1, 3, 4, 3)),
    T("ResizeBilinear", "down-legacy", lambda x: raw.ResizeBilinear(images=x, size=[2, 3]),
     R(2, 5, 7, 1)),
    T("ResizeBilinear", "down-half-pixel-int",
     lambda x: raw.ResizeBilinear(images=x, size=[3, 2], half_pixel_centers=True),
     R(1, 6, 5, 2, dtype=i32, low=-50, high=50)),
    T("ResizeBilinear", "to-1x1-align", lambda x: raw.ResizeBilinear(images=x, size=[1, 1],
                                                                   align_corners=True),
     R(1, 4, 4, 1)),
    # ResizeNearestNeighbor.
    T("ResizeNearestNeighbor", "up-half-pixel",
     lambda x: raw.ResizeNearestNeighbor(images=x, size=[7, 9], half_pixel_centers=True),
     R(2, 3, 4, 2)),
    T("ResizeNearestNeighbor", "up-align",
     lambda x: raw.ResizeNearestNeighbor(images=x, size=[5, 7], align_corners=True),
     R(1, 3, 4, 2, dtype=i32)),
    T("ResizeNearestNeighbor", "down-legacy",
     lambda x: raw.ResizeNearestNeighbor(images=x, size=[2, 3]), R(1, 5, 7, 3)),
    T("ResizeNearestNeighbor", "same-size", lambda x: raw.ResizeNearestNeighbor(
        images=x, size=[3, 4], half_pixel_centers=True), R(1, 3, 4, 1)),
    # SpaceToDepth / DepthToSpace.
    T("SpaceToDepth", "b2", lambda x: tf.nn.space_to_depth(x, 2), R(2, 4, 6, 3)),
    T("SpaceToDepth", "b3-c1", lambda x: tf.nn.space_to_depth(x, 3), R(1, 3, 9, 1, dtype=i32)),
    T("SpaceToDepth", "1x1-out", lambda x: tf.nn.space_to_depth(x, 2), R(1, 2, 2, 2)),
    T("DepthToSpace", "b2", lambda x: tf.nn.depth_to_space(x, 2), R(2, 2, 3, 12)),
    T("DepthToSpace", "b3", lambda x: tf.nn.depth_to_space(x, 3), R(1, 1, 2, 9, dtype=i32)),
    T("DepthToSpace", "roundtrip", lambda x: tf.nn.depth_to_space(tf.nn.space_to_depth(x, 2), 2),
     R(1, 4, 4, 2)),
    # MirrorPad: both modes, maximal paddings, zero paddings, rank 3.
    T("MirrorPad", "reflect", lambda x: tf.pad(x, [[1, 2], [2, 0]], mode="REFLECT"), R(3, 4)),
    T("MirrorPad", "symmetric-max", lambda x: tf.pad(x, [[3, 2], [0, 4]], mode="SYMMETRIC"),
     R(3, 4)),
    T("MirrorPad", "reflect-max-3d",
     lambda x: tf.pad(x, [[0, 0], [1, 1], [2, 2]], mode="REFLECT"), R(2, 2, 3, dtype=i32)),
    T("MirrorPad", "symmetric-size1", lambda x: tf.pad(x, [[1, 1]], mode="SYMMETRIC"), R(1)),
]

_TOLERANCE = {"ResizeBilinear": RESIZE}


@pytest.mark.parametrize("op,build,inputs", TF_CASES)
def test_lowering_matches_tensorflow(op, build, inputs):
    case = run_tf(build, [make() for make in inputs])
    assert op in case.op_types, case.op_types
    got = run_aotc(case)
    assert len(got) == len(case.expected)
    tol = _TOLERANCE.get(op, EXACT)
    for g, want in zip(got, case.expected):
        assert g.dtype == want.dtype and g.shape == want.shape, (g.dtype, g.shape, want.shape)
        if tol:
            np.testing.assert_allclose(g, want, rtol=tol, atol=tol)
        else:
            np.testing.assert_array_equal(g, want)


# -- user errors ---------------------------------------------------------------------------


def _graph_only(build, inputs):
    """A TFCase for `build` without running it (TensorFlow would fail on these graphs)."""
    from tf_graphs import TFCase

    graph = tf.Graph()
    with graph.as_default():
        placeholders = [tf.compat.v1.placeholder(tf.as_dtype(a.dtype), a.shape, name=f"in{k}")
                        for k, a in enumerate(inputs)]
        outputs = build(*placeholders)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return TFCase(graph.as_graph_def().SerializeToString(), [p.op.name for p in placeholders],
                  [(t.op.name, t.value_index) for t in outputs], list(inputs), [],
                  {op.type for op in graph.get_operations()})


@pytest.mark.parametrize("build,inputs,message", [
    (lambda x: tf.gather(x, [1, 5], name="g"), [rand((4, 2))],
     r"node 'g' \(GatherV2\): constant index 5 is out of range \[0, 4\)"),
    (lambda x: tf.gather(x, [-1], name="g"), [rand((4, 2))],
     r"node 'g' \(GatherV2\): constant index -1 is out of range \[0, 4\)"),
    (lambda x, i: raw.GatherV2(params=x, indices=i, axis=0, batch_dims=1, name="g"),
     [rand((2, 3)), np.zeros((2, 1), i32)],
     r"node 'g' \(GatherV2\): batch_dims 1 must be in \[0, min\(axis 0, indices rank 2\)\]"),
    (lambda x: tf.gather_nd(x, [[0, 3]], name="nd"), [rand((2, 3))],
     r"node 'nd' \(GatherNd\): constant index 3 is out of range \[0, 3\)"),
    (lambda u: tf.scatter_nd([[7]], u, [4], name="s"), [rand((1,))],
     r"node 's' \(ScatterNd\): constant index 7 is out of range \[0, 4\)"),
    (lambda x, k: raw.TopKV2(input=x, k=k, name="top"), [rand((2, 5)), np.int32(2)],
     r"node 'top' \(TopKV2\): k input must be a constant"),
    (lambda x: tf.pad(x, [[0, 3]], mode="REFLECT", name="pad"), [rand((3,))],
     r"node 'pad' \(MirrorPad\): paddings \(0, 3\) of dimension 0 must be in \[0, 2\]"),
    (lambda x: raw.DepthToSpace(input=x, block_size=2, data_format="NCHW", name="d2s"),
     [rand((1, 4, 2, 2))], r"node 'd2s' \(DepthToSpace\): data_format NCHW is not supported"),
    (lambda x: raw.ResizeBilinear(images=x, size=[4, 4], align_corners=True,
                                  half_pixel_centers=True, name="rs"), [rand((1, 2, 2, 1))],
     r"node 'rs' \(ResizeBilinear\): align_corners and half_pixel_centers cannot both be"),
    (lambda d: tf.math.unsorted_segment_sum(d, [0, 9], 3, name="seg"), [rand((2,))],
     r"node 'seg' \(UnsortedSegmentSum\): constant index 9 is out of range \[0, 3\)"),
])
def test_lowering_errors_name_the_node(build, inputs, message):
    with pytest.raises(FrontendError, match=message):
        lower_case(_graph_only(build, inputs))


def test_reshape_common_factors():
    """The dimension groups a reshape maps separately (elemental.py): boundaries where
    both sides hold equal element counts, size-1 and empty shapes included."""
    from aotc.backends.cpu.elemental import common_factors

    assert common_factors((128, 256), (4, 32, 256)) == [(0, 0), (1, 2), (2, 3)]
    assert common_factors((2, 3, 4), (6, 4)) == [(0, 0), (2, 1), (3, 2)]
    assert common_factors((2, 3), (3, 2)) == [(0, 0), (2, 2)]
    assert common_factors((1, 5), (5,)) == [(0, 0), (1, 0), (2, 1)]
    assert common_factors((4, 1, 1), (4,)) == [(0, 0), (1, 1), (2, 1), (3, 1)]
    assert common_factors((), ()) == [(0, 0)]
    assert common_factors((0, 3), (3, 0)) == [(0, 0), (2, 2)]
