"""The HLO-to-HLO passes: DCE, CSE, constant folding, algebraic simplification, the pipeline.

XLA-style: HLO text in, one pass run, checks on the module (or its text) out. Each pass is
also checked against the evaluator on random modules: it must not change any result.
"""

import re

import numpy as np
import pytest

from aotc.hlo import Builder, Shape, scalar_computation
from aotc.hlo.evaluation import evaluate
from aotc.hlo.parser import parse_module
from aotc.hlo.printer import print_module
from aotc.passes.constant_folding import ConstantFolding
from aotc.passes.cse import CommonSubexpressionElimination
from aotc.passes.dce import DeadCodeElimination
from aotc.passes.dump import dump_text
from aotc.passes.pass_base import ModulePass
from aotc.passes.pipeline import PassPipelineError, Pipeline, default_pipeline
from aotc.passes.simplifier import AlgebraicSimplifier


# -- helpers ---------------------------------------------------------------------------


def run_pass(pass_, text):
    """Parse `text`, run `pass_` on it; return (changed, module)."""
    module = parse_module(text)
    changed = pass_.run(module)
    return changed, module


def find(module, name):
    """The entry instruction called `name` (AssertionError listing the names if none)."""
    for inst in module.entry.instructions:
        if inst.name == name:
            return inst
    raise AssertionError(f"no {name} in {[i.name for i in module.entry.instructions]}")


def opcodes(module):
    return [inst.opcode for inst in module.entry.instructions]


def root_operands(module):
    return [op.name for op in module.entry.root.operands]


def roundtrip(module):
    """Print and re-parse: the pass left a module the text format can express."""
    text = print_module(module)
    return parse_module(text), text


# -- DCE -------------------------------------------------------------------------------


DEAD = """
HloModule m

add_f32 {
  lhs = f32[] parameter(0)
  rhs = f32[] parameter(1)
  ROOT s = f32[] add(lhs, rhs)
}

ENTRY main {
  x = f32[2,3]{1,0} parameter(0)
  y = f32[2,3]{1,0} parameter(1)
  zero = f32[] constant(0)
  dead_sum = f32[2]{0} reduce(x, zero), dimensions={1}, to_apply=add_f32
  dead_mul = f32[2,3]{1,0} multiply(x, x)
  dead_neg = f32[2,3]{1,0} negate(dead_mul)
  a = f32[2,3]{1,0} add(x, x)
  ROOT t = (f32[2,3]{1,0}) tuple(a)
}
"""


def test_dce_removes_unused_instructions_and_keeps_parameters():
    changed, module = run_pass(DeadCodeElimination(), DEAD)
    assert changed
    names = [i.name for i in module.entry.instructions]
    assert names == ["x", "y", "a", "t"]  # y is unused but a parameter is the signature


def test_dce_drops_computations_no_longer_called():
    changed, module = run_pass(DeadCodeElimination(), DEAD)
    assert [c.name for c in module.computations] == ["main"]
    _, text = roundtrip(module)
    assert "add_f32" not in text


def test_dce_reports_no_change_on_clean_module():
    changed, module = run_pass(DeadCodeElimination(), DEAD)
    assert DeadCodeElimination().run(module) is False


def test_dce_cleans_called_computations():
    text = """
HloModule m

add_f32 {
  lhs = f32[] parameter(0)
  rhs = f32[] parameter(1)
  unused = f32[] multiply(lhs, rhs)
  ROOT s = f32[] add(lhs, rhs)
}

ENTRY main {
  x = f32[4]{0} parameter(0)
  zero = f32[] constant(0)
  ROOT r = f32[] reduce(x, zero), dimensions={0}, to_apply=add_f32
}
"""
    changed, module = run_pass(DeadCodeElimination(), text)
    assert changed
    reducer = module.computation("add_f32")
    assert [i.name for i in reducer.instructions] == ["lhs", "rhs", "s"]


# -- CSE -------------------------------------------------------------------------------


def test_cse_merges_identical_instructions_keeping_the_first():
    text = """
HloModule m

ENTRY main {
  x = f32[4]{0} parameter(0)
  a1 = f32[4]{0} exponential(x)
  a2 = f32[4]{0} exponential(x)
  b1 = f32[4]{0} add(a1, x)
  b2 = f32[4]{0} add(a2, x)
  ROOT t = (f32[4]{0}, f32[4]{0}) tuple(b1, b2)
}
"""
    changed, module = run_pass(CommonSubexpressionElimination(), text)
    assert changed
    assert root_operands(module) == ["b1", "b1"]
    assert [op.name for op in find(module, "b1").operands] == ["a1", "x"]
    assert "a2" not in [i.name for i in module.entry.instructions]


def test_cse_merges_equal_constants_by_value_only():
    text = """
HloModule m

ENTRY main {
  c1 = f32[3]{0} constant({1, 2, 3})
  c2 = f32[3]{0} constant({1, 2, 3})
  c3 = f32[3]{0} constant({1, 2, 4})
  c4 = s32[3]{0} constant({1, 2, 3})
  z1 = f32[] constant(0)
  z2 = f32[] constant(-0)
  ROOT t = (f32[3]{0}, f32[3]{0}, f32[3]{0}, s32[3]{0}, f32[], f32[]) tuple(c1, c2, c3, c4, z1, z2)
}
"""
    changed, module = run_pass(CommonSubexpressionElimination(), text)
    assert changed
    # -0 and 0 differ in bits (and in 1/x), so they are not merged.
    assert root_operands(module) == ["c1", "c1", "c3", "c4", "z1", "z2"]


def test_cse_never_merges_parameters_and_respects_attributes():
    text = """
HloModule m

ENTRY main {
  p0 = f32[2,2]{1,0} parameter(0)
  p1 = f32[2,2]{1,0} parameter(1)
  t1 = f32[2,2]{1,0} transpose(p0), dimensions={1,0}
  t2 = f32[2,2]{1,0} transpose(p0), dimensions={0,1}
  c1 = pred[2,2]{1,0} compare(p0, p1), direction=LT
  c2 = pred[2,2]{1,0} compare(p0, p1), direction=GT
  ROOT t = (f32[2,2]{1,0}, f32[2,2]{1,0}, f32[2,2]{1,0}, f32[2,2]{1,0}, pred[2,2]{1,0}, pred[2,2]{1,0}) tuple(p0, p1, t1, t2, c1, c2)
}
"""
    changed, module = run_pass(CommonSubexpressionElimination(), text)
    assert not changed
    assert root_operands(module) == ["p0", "p1", "t1", "t2", "c1", "c2"]


def test_cse_commutative_operands():
    text = """
HloModule m

ENTRY main {
  x = f32[4]{0} parameter(0)
  y = f32[4]{0} parameter(1)
  a1 = f32[4]{0} add(x, y)
  a2 = f32[4]{0} add(y, x)
  s1 = f32[4]{0} subtract(x, y)
  s2 = f32[4]{0} subtract(y, x)
  ROOT t = (f32[4]{0}, f32[4]{0}, f32[4]{0}, f32[4]{0}) tuple(a1, a2, s1, s2)
}
"""
    changed, module = run_pass(CommonSubexpressionElimination(), text)
    assert changed
    assert root_operands(module) == ["a1", "a1", "s1", "s2"]


def test_cse_chains_collapse_in_one_run():
    text = """
HloModule m

ENTRY main {
  x = f32[4]{0} parameter(0)
  c1 = f32[] constant(2)
  c2 = f32[] constant(2)
  b1 = f32[4]{0} broadcast(c1), dimensions={}
  b2 = f32[4]{0} broadcast(c2), dimensions={}
  m1 = f32[4]{0} multiply(x, b1)
  m2 = f32[4]{0} multiply(x, b2)
  ROOT s = f32[4]{0} add(m1, m2)
}
"""
    changed, module = run_pass(CommonSubexpressionElimination(), text)
    assert changed
    assert [op.name for op in module.entry.root.operands] == ["m1", "m1"]
    assert opcodes(module) == ["parameter", "constant", "broadcast", "multiply", "add"]


def test_cse_merges_duplicate_reducers_and_then_their_reductions():
    text = """
HloModule m

add_a {
  a0 = f32[] parameter(0)
  a1 = f32[] parameter(1)
  ROOT a2 = f32[] add(a0, a1)
}

add_b {
  b0 = f32[] parameter(0)
  b1 = f32[] parameter(1)
  ROOT b2 = f32[] add(b0, b1)
}

max_c {
  c0 = f32[] parameter(0)
  c1 = f32[] parameter(1)
  ROOT c2 = f32[] maximum(c0, c1)
}

ENTRY main {
  x = f32[4,3]{1,0} parameter(0)
  zero = f32[] constant(0)
  r1 = f32[4]{0} reduce(x, zero), dimensions={1}, to_apply=add_a
  r2 = f32[4]{0} reduce(x, zero), dimensions={1}, to_apply=add_b
  r3 = f32[4]{0} reduce(x, zero), dimensions={1}, to_apply=max_c
  ROOT t = (f32[4]{0}, f32[4]{0}, f32[4]{0}) tuple(r1, r2, r3)
}
"""
    changed, module = run_pass(CommonSubexpressionElimination(), text)
    assert changed
    assert root_operands(module) == ["r1", "r1", "r3"]
    assert sorted(c.name for c in module.computations) == ["add_a", "main", "max_c"]


def test_cse_never_shares_fused_computations():
    text = """
HloModule m

fused_a {
  pa = f32[4]{0} parameter(0)
  ROOT ea = f32[4]{0} exponential(pa)
}

fused_b {
  pb = f32[4]{0} parameter(0)
  ROOT eb = f32[4]{0} exponential(pb)
}

ENTRY main {
  x = f32[4]{0} parameter(0)
  f1 = f32[4]{0} fusion(x), kind=kLoop, calls=fused_a
  f2 = f32[4]{0} fusion(x), kind=kLoop, calls=fused_b
  ROOT t = (f32[4]{0}, f32[4]{0}) tuple(f1, f2)
}
"""
    changed, module = run_pass(CommonSubexpressionElimination(), text)
    assert not changed
    assert sorted(c.name for c in module.computations) == ["fused_a", "fused_b", "main"]


# -- constant folding ------------------------------------------------------------------


def test_constant_folding_folds_constant_expressions():
    text = """
HloModule m

ENTRY main {
  x = f32[2]{0} parameter(0)
  a = f32[2]{0} constant({1, 2})
  b = f32[2]{0} constant({10, 20})
  s = f32[2]{0} add(a, b)
  n = f32[2]{0} negate(s)
  ROOT r = f32[2]{0} multiply(x, n)
}
"""
    changed, module = run_pass(ConstantFolding(), text)
    assert changed
    n = find(module, "n")
    assert n.opcode == "constant"
    np.testing.assert_array_equal(n.attrs["literal"], np.array([-11, -22], np.float32))
    assert n.attrs["literal"].dtype == np.float32
    assert [op.name for op in module.entry.root.operands] == ["x", "n"]
    assert find(module, "r").opcode == "multiply"  # depends on a parameter


def test_constant_folding_keeps_metadata():
    b = Builder("main")
    b.metadata = {"op_type": "AddV2", "op_name": "bias/add"}
    s = b.binary("add", b.constant(np.float32([1, 2])), b.constant(np.float32([3, 4])))
    module = b.module(b.tuple([s]))
    assert ConstantFolding().run(module)
    folded = module.entry.root.operands[0]
    assert folded.opcode == "constant"
    assert folded.metadata == {"op_type": "AddV2", "op_name": "bias/add"}


def test_constant_folding_leaves_big_broadcast_and_iota_symbolic():
    text = """
HloModule m

ENTRY main {
  c = f32[] constant(1)
  big = f32[64,64]{1,0} broadcast(c), dimensions={}
  small = f32[4,4]{1,0} broadcast(c), dimensions={}
  i_big = s32[2048]{0} iota(), iota_dimension=0
  i_small = s32[8]{0} iota(), iota_dimension=0
  ROOT t = (f32[64,64]{1,0}, f32[4,4]{1,0}, s32[2048]{0}, s32[8]{0}) tuple(big, small, i_big, i_small)
}
"""
    changed, module = run_pass(ConstantFolding(max_elements=1024), text)
    assert changed
    assert find(module, "big").opcode == "broadcast"
    assert find(module, "i_big").opcode == "iota"
    assert find(module, "small").opcode == "constant"
    i_small = find(module, "i_small")
    assert i_small.opcode == "constant"
    np.testing.assert_array_equal(i_small.attrs["literal"], np.arange(8, dtype=np.int32))


def test_constant_folding_transposes_big_weights():
    # The transposed weight is as big as the original, which then dies: fold regardless
    # of the size limit.
    w = np.arange(48 * 48, dtype=np.float32).reshape(48, 48)
    b = Builder("main")
    x = b.parameter(Shape.array("f32", [2, 48]), "x")
    wt = b.transpose(b.constant(w), [1, 0])
    d = b.dot(x, wt, lhs_contracting=[1], rhs_contracting=[0])
    module = b.module(b.tuple([d]))
    assert ConstantFolding(max_elements=16).run(module)
    folded = d.operands[1]
    assert folded.opcode == "constant"
    np.testing.assert_array_equal(folded.attrs["literal"], w.T)
    assert DeadCodeElimination().run(module)
    assert opcodes(module) == ["parameter", "constant", "dot", "tuple"]


def test_constant_folding_skips_tuples_parameters_and_large_results():
    text = """
HloModule m

ENTRY main {
  x = f32[2]{0} parameter(0)
  a = f32[2]{0} constant({1, 2})
  pair = (f32[2]{0}, f32[2]{0}) tuple(a, a)
  g = f32[2]{0} get-tuple-element(pair), index=0
  p = f32[2]{0} add(x, a)
  ROOT t = (f32[2]{0}, f32[2]{0}) tuple(g, p)
}
"""
    changed, module = run_pass(ConstantFolding(), text)
    assert not changed
    assert opcodes(module) == ["parameter", "constant", "tuple", "get-tuple-element", "add", "tuple"]


def test_constant_folding_reduce_with_reducer():
    text = """
HloModule m

add_f32 {
  lhs = f32[] parameter(0)
  rhs = f32[] parameter(1)
  ROOT s = f32[] add(lhs, rhs)
}

ENTRY main {
  c = f32[2,3]{1,0} constant({{1, 2, 3}, {4, 5, 6}})
  zero = f32[] constant(0)
  ROOT r = f32[2]{0} reduce(c, zero), dimensions={1}, to_apply=add_f32
}
"""
    changed, module = run_pass(ConstantFolding(), text)
    assert changed
    assert module.entry.root.opcode == "constant"
    np.testing.assert_array_equal(module.entry.root.attrs["literal"], np.float32([6, 15]))


# -- algebraic simplification ----------------------------------------------------------


def simplify(text):
    module = parse_module(text)
    changed = AlgebraicSimplifier().run(module)
    DeadCodeElimination().run(module)
    return changed, module


def test_simplify_additive_and_multiplicative_identities():
    text = """
HloModule m

ENTRY main {
  x = f32[2,3]{1,0} parameter(0)
  c0 = f32[] constant(0)
  c1 = f32[] constant(1)
  b0 = f32[2,3]{1,0} broadcast(c0), dimensions={}
  b1 = f32[2,3]{1,0} broadcast(c1), dimensions={}
  z = f32[2,3]{1,0} constant({{0, 0, 0}, {0, 0, 0}})
  a1 = f32[2,3]{1,0} add(x, b0)
  a2 = f32[2,3]{1,0} add(z, a1)
  s = f32[2,3]{1,0} subtract(a2, b0)
  m1 = f32[2,3]{1,0} multiply(s, b1)
  m2 = f32[2,3]{1,0} multiply(b1, m1)
  d = f32[2,3]{1,0} divide(m2, b1)
  ROOT t = (f32[2,3]{1,0}) tuple(d)
}
"""
    changed, module = simplify(text)
    assert changed
    assert root_operands(module) == ["x"]
    assert opcodes(module) == ["parameter", "tuple"]
    _, printed = roundtrip(module)
    assert re.search(r"ROOT t = \(f32\[2,3\]\{1,0\}\) tuple\(x\)", printed), printed


def test_simplify_keeps_non_identities():
    text = """
HloModule m

ENTRY main {
  x = f32[3]{0} parameter(0)
  c = f32[3]{0} constant({0, 1, 0})
  a = f32[3]{0} add(x, c)
  m = f32[3]{0} multiply(x, c)
  s = f32[3]{0} subtract(c, x)
  d = f32[3]{0} divide(c, x)
  ROOT t = (f32[3]{0}, f32[3]{0}, f32[3]{0}, f32[3]{0}) tuple(a, m, s, d)
}
"""
    changed, module = simplify(text)
    assert not changed
    assert root_operands(module) == ["a", "m", "s", "d"]


def test_simplify_reshapes():
    text = """
HloModule m

ENTRY main {
  x = f32[2,3]{1,0} parameter(0)
  r1 = f32[3,2]{1,0} reshape(x)
  r2 = f32[6]{0} reshape(r1)
  r3 = f32[1,6]{1,0} reshape(r2)
  same = f32[2,3]{1,0} reshape(x)
  back = f32[2,3]{1,0} reshape(r1)
  ROOT t = (f32[1,6]{1,0}, f32[2,3]{1,0}, f32[2,3]{1,0}) tuple(r3, same, back)
}
"""
    changed, module = simplify(text)
    assert changed
    r3 = find(module, "r3")
    assert r3.opcode == "reshape" and [o.name for o in r3.operands] == ["x"]
    assert root_operands(module) == ["r3", "x", "x"]


def test_simplify_transposes():
    text = """
HloModule m

ENTRY main {
  x = f32[2,3,4]{2,1,0} parameter(0)
  t1 = f32[3,4,2]{2,1,0} transpose(x), dimensions={1,2,0}
  t2 = f32[4,2,3]{2,1,0} transpose(t1), dimensions={1,2,0}
  id = f32[2,3,4]{2,1,0} transpose(x), dimensions={0,1,2}
  inv = f32[2,3,4]{2,1,0} transpose(t1), dimensions={2,0,1}
  ROOT t = (f32[4,2,3]{2,1,0}, f32[2,3,4]{2,1,0}, f32[2,3,4]{2,1,0}) tuple(t2, id, inv)
}
"""
    changed, module = simplify(text)
    assert changed
    t2 = find(module, "t2")
    assert t2.opcode == "transpose"
    assert [o.name for o in t2.operands] == ["x"]
    assert tuple(t2.attrs["dimensions"]) == (2, 0, 1)
    assert root_operands(module) == ["t2", "x", "x"]
    assert "t1" not in [i.name for i in module.entry.instructions]


def test_simplify_noop_convert_slice_broadcast_copy_negate():
    text = """
HloModule m

ENTRY main {
  x = f32[2,3]{1,0} parameter(0)
  cv = f32[2,3]{1,0} convert(x)
  sl = f32[2,3]{1,0} slice(cv), slice={[0:2], [0:3]}
  bc = f32[2,3]{1,0} broadcast(sl), dimensions={0,1}
  cp = f32[2,3]{1,0} copy(bc)
  n1 = f32[2,3]{1,0} negate(cp)
  n2 = f32[2,3]{1,0} negate(n1)
  real_cv = s32[2,3]{1,0} convert(x)
  real_sl = f32[2,2]{1,0} slice(x), slice={[0:2], [1:3]}
  real_bc = f32[4,2,3]{2,1,0} broadcast(sl), dimensions={1,2}
  ROOT t = (f32[2,3]{1,0}, s32[2,3]{1,0}, f32[2,2]{1,0}) tuple(n2, real_cv, real_sl)
}
"""
    changed, module = simplify(text)
    assert changed
    assert root_operands(module) == ["x", "real_cv", "real_sl"]
    assert opcodes(module) == ["parameter", "convert", "slice", "tuple"]


def test_simplify_get_tuple_element_of_tuple():
    text = """
HloModule m

ENTRY main {
  x = f32[2]{0} parameter(0)
  y = f32[3]{0} parameter(1)
  pair = (f32[2]{0}, f32[3]{0}) tuple(x, y)
  g = f32[3]{0} get-tuple-element(pair), index=1
  ROOT e = f32[3]{0} exponential(g)
}
"""
    changed, module = simplify(text)
    assert changed
    assert [o.name for o in module.entry.root.operands] == ["y"]


def test_simplify_broadcasts_of_broadcasts_and_moved_splats():
    text = """
HloModule m

ENTRY main {
  x = f32[3]{0} parameter(0)
  y = f32[2,3]{1,0} parameter(1)
  inner = f32[2,3]{1,0} broadcast(x), dimensions={1}
  outer = f32[2,4,3]{2,1,0} broadcast(inner), dimensions={0,2}
  c0 = f32[] constant(0)
  b0 = f32[3,2]{1,0} broadcast(c0), dimensions={}
  t0 = f32[2,3]{1,0} transpose(b0), dimensions={1,0}
  r0 = f32[6]{0} reshape(b0)
  r1 = f32[2,3]{1,0} reshape(r0)
  a = f32[2,3]{1,0} add(y, t0)
  s = f32[2,3]{1,0} subtract(a, r1)
  ROOT t = (f32[2,4,3]{2,1,0}, f32[2,3]{1,0}) tuple(outer, s)
}
"""
    changed, module = simplify(text)
    assert changed
    outer = find(module, "outer")
    assert [o.name for o in outer.operands] == ["x"]
    assert tuple(outer.attrs["dimensions"]) == (2,)
    assert root_operands(module) == ["outer", "y"]


def test_simplify_select_max_min_pad_concatenate_reverse():
    text = """
HloModule m

ENTRY main {
  x = f32[3]{0} parameter(0)
  y = f32[3]{0} parameter(1)
  p = pred[3]{0} parameter(2)
  yes = pred[] constant(true)
  all_yes = pred[3]{0} broadcast(yes), dimensions={}
  s1 = f32[3]{0} select(p, x, x)
  s2 = f32[3]{0} select(all_yes, s1, y)
  mx = f32[3]{0} maximum(s2, s2)
  mn = f32[3]{0} minimum(mx, mx)
  zero = f32[] constant(0)
  pd = f32[3]{0} pad(mn, zero), padding=0_0
  cc = f32[3]{0} concatenate(pd), dimensions={0}
  one = f32[1,3]{1,0} reshape(cc)
  rv = f32[1,3]{1,0} reverse(one), dimensions={0}
  real = f32[3]{0} select(p, x, y)
  ROOT t = (f32[1,3]{1,0}, f32[3]{0}) tuple(rv, real)
}
"""
    changed, module = simplify(text)
    assert changed
    assert root_operands(module) == ["one", "real"]
    assert [o.name for o in find(module, "one").operands] == ["x"]


def test_simplify_reports_no_change_on_second_run():
    changed, module = simplify(DEAD)
    assert AlgebraicSimplifier().run(module) is False


# -- pipeline --------------------------------------------------------------------------


class BreakShapes(ModulePass):
    """A deliberately wrong pass: it gives the root's operand an impossible shape."""

    name = "break-shapes"

    def run(self, module):
        victim = module.entry.root.operands[0]
        victim.shape = Shape.array("f32", [7, 7])
        return True


class Raises(ModulePass):
    name = "raises"

    def run(self, module):
        raise ValueError("boom")


SMALL = """
HloModule m

ENTRY main {
  x = f32[2,3]{1,0} parameter(0)
  c0 = f32[] constant(0)
  b = f32[2,3]{1,0} broadcast(c0), dimensions={}
  a = f32[2,3]{1,0} add(x, b)
  ROOT t = (f32[2,3]{1,0}) tuple(a)
}
"""


def test_pipeline_names_the_pass_that_broke_the_module():
    module = parse_module(SMALL)
    pipeline = Pipeline("p", [DeadCodeElimination(), BreakShapes(), AlgebraicSimplifier()])
    with pytest.raises(PassPipelineError, match="break-shapes") as info:
        pipeline.run(module)
    assert info.value.pass_name == "break-shapes"
    assert "pipeline 'p'" in str(info.value)


def test_pipeline_annotates_exceptions_raised_by_a_pass():
    pipeline = Pipeline("p", [Raises()])
    with pytest.raises(ValueError, match="boom") as info:
        pipeline.run(parse_module(SMALL))
    assert any("raises" in note for note in info.value.__notes__)


def test_pipeline_rejects_invalid_input_without_blaming_a_pass():
    module = parse_module(SMALL)
    BreakShapes().run(module)
    with pytest.raises(PassPipelineError, match="input") as info:
        Pipeline("p", [DeadCodeElimination()]).run(module)
    assert info.value.pass_name is None


def test_pipeline_dumps_every_pass(tmp_path):
    module = parse_module(SMALL)
    pipeline = Pipeline("p", [AlgebraicSimplifier(), DeadCodeElimination()], dump_dir=tmp_path)
    assert pipeline.run(module)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["00-input.dot", "00-input.hlo", "01-algsimp.dot", "01-algsimp.hlo",
                     "02-dce.dot", "02-dce.hlo"]
    assert "broadcast" in (tmp_path / "00-input.hlo").read_text()
    after = parse_module((tmp_path / "02-dce.hlo").read_text())
    assert opcodes(after) == ["parameter", "tuple"]
    assert "digraph" in (tmp_path / "02-dce.dot").read_text()


def test_pipeline_fixed_point_and_dump_numbering(tmp_path):
    module = parse_module(SMALL)
    pipeline = Pipeline("p", [AlgebraicSimplifier(), DeadCodeElimination()], dump_dir=tmp_path,
                        fixed_point=True)
    assert pipeline.run(module)
    # Iteration 1 changes the module, iteration 2 finds nothing to do and stops.
    hlo = sorted(p.name for p in tmp_path.glob("*.hlo"))
    assert hlo == ["00-input.hlo", "01-algsimp.hlo", "02-dce.hlo", "03-algsimp.hlo", "04-dce.hlo"]
    assert pipeline.run(module) is False


def test_dump_text_creates_directories(tmp_path):
    path = dump_text(tmp_path / "a" / "b", "final.txt", "hello")
    assert path.read_text() == "hello\n"


def test_default_pipeline_optimizes_to_a_fixed_point():
    text = """
HloModule m

ENTRY main {
  x = f32[2,2]{1,0} parameter(0)
  w = f32[2,2]{1,0} constant({{1, 2}, {3, 4}})
  wt = f32[2,2]{1,0} transpose(w), dimensions={1,0}
  wtt = f32[2,2]{1,0} transpose(wt), dimensions={1,0}
  c0 = f32[] constant(0)
  b0 = f32[2,2]{1,0} broadcast(c0), dimensions={}
  d1 = f32[2,2]{1,0} dot(x, wtt), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  d2 = f32[2,2]{1,0} dot(x, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  s = f32[2,2]{1,0} add(d1, b0)
  r = f32[2,2]{1,0} add(s, d2)
  ROOT t = (f32[2,2]{1,0}) tuple(r)
}
"""
    module = parse_module(text)
    arg = np.float32([[1, -2], [0.5, 3]])
    before = evaluate(module, arg)
    # Fusion would wrap the dot and the add; tests/test_fusion.py covers that stage.
    assert default_pipeline(fusion=False).run(module)
    assert opcodes(module) == ["parameter", "constant", "dot", "add", "tuple"]
    r = find(module, "r")
    assert r.operands[0] is r.operands[1]
    _assert_same_results(before, evaluate(module, arg))


# -- passes preserve results on random modules -----------------------------------------


def _flatten(value):
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _flatten(v)]
    return [np.asarray(value)]


def _assert_same_results(before, after):
    before, after = _flatten(before), _flatten(after)
    assert len(before) == len(after)
    for b, a in zip(before, after):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def random_module(seed):
    """A random chain of elementwise ops, dots, reductions and data movement on f32[4,5]
    values, seeded with things each pass acts on: zeros and ones to simplify, repeated
    subexpressions, constant-only subgraphs, dead values and transposes of constants."""
    rng = np.random.default_rng(seed)
    b = Builder(f"random{seed}")
    dims = [4, 5]
    pool = [b.parameter(Shape.array("f32", dims), f"p{i}") for i in range(2)]
    pool.append(b.constant(rng.standard_normal(dims).astype(np.float32)))
    reducer = scalar_computation("add", "f32")

    def pick():
        return pool[rng.integers(len(pool))]

    def repeat(inst):
        # A second, identical instruction for CSE to find (parameters are inputs, not
        # expressions: use something computed from one instead).
        if inst.opcode == "parameter":
            return b.unary("tanh", inst)
        return b.add(inst.opcode, inst.operands, inst.attrs, inst.called_computations,
                     shape=inst.shape)

    def splat(value):
        return b.broadcast(b.constant(np.float32(value)), dims, [])

    steps = {
        "binary": lambda: b.binary(str(rng.choice(["add", "subtract", "multiply", "maximum"])),
                                   pick(), pick()),
        "unary": lambda: b.unary(str(rng.choice(["tanh", "negate", "abs"])), pick()),
        "plus_zero": lambda: b.binary("add", pick(), splat(0)),
        "times_one": lambda: b.binary("multiply", splat(1), pick()),
        "repeat": lambda: repeat(pool[-1]),
        "constant": lambda: b.binary("multiply", b.constant(rng.standard_normal(dims).astype(np.float32)),
                                     splat(0.5)),
        "transposes": lambda: b.transpose(b.transpose(pick(), [1, 0]), [1, 0]),
        "reshapes": lambda: b.reshape(b.reshape(b.reshape(pick(), [20]), [5, 4]), dims),
        "dot": lambda: b.dot(b.dot(pick(), b.transpose(pick(), [1, 0]),
                                   lhs_contracting=[1], rhs_contracting=[0]),
                             pick(), lhs_contracting=[1], rhs_contracting=[0]),
        "reduce": lambda: b.broadcast(b.reduce(pick(), b.constant(np.float32(0)), [1], reducer),
                                      dims, [0]),
        "dead": lambda: (b.unary("exponential", pick()), pick())[1],
    }
    names = list(steps)
    for _ in range(12):
        value = steps[names[rng.integers(len(names))]]()
        if value.opcode not in ("parameter",):
            pool.append(value)
    module = b.module(b.tuple([pool[-1], pool[-2], pool[-3]]))
    args = [rng.standard_normal(dims).astype(np.float32) for _ in range(2)]
    return module, args


PASSES = {
    "dce": DeadCodeElimination,
    "cse": CommonSubexpressionElimination,
    "constant-folding": lambda: ConstantFolding(max_elements=8),
    "algsimp": AlgebraicSimplifier,
    "default": default_pipeline,
}


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("name", sorted(PASSES))
def test_passes_preserve_results(name, seed):
    module, args = random_module(seed)
    before = evaluate(module, *args)
    count = len(module.entry.instructions)
    PASSES[name]().run(module)
    _assert_same_results(before, evaluate(module, *args))
    assert len(module.entry.instructions) <= count
    # The result is still valid, printable HLO.
    reparsed, _ = roundtrip(module)
    _assert_same_results(before, evaluate(reparsed, *args))


def test_default_pipeline_shrinks_random_modules():
    module, args = random_module(3)
    count = len(module.entry.instructions)
    default_pipeline().run(module)
    assert len(module.entry.instructions) < count
