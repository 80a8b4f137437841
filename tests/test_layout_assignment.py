"""Layout assignment and bitcasts: layout arithmetic, HLO text in and out, the evaluator
before and after, and the CPU backend on modules with non-default layouts."""

import itertools

import numpy as np
import pytest

from aotc.hlo import Builder, Shape, parse_module, print_module, verify
from aotc.hlo.evaluation import evaluate
from aotc.hlo.layout_util import (broadcast_is_bitcast, from_physical, is_bitcast,
                                  reshape_operand_layout, to_physical, transpose_is_bitcast)
from aotc.hlo.window import make_window
from aotc.passes.late_pipeline import layout_and_schedule_pipeline
from aotc.passes.layout_assignment import LayoutAssignment
from aotc.passes.pipeline import Pipeline, default_pipeline
from aotc.passes.simplifier import AlgebraicSimplifier
from random_modules import random_inputs, random_module


def _f32(dims, layout=None):
    return Shape.array("f32", dims, layout)


# -- layout arithmetic -------------------------------------------------------------------


def test_physical_order_round_trips():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for layout in itertools.permutations(range(3)):
        shape = _f32((2, 3, 4), layout)
        flat = to_physical(x, shape)
        np.testing.assert_array_equal(from_physical(flat, shape), x)
    np.testing.assert_array_equal(to_physical(x[0], _f32((3, 4), (0, 1))), x[0].T.ravel())


def test_transpose_bitcasts():
    assert transpose_is_bitcast(_f32((2, 3), (0, 1)), _f32((3, 2)), (1, 0))
    assert not transpose_is_bitcast(_f32((2, 3)), _f32((3, 2)), (1, 0))
    # Extent-1 dims never move anything.
    assert transpose_is_bitcast(_f32((1, 5)), _f32((5, 1)), (1, 0))


@pytest.mark.parametrize("operand, result, layout, expected", [
    ((6,), (2, 3), (1, 0), (0,)),
    ((2, 3), (6,), (0,), (1, 0)),
    ((4, 6), (2, 2, 6), (2, 1, 0), (1, 0)),
    ((4, 6), (4, 2, 3), (0, 2, 1), (0, 1)),  # columns first, each split row-major
    ((4, 6), (4, 2, 3), (2, 1, 0), (1, 0)),
    ((4, 6), (4, 2, 3), (1, 0, 2), None),  # the (2, 3) group is split by dim 0
    ((1, 32, 64), (32, 4, 16), (2, 1, 0), (2, 1, 0)),
    ((32, 64), (32, 4, 16), (0, 2, 1), (0, 1)),  # columns first: group {4,16} row-major
])
def test_reshape_operand_layout(operand, result, layout, expected):
    got = reshape_operand_layout(operand, _f32(result, layout))
    assert got == expected
    if got is not None:  # the answer really is a bitcast: same memory image
        x = np.arange(int(np.prod(operand)), dtype=np.float32).reshape(operand)
        np.testing.assert_array_equal(to_physical(x, _f32(operand, got)),
                                      to_physical(x.reshape(result), _f32(result, layout)))


def test_degenerate_broadcasts_and_copies_are_bitcasts():
    assert broadcast_is_bitcast(_f32((64, 64)), _f32((1, 64, 64)), (1, 2))
    assert not broadcast_is_bitcast(_f32((64,)), _f32((2, 64)), (1,))
    assert is_bitcast("copy", _f32((1, 8), (0, 1)), _f32((1, 8)), {})
    assert not is_bitcast("copy", _f32((2, 8), (0, 1)), _f32((2, 8)), {})


# -- the pass on HLO text ------------------------------------------------------------------


def _run(text):
    module = parse_module(text)
    before = module
    LayoutAssignment().run(module)
    verify(module)
    return before, print_module(module)


def _line(text, name):
    return next(line.strip() for line in text.splitlines() if line.strip().startswith(f"{name} ="))


def test_transpose_of_a_temporary_becomes_a_bitcast():
    _, text = _run("""
HloModule m
ENTRY m {
  p = f32[2,3]{1,0} parameter(0)
  e = f32[2,3]{1,0} exponential(p)
  t = f32[3,2]{1,0} transpose(e), dimensions={1,0}
  ROOT r = (f32[3,2]{1,0}) tuple(t)
}
""")
    # exp writes its result transposed, so the transpose moves nothing.
    assert _line(text, "e") == "e = f32[2,3]{0,1} exponential(p)"
    assert _line(text, "t") == "t = f32[3,2]{1,0} bitcast(e)"
    assert "entry_computation_layout={(f32[2,3]{1,0})->(f32[3,2]{1,0})}" in text


def test_transpose_of_a_parameter_stays_physical():
    _, text = _run("""
HloModule m
ENTRY m {
  p = f32[2,3]{1,0} parameter(0)
  t = f32[3,2]{1,0} transpose(p), dimensions={1,0}
  ROOT r = (f32[3,2]{1,0}) tuple(t)
}
""")
    assert _line(text, "t") == "t = f32[3,2]{1,0} transpose(p), dimensions={1,0}"


def test_dot_rhs_constant_is_stored_in_the_layout_the_dot_streams():
    _, text = _run("""
HloModule m
ENTRY m {
  x = f32[2,3]{1,0} parameter(0)
  w = f32[4,3]{1,0} constant({{1,2,3},{4,5,6},{7,8,9},{10,11,12}})
  d = f32[2,4]{1,0} dot(x, w), lhs_contracting_dims={1}, rhs_contracting_dims={1}
  ROOT r = (f32[2,4]{1,0}) tuple(d)
}
""")
    # x @ w.T: the weights are laid out contracting-major, so the free dim is minor.
    assert _line(text, "w").startswith("w = f32[4,3]{0,1} constant(")
    assert _line(text, "d").startswith("d = f32[2,4]{1,0} dot(x, w)")


def test_row_major_reshapes_and_degenerate_broadcasts_become_bitcasts():
    _, text = _run("""
HloModule m
ENTRY m {
  p = f32[4,6]{1,0} parameter(0)
  e = f32[4,6]{1,0} tanh(p)
  r = f32[24]{0} reshape(e)
  b = f32[1,24]{1,0} broadcast(r), dimensions={1}
  ROOT t = (f32[1,24]{1,0}) tuple(b)
}
""")
    assert _line(text, "r") == "r = f32[24]{0} bitcast(e)"
    assert _line(text, "b") == "b = f32[1,24]{1,0} bitcast(r)"


def test_conflicting_users_keep_row_major_and_a_fixed_result_gets_a_copy():
    _, text = _run("""
HloModule m
ENTRY m {
  p = f32[2,3]{0,1} parameter(0)
  e = f32[2,3]{1,0} exponential(p)
  t = f32[3,2]{1,0} transpose(e), dimensions={1,0}
  ROOT r = (f32[2,3]{1,0}, f32[3,2]{1,0}, f32[2,3]{0,1}) tuple(e, t, p)
}
""")
    # e is returned (row-major), so the transpose stays; the column-major parameter is
    # returned through a relayout copy, because results are row-major.
    assert _line(text, "e") == "e = f32[2,3]{1,0} exponential(p)"
    assert "transpose(e)" in _line(text, "t")
    assert _line(text, "p.relayout") == "p.relayout = f32[2,3]{1,0} copy(p)"
    assert _line(text, "ROOT r").endswith("tuple(e, t, p.relayout)")


def test_the_evaluator_agrees_before_and_after_on_random_modules():
    for seed, fusion in itertools.product(range(60), (False, True)):
        module = random_module(seed)
        inputs = random_inputs(module, seed)
        expected = evaluate(module, *inputs)
        Pipeline("test", [default_pipeline(fusion=fusion), layout_and_schedule_pipeline()]).run(module)
        for root_operand in module.entry.root.operands:
            assert root_operand.shape.is_row_major
        for got, want in zip(evaluate(module, *inputs), expected):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"seed {seed}")


def test_conv_input_pads_fold_into_the_window():
    b = Builder("conv")
    x = b.parameter(_f32((1, 6, 6, 3)), "x")
    k = b.parameter(_f32((3, 3, 3, 4)), "k")
    padded = b.pad(b.unary("tanh", x), b.constant(np.float32(0)), [(0, 0, 0), (1, 1, 0), (0, 1, 0), (0, 0, 0)])
    b.tuple([b.convolution(padded, k, make_window([3, 3], [2, 2]), "b01f_01io->b01f")])
    module = b.module()
    inputs = [np.random.default_rng(0).standard_normal(s).astype(np.float32) for s in ((1, 6, 6, 3), (3, 3, 3, 4))]
    expected = evaluate(module, *inputs)
    Pipeline("test", [AlgebraicSimplifier()]).run(module)
    conv = module.entry.root.operands[0]
    assert conv.operands[0].opcode == "tanh"
    assert [(w.padding_low, w.padding_high) for w in conv.attrs["window"]] == [(1, 1), (0, 1)]
    np.testing.assert_allclose(evaluate(module, *inputs)[0], expected[0], rtol=1e-5, atol=1e-5)


# -- the CPU backend on non-default layouts ------------------------------------------------


def test_cpu_backend_matches_the_evaluator_on_assigned_layouts():
    from compiled import Compiled

    b = Builder("layouts")
    x = b.parameter(_f32((3, 5)), "x")
    y = b.parameter(_f32((5, 4)), "y")
    w = b.constant(np.arange(20, dtype=np.float32).reshape(4, 5) / 20)
    e = b.unary("tanh", b.dot(x, y, lhs_contracting=[1], rhs_contracting=[0]))  # [3, 4]
    t = b.transpose(b.unary("negate", e), [1, 0])  # a bitcast of a column-major negate
    d = b.dot(x, w, lhs_contracting=[1], rhs_contracting=[1])  # x @ w.T, w stored transposed
    r = b.reshape(b.binary("add", e, d), [12])
    b.tuple([t, r, b.transpose(x, [1, 0])])
    module = b.module()
    inputs = [np.random.default_rng(1).uniform(-1, 1, s).astype(np.float32) for s in ((3, 5), (5, 4))]
    expected = evaluate(module, *inputs)
    Pipeline("test", [default_pipeline(fusion=False), layout_and_schedule_pipeline()]).run(module)
    text = print_module(module)
    assert "bitcast(" in text and "{0,1}" in text
    for got, want in zip(Compiled(module)(*inputs), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
