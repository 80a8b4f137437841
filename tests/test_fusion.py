"""The optimizing middle: call inlining, contraction simplifications, instruction fusion.

XLA-style: HLO text in, one pass run, checks on the module out; every rewrite is also
checked against the evaluator (same results before and after), on hand-written modules
and on random ones through the whole default pipeline. The CPU backend's emission of
fusions is tested in tests/test_fusion_backend.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotc.hlo import Builder, Shape, verify
from aotc.hlo.evaluation import evaluate
from aotc.hlo.opcodes import OPCODES, OpInfo
from aotc.hlo.parser import parse_module
from aotc.hlo.printer import print_module
from aotc.passes.dce import DeadCodeElimination
from aotc.passes.fusion import InstructionFusion
from aotc.passes.fusion_analysis import find_hero, reuses_operand
from aotc.passes.inline import CallInliner
from aotc.passes.multi_output_fusion import MultiOutputFusion
from aotc.passes.pipeline import Pipeline, default_pipeline
from aotc.passes.simplifier import AlgebraicSimplifier
from aotc.report import NO_CODE
from fusion_fixtures import ACTIVATIONS, DENSE, REDUCERS, random_module

# -- helpers ---------------------------------------------------------------------------------


def run(pass_, text):
    """Parse `text`, run `pass_`, verify; return (changed, module)."""
    module = parse_module(text)
    changed = pass_.run(module)
    verify(module)
    return changed, module


def entry(module, name):
    for inst in module.entry.instructions:
        if inst.name == name:
            return inst
    raise AssertionError(f"no {name} in {[i.name for i in module.entry.instructions]}")


def kernels(module):
    """Entry instructions that emit code (the --report definition)."""
    return [i for i in module.entry.instructions if i.opcode not in NO_CODE]


def fusions(module):
    return [i for i in module.entry.instructions if i.opcode == "fusion"]


def fused_opcodes(fusion):
    return sorted(i.opcode for i in fusion.called_computations[0].instructions
                  if i.opcode != "parameter")


def random_args(module, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2, 2, p.shape.dims).astype(p.shape.element_type.np_dtype)
            for p in module.entry.parameters]


def flat(value):
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in flat(v)]
    return [np.asarray(value)]


def assert_same(before, after, rtol=1e-5, atol=1e-6):
    before, after = flat(before), flat(after)
    assert len(before) == len(after)
    for b, a in zip(before, after):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def check_preserves(pass_, text, rtol=1e-5, atol=1e-6):
    """Run `pass_` on `text`; assert results are unchanged and the module reparses."""
    module = parse_module(text)
    args = random_args(module)
    before = evaluate(module, *args)
    changed = pass_.run(module)
    verify(module)
    assert_same(before, evaluate(module, *args), rtol, atol)
    reparsed = parse_module(print_module(module))
    assert_same(before, evaluate(reparsed, *args), rtol, atol)
    return changed, module


# -- call inlining ---------------------------------------------------------------------------

CALLS = """
HloModule m

inner {
  ip = f32[4]{0} parameter(0)
  ROOT ie = f32[4]{0} exponential(ip)
}

body {
  bp = f32[4]{0} parameter(0)
  bq = f32[4]{0} parameter(1)
  bc = f32[4]{0} call(bp), to_apply=inner
  unused = f32[4]{0} negate(bq)
  ROOT bs = f32[4]{0} multiply(bc, bq)
}

ENTRY main {
  x = f32[4]{0} parameter(0)
  y = f32[4]{0} parameter(1)
  c1 = f32[4]{0} call(x, y), to_apply=body
  c2 = f32[4]{0} call(c1, x), to_apply=body
  ROOT t = (f32[4]{0}, f32[4]{0}) tuple(c1, c2)
}
"""


def test_inliner_replaces_every_call_with_the_callee_body():
    changed, module = check_preserves(CallInliner(), CALLS)
    assert changed
    opcodes = [i.opcode for c in module.computations for i in c.instructions]
    assert "call" not in opcodes
    assert [c.name for c in module.computations] == ["main"]
    # Two copies of `body`, each with its own copy of `inner`; the callee's dead
    # instruction is not copied.
    ops = [i.opcode for i in module.entry.instructions]
    assert ops.count("exponential") == 2 and ops.count("multiply") == 2
    assert "negate" not in ops
    t = module.entry.root
    assert [op.opcode for op in t.operands] == ["multiply", "multiply"]


def test_inliner_keeps_names_unique_and_metadata():
    text = CALLS.replace("ROOT bs = f32[4]{0} multiply(bc, bq)",
                         'ROOT bs = f32[4]{0} multiply(bc, bq), metadata={op_name="mul"}')
    _, module = run(CallInliner(), text)
    names = [i.name for i in module.entry.instructions]
    assert len(names) == len(set(names))
    muls = [i for i in module.entry.instructions if i.opcode == "multiply"]
    assert all(m.metadata == {"op_name": "mul"} for m in muls)
    assert CallInliner().run(module) is False


def test_inliner_handles_a_callee_returning_its_parameter():
    text = """
HloModule m

identity {
  p = f32[2]{0} parameter(0)
  ROOT n = f32[2]{0} negate(p)
}

pass_through {
  q = f32[2]{0} parameter(0)
  ROOT q2 = f32[2]{0} copy(q)
}

ENTRY main {
  x = f32[2]{0} parameter(0)
  c = f32[2]{0} call(x), to_apply=identity
  ROOT r = f32[2]{0} call(c), to_apply=pass_through
}
"""
    changed, module = check_preserves(CallInliner(), text)
    assert [i.opcode for i in module.entry.instructions] == ["parameter", "negate", "copy"]
    assert module.entry.root.opcode == "copy"


def test_default_pipeline_inlines_first():
    module = parse_module(CALLS)
    default_pipeline(fusion=False).run(module)
    assert all(i.opcode != "call" for c in module.computations for i in c.instructions)


# -- transpose folding -----------------------------------------------------------------------


def test_transpose_of_lhs_folds_into_dot_dimension_numbers():
    text = """
HloModule m
ENTRY main {
  x = f32[3,2]{1,0} parameter(0)
  y = f32[3,4]{1,0} parameter(1)
  xt = f32[2,3]{1,0} transpose(x), dimensions={1,0}
  ROOT d = f32[2,4]{1,0} dot(xt, y), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}
"""
    changed, module = check_preserves(AlgebraicSimplifier(), text)
    assert changed
    d = module.entry.root
    assert d.operands[0].name == "x"
    assert d.attrs["lhs_contracting_dims"] == (0,)
    assert d.attrs["rhs_contracting_dims"] == (0,)


def test_batch_dot_folds_transposes_of_both_operands():
    text = """
HloModule m
ENTRY main {
  x = f32[5,3,2]{2,1,0} parameter(0)
  y = f32[2,3,4]{2,1,0} parameter(1)
  xt = f32[3,5,2]{2,1,0} transpose(x), dimensions={1,0,2}
  yt = f32[3,2,4]{2,1,0} transpose(y), dimensions={1,0,2}
  ROOT d = f32[3,5,4]{2,1,0} dot(xt, yt), lhs_batch_dims={0}, rhs_batch_dims={0}, lhs_contracting_dims={2}, rhs_contracting_dims={1}
}
"""
    changed, module = check_preserves(AlgebraicSimplifier(), text)
    d = module.entry.root
    assert [op.name for op in d.operands] == ["x", "y"]
    assert d.attrs["lhs_batch_dims"] == (1,) and d.attrs["lhs_contracting_dims"] == (2,)
    assert d.attrs["rhs_batch_dims"] == (1,) and d.attrs["rhs_contracting_dims"] == (0,)


def test_batch_broadcast_weight_becomes_one_gemm():
    """A weight broadcast over the batch of a batched dot (Keras's attention projections)
    is contracted directly, the batch dims becoming free dims of the lhs; a broadcast
    that also adds a non-batch dim, or an lhs whose batch dim is not first, stays."""
    text = """
HloModule m
ENTRY main {
  x = f32[4,3,5]{2,1,0} parameter(0)
  w = f32[5,6]{1,0} parameter(1)
  v = f32[6]{0} parameter(2)
  y = f32[3,4,5]{2,1,0} parameter(3)
  wb = f32[4,5,6]{2,1,0} broadcast(w), dimensions={1,2}
  d = f32[4,3,6]{2,1,0} dot(x, wb), lhs_batch_dims={0}, rhs_batch_dims={0}, lhs_contracting_dims={2}, rhs_contracting_dims={1}
  vb = f32[4,5,6]{2,1,0} broadcast(v), dimensions={2}
  kept = f32[4,3,6]{2,1,0} dot(x, vb), lhs_batch_dims={0}, rhs_batch_dims={0}, lhs_contracting_dims={2}, rhs_contracting_dims={1}
  late = f32[4,3,6]{2,1,0} dot(y, wb), lhs_batch_dims={1}, rhs_batch_dims={0}, lhs_contracting_dims={2}, rhs_contracting_dims={1}
  ROOT t = (f32[4,3,6]{2,1,0}, f32[4,3,6]{2,1,0}, f32[4,3,6]{2,1,0}) tuple(d, kept, late)
}
"""
    changed, module = check_preserves(AlgebraicSimplifier(), text)
    assert changed
    d = entry(module, "d")
    assert [op.name for op in d.operands] == ["x", "w"]
    assert d.attrs["lhs_batch_dims"] == () and d.attrs["rhs_batch_dims"] == ()
    assert d.attrs["lhs_contracting_dims"] == (2,) and d.attrs["rhs_contracting_dims"] == (0,)
    assert entry(module, "kept").operands[1].opcode == "broadcast"
    assert entry(module, "late").operands[1].opcode == "broadcast"


def test_transpose_kept_when_folding_would_reorder_result_or_stride_the_rhs_rows():
    text = """
HloModule m
ENTRY main {
  x = f32[4,3,2]{2,1,0} parameter(0)
  y = f32[3,5]{1,0} parameter(1)
  w = f32[5,3]{1,0} parameter(2)
  xt = f32[2,4,3]{2,1,0} transpose(x), dimensions={2,0,1}
  d1 = f32[2,4,5]{2,1,0} dot(xt, y), lhs_contracting_dims={2}, rhs_contracting_dims={0}
  wt = f32[3,5]{1,0} transpose(w), dimensions={1,0}
  d2 = f32[2,4,5]{2,1,0} dot(xt, wt), lhs_contracting_dims={2}, rhs_contracting_dims={0}
  ROOT t = (f32[2,4,5]{2,1,0}, f32[2,4,5]{2,1,0}) tuple(d1, d2)
}
"""
    changed, module = check_preserves(AlgebraicSimplifier(), text)
    # xt's free dims (x dims 2, 0) would come out as (0, 2): result order changes.
    assert entry(module, "d1").operands[0].name == "xt"
    # Folding wt would make w's minor dim the contracting one: a strided inner loop.
    assert entry(module, "d2").operands[1].name == "wt"


# -- scale folding (batch norm after a dense layer or convolution) ---------------------------

BN_DENSE = """
HloModule m
ENTRY main {
  x = f32[4,3]{1,0} parameter(0)
  w = f32[3,5]{1,0} constant({{1, 2, 3, 4, 5}, {-1, 0, 1, 2, 3}, {0.5, 0.25, 2, -2, 1}})
  d = f32[4,5]{1,0} dot(x, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  s = f32[5]{0} constant({2, 0.5, -1, 3, 0.125})
  bs = f32[4,5]{1,0} broadcast(s), dimensions={1}
  m = f32[4,5]{1,0} multiply(d, bs)
  t = f32[5]{0} constant({0.1, 0.2, 0.3, 0.4, 0.5})
  bt = f32[4,5]{1,0} broadcast(t), dimensions={1}
  ROOT y = f32[4,5]{1,0} add(m, bt)
}
"""


def test_scale_after_dot_folds_into_constant_weights():
    changed, module = check_preserves(AlgebraicSimplifier(), BN_DENSE)
    assert changed
    y = module.entry.root
    dot = y.operands[0]
    assert dot.opcode == "dot" and dot.operands[1].opcode == "constant"
    expected = np.float32([[1, 2, 3, 4, 5], [-1, 0, 1, 2, 3], [0.5, 0.25, 2, -2, 1]]) \
        * np.float32([2, 0.5, -1, 3, 0.125])
    np.testing.assert_allclose(dot.operands[1].attrs["literal"], expected)
    DeadCodeElimination().run(module)
    assert "multiply" not in [i.opcode for i in module.entry.instructions]


def test_scale_folds_from_a_materialized_constant_and_through_a_bias():
    # After constant folding the broadcasts are plain constants; Dense has a bias.
    scale = ", ".join("{" + ", ".join(["2, 0.5, -1, 3, 0.125"]) + "}" for _ in range(4))
    text = f"""
HloModule m
ENTRY main {{
  x = f32[4,3]{{1,0}} parameter(0)
  w = f32[3,5]{{1,0}} constant({{{{1, 2, 3, 4, 5}}, {{-1, 0, 1, 2, 3}}, {{0.5, 0.25, 2, -2, 1}}}})
  d = f32[4,5]{{1,0}} dot(x, w), lhs_contracting_dims={{1}}, rhs_contracting_dims={{0}}
  b = f32[5]{{0}} constant({{1, 1, 1, 1, 1}})
  bb = f32[4,5]{{1,0}} broadcast(b), dimensions={{1}}
  z = f32[4,5]{{1,0}} add(d, bb)
  s = f32[4,5]{{1,0}} constant({{{scale}}})
  ROOT m = f32[4,5]{{1,0}} multiply(z, s)
}}
"""
    pipeline = Pipeline("p", [AlgebraicSimplifier(), DeadCodeElimination()], fixed_point=True)
    changed, module = check_preserves(pipeline, text)
    ops = sorted(i.opcode for i in module.entry.instructions)
    assert ops == ["add", "broadcast", "constant", "constant", "dot", "parameter"]
    bias = module.entry.root.operands[1].operands[0]
    np.testing.assert_allclose(bias.attrs["literal"], [2, 0.5, -1, 3, 0.125])


def test_scale_not_folded_into_shared_weights():
    text = BN_DENSE.replace("ROOT y = f32[4,5]{1,0} add(m, bt)", """y = f32[4,5]{1,0} add(m, bt)
  other = f32[4,5]{1,0} dot(x, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  ROOT out = (f32[4,5]{1,0}, f32[4,5]{1,0}) tuple(y, other)""")
    _, module = check_preserves(AlgebraicSimplifier(), text)
    assert entry(module, "m").opcode == "multiply"


def test_scale_not_folded_when_the_dot_has_other_users_or_scale_varies_in_two_dims():
    text = """
HloModule m
ENTRY main {
  x = f32[2,2]{1,0} parameter(0)
  w = f32[2,2]{1,0} constant({{1, 2}, {3, 4}})
  v = f32[2,2]{1,0} constant({{5, 6}, {7, 8}})
  d = f32[2,2]{1,0} dot(x, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  e = f32[2,2]{1,0} dot(x, v), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  s = f32[2,2]{1,0} constant({{1, 2}, {3, 5}})
  m1 = f32[2,2]{1,0} multiply(d, s)
  m2 = f32[2,2]{1,0} multiply(e, s)
  ROOT t = (f32[2,2]{1,0}, f32[2,2]{1,0}, f32[2,2]{1,0}) tuple(m1, d, m2)
}
"""
    _, module = check_preserves(AlgebraicSimplifier(), text)
    assert entry(module, "m1").opcode == "multiply"
    assert entry(module, "m2").opcode == "multiply"


def test_scale_after_convolution_folds_into_the_kernel():
    text = """
HloModule m
ENTRY main {
  x = f32[1,5,5,2]{3,2,1,0} parameter(0)
  k = f32[3,3,2,4]{3,2,1,0} constant({...})
  c = f32[1,3,3,4]{3,2,1,0} convolution(x, k), window={size=3x3}, dim_labels=b01f_01io->b01f
  s = f32[4]{0} constant({2, -1, 0.5, 3})
  bs = f32[1,3,3,4]{3,2,1,0} broadcast(s), dimensions={3}
  ROOT y = f32[1,3,3,4]{3,2,1,0} multiply(c, bs)
}
"""
    kernel = np.arange(72, dtype=np.float32).reshape(3, 3, 2, 4) / 10
    module = parse_module(text.replace("{...}", _literal_text(kernel)))
    args = random_args(module)
    before = evaluate(module, *args)
    AlgebraicSimplifier().run(module)
    verify(module)
    assert module.entry.root.opcode == "convolution"
    np.testing.assert_allclose(module.entry.root.operands[1].attrs["literal"],
                               kernel * np.float32([2, -1, 0.5, 3]))
    assert_same(before, evaluate(module, *args))


def _literal_text(array) -> str:
    if array.ndim == 0:
        return repr(float(array))
    return "{" + ", ".join(_literal_text(a) for a in array) + "}"


# -- fusion: loop fusion ---------------------------------------------------------------------


def fuse(text, **options):
    """InstructionFusion then DCE (as in the default pipeline), checked against the evaluator."""
    pipeline = Pipeline("fuse", [InstructionFusion(**options), DeadCodeElimination()])
    return check_preserves(pipeline, text)


def test_elementwise_chain_becomes_one_loop_fusion():
    text = """
HloModule m
ENTRY main {
  x = f32[8,16]{1,0} parameter(0)
  v = f32[16]{0} parameter(1)
  bv = f32[8,16]{1,0} broadcast(v), dimensions={1}
  a = f32[8,16]{1,0} add(x, bv)
  c = f32[] constant(0.5)
  bc = f32[8,16]{1,0} broadcast(c), dimensions={}
  m = f32[8,16]{1,0} multiply(a, bc)
  t = f32[16,8]{1,0} transpose(m), dimensions={1,0}
  r = f32[128]{0} reshape(t)
  s = f32[64]{0} slice(r), slice={[0:128:2]}
  ROOT n = f32[64]{0} negate(s)
}
"""
    changed, module = fuse(text)
    assert changed
    (fusion,) = kernels(module)
    assert fusion.opcode == "fusion" and fusion.attrs["kind"] == "kLoop"
    assert fused_opcodes(fusion) == ["add", "broadcast", "broadcast", "constant", "multiply",
                                     "negate", "reshape", "slice", "transpose"]
    assert [op.name for op in fusion.operands] == ["x", "v"]


def test_cheap_producers_are_copied_into_each_consumer():
    text = """
HloModule m
ENTRY main {
  x = f32[64,64]{1,0} parameter(0)
  v = f32[64]{0} parameter(1)
  bv = f32[64,64]{1,0} broadcast(v), dimensions={0}
  a = f32[64,64]{1,0} add(x, bv)
  b = f32[64,64]{1,0} multiply(x, bv)
  ROOT t = (f32[64,64]{1,0}, f32[64,64]{1,0}) tuple(a, b)
}
"""
    _, module = fuse(text)
    assert [i.opcode for i in kernels(module)] == ["fusion", "fusion"]
    assert all("broadcast" in fused_opcodes(f) for f in fusions(module))
    # Names stay unique across the module: the copy of bv got a new one.
    names = [i.name for c in module.computations for i in c.instructions]
    assert len(names) == len(set(names))


EXPENSIVE_SHARED = """
HloModule m
ENTRY main {
  x = f32[128,128]{1,0} parameter(0)
  e = f32[128,128]{1,0} exponential(x)
  a = f32[128,128]{1,0} add(e, x)
  b = f32[128,128]{1,0} multiply(e, x)
  ROOT t = (f32[128,128]{1,0}, f32[128,128]{1,0}) tuple(a, b)
}
"""


def test_expensive_producer_with_several_users_is_not_duplicated():
    _, module = fuse(EXPENSIVE_SHARED)
    assert entry(module, "e").opcode == "exponential"
    assert sum(fused_opcodes(f).count("exponential") for f in fusions(module)) == 0


def test_small_expensive_producer_is_duplicated():
    small = EXPENSIVE_SHARED.replace("128,128", "4,8")
    _, module = fuse(small)
    assert [i.opcode for i in kernels(module)] == ["fusion", "fusion"]
    # With a lower limit the same module keeps e.
    _, module = fuse(small, duplicate_elements=16)
    assert any(i.opcode == "exponential" for i in kernels(module))


def test_expensive_producer_is_not_fused_into_a_broadcast():
    text = """
HloModule m
ENTRY main {
  v = f32[64]{0} parameter(0)
  x = f32[64,64]{1,0} parameter(1)
  e = f32[64]{0} exponential(v)
  be = f32[64,64]{1,0} broadcast(e), dimensions={1}
  ROOT a = f32[64,64]{1,0} add(be, x)
}
"""
    _, module = fuse(text)
    assert [i.opcode for i in kernels(module)] == ["exponential", "fusion"]
    assert fused_opcodes(module.entry.root) == ["add", "broadcast"]


def test_nothing_is_fused_into_dot_operands():
    text = """
HloModule m
ENTRY main {
  x = f32[8,8]{1,0} parameter(0)
  y = f32[8,8]{1,0} parameter(1)
  a = f32[8,8]{1,0} add(x, y)
  n = f32[8,8]{1,0} negate(y)
  ROOT d = f32[8,8]{1,0} dot(a, n), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}
"""
    changed, module = fuse(text)
    assert module.entry.root.opcode == "dot"
    assert [op.opcode for op in module.entry.root.operands] == ["add", "negate"]


def test_unknown_opcodes_are_never_fused(monkeypatch):
    # An opcode added to the IR after fusion was written (here a made-up one) must not be
    # pulled into a loop: fusion has a positive list of what it understands.
    monkeypatch.setitem(OPCODES, "frobnicate", OpInfo("frobnicate", 1, "structural"))
    b = Builder("m")
    x = b.parameter(Shape.array("f32", [4]))
    a = b.binary("add", x, x)
    f = b.add("frobnicate", [a], shape=a.shape)
    n = b.unary("negate", f)
    module = b.module(b.unary("exponential", n))
    InstructionFusion().run(module)
    DeadCodeElimination().run(module)
    ops = [i.opcode for i in module.entry.instructions]
    assert ops == ["parameter", "add", "frobnicate", "fusion"]
    assert fused_opcodes(module.entry.root) == ["exponential", "negate"]


def test_fusion_decision_explains_refusals():
    module = parse_module(EXPENSIVE_SHARED)
    fusion = InstructionFusion(duplicate_elements=0)
    users = {i: set(us) for i, us in module.entry.users().items()}
    a, e, x = entry(module, "a"), entry(module, "e"), entry(module, "x")
    assert "too expensive to copy" in fusion.fusion_decision(a, e, users)
    assert "parameter is not fusible" in fusion.fusion_decision(a, x, users)
    assert "tuple cannot take" in fusion.fusion_decision(module.entry.root, a, users)


# -- fusion: input fusion (reductions) -------------------------------------------------------

SOFTMAX = REDUCERS + """
ENTRY main {
  x = f32[BATCH,CLASSES]{1,0} parameter(0)
  ninf = f32[] constant(-inf)
  mx = f32[BATCH]{0} reduce(x, ninf), dimensions={1}, to_apply=max_f32
  bmx = f32[BATCH,CLASSES]{1,0} broadcast(mx), dimensions={0}
  sh = f32[BATCH,CLASSES]{1,0} subtract(x, bmx)
  e = f32[BATCH,CLASSES]{1,0} exponential(sh)
  zero = f32[] constant(0)
  sm = f32[BATCH]{0} reduce(e, zero), dimensions={1}, to_apply=add_f32
  bsm = f32[BATCH,CLASSES]{1,0} broadcast(sm), dimensions={0}
  y = f32[BATCH,CLASSES]{1,0} divide(e, bsm)
  ROOT t = (f32[BATCH,CLASSES]{1,0}) tuple(y)
}
"""


def softmax(batch, classes):
    return "HloModule m\n" + SOFTMAX.replace("BATCH", str(batch)).replace("CLASSES", str(classes))


def test_softmax_is_three_kernels():
    _, module = fuse(softmax(8, 10))
    ks = kernels(module)
    assert [k.opcode for k in ks] == ["reduce", "fusion", "fusion"]
    assert [k.attrs["kind"] for k in ks[1:]] == ["kInput", "kLoop"]
    # exp(x - max) is computed in the sum's input and again in the divide: two loops over
    # a small tensor instead of a third kernel and a buffer.
    assert fused_opcodes(ks[1]) == ["broadcast", "constant", "exponential", "reduce",
                                    "subtract"]
    assert "exponential" in fused_opcodes(ks[2])


def test_large_softmax_materializes_exp_once():
    _, module = fuse(softmax(64, 1000))
    assert [k.opcode for k in kernels(module)] == ["reduce", "fusion", "reduce", "fusion"]
    assert fused_opcodes(kernels(module)[1]) == ["broadcast", "exponential", "subtract"]


def fuse_multi_output(text):
    """InstructionFusion, DCE, then MultiOutputFusion (as the CPU backend runs them)."""
    pipeline = Pipeline("fuse", [InstructionFusion(), DeadCodeElimination(),
                                 MultiOutputFusion()])
    return check_preserves(pipeline, text)


def test_large_softmax_sums_exp_where_it_computes_it():
    """The exp loop merges into the sum's fusion as a second output (a tuple root): one
    kernel computes, stores and sums exp(x - max); the division reads it back."""
    _, module = fuse_multi_output(softmax(64, 1000))
    ks = kernels(module)
    assert [k.opcode for k in ks] == ["reduce", "fusion", "fusion"]
    merged, divide = ks[1:]
    assert merged.shape.is_tuple and merged.attrs["kind"] == "kInput"
    root = merged.called_computations[0].root
    assert [op.opcode for op in root.operands] == ["reduce", "exponential"]
    assert find_hero(merged.called_computations[0]) is root.operands[0]
    assert sorted((op.opcode, op.attrs.get("index")) for op in divide.operands) == [
        ("get-tuple-element", 0), ("get-tuple-element", 1)]
    assert MultiOutputFusion().run(module) is False  # nothing left to merge


def test_small_softmax_division_reads_the_exp_its_sum_stored():
    """fusion.py copies the exp of a small softmax into the sum and into the division; the
    division then reads it from the sum's fusion instead (a sibling output) rather than
    computing it again. x - max, cheap, is not taken over (log-softmax's subtraction)."""
    _, module = fuse_multi_output(softmax(8, 10))
    ks = kernels(module)
    assert [k.opcode for k in ks] == ["reduce", "fusion", "fusion"]
    merged, divide = ks[1:]
    root = merged.called_computations[0].root
    assert [op.opcode for op in root.operands] == ["reduce", "exponential"]
    assert fused_opcodes(divide) == ["broadcast", "divide"]
    assert sorted(op.attrs.get("index") for op in divide.operands) == [0, 1]
    text = "HloModule m\n" + SOFTMAX.replace("BATCH", "8").replace("CLASSES", "10").replace(
        "divide(e, bsm)", "subtract(sh, bsm)")
    _, module = fuse_multi_output(text)
    assert not any(k.shape.is_tuple for k in kernels(module))


def test_multi_output_fusion_refuses_a_producer_another_operand_depends_on():
    """A producer that another operand of the reduce fusion also depends on (a dot of it)
    stays: the merged fusion would read its own output. A returned one merges, and the
    entry returns the sibling output."""
    text = "HloModule m\n" + REDUCERS + """
ENTRY main {
  x = f32[64,128]{1,0} parameter(0)
  w = f32[128,128]{1,0} parameter(1)
  e = f32[64,128]{1,0} exponential(x)
  d = f32[64,128]{1,0} dot(e, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  a = f32[64,128]{1,0} add(e, d)
  zero = f32[] constant(0)
  s = f32[64]{0} reduce(a, zero), dimensions={1}, to_apply=add_f32
  ROOT t = (f32[64]{0}, f32[64,128]{1,0}) tuple(s, e)
}
"""
    changed, module = fuse_multi_output(text)
    assert not any(k.shape.is_tuple for k in kernels(module))
    returned = text.replace("add(e, d)", "add(e, x)").replace(
        "  d = f32[64,128]{1,0} dot(e, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}\n", "")
    changed, module = fuse_multi_output(returned)
    assert changed
    (merged,) = [k for k in kernels(module) if k.shape.is_tuple]
    assert [(op.opcode, op.operands[0]) for op in module.entry.root.operands] == [
        ("get-tuple-element", merged)] * 2


def test_layer_norm_moments_fuse_into_their_reductions():
    text = "HloModule m\n" + REDUCERS + """
ENTRY main {
  x = f32[16,32]{1,0} parameter(0)
  zero = f32[] constant(0)
  n = f32[] constant(32)
  s = f32[16]{0} reduce(x, zero), dimensions={1}, to_apply=add_f32
  bn = f32[16]{0} broadcast(n), dimensions={}
  mean = f32[16]{0} divide(s, bn)
  bmean = f32[16,32]{1,0} broadcast(mean), dimensions={0}
  d = f32[16,32]{1,0} subtract(x, bmean)
  d2 = f32[16,32]{1,0} multiply(d, d)
  v = f32[16]{0} reduce(d2, zero), dimensions={1}, to_apply=add_f32
  var = f32[16]{0} divide(v, bn)
  eps = f32[] constant(0.001)
  beps = f32[16]{0} broadcast(eps), dimensions={}
  ve = f32[16]{0} add(var, beps)
  r = f32[16]{0} rsqrt(ve)
  br = f32[16,32]{1,0} broadcast(r), dimensions={0}
  ROOT y = f32[16,32]{1,0} multiply(d, br)
}
"""
    _, module = fuse(text)
    ks = kernels(module)
    # mean (sum and divide), variance (sum of squares, divide, + eps, rsqrt), normalize.
    assert [k.attrs.get("kind") for k in ks] == ["kInput", "kInput", "kLoop"]
    assert fused_opcodes(ks[0]) == ["broadcast", "constant", "constant", "divide", "reduce"]
    assert {"reduce", "rsqrt", "multiply", "subtract"} <= set(fused_opcodes(ks[1]))
    assert find_hero(ks[1].called_computations[0]).opcode == "reduce"


# -- fusion: output fusion (dot epilogues) ---------------------------------------------------

@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_dense_layer_is_one_output_fusion(activation):
    _, module = fuse(DENSE.replace("ACTIVATION", ACTIVATIONS[activation]))
    (fusion,) = kernels(module)
    assert fusion.attrs["kind"] == "kOutput"
    computation = fusion.called_computations[0]
    hero = find_hero(computation)
    assert hero.opcode == "dot"
    assert all(op.opcode == "parameter" for op in hero.operands)


def test_dot_with_two_users_is_not_output_fused():
    text = DENSE.replace("ACTIVATION", """t = f32[8,32]{1,0} tanh(z)
  ROOT out = (f32[8,32]{1,0}, f32[8,32]{1,0}) tuple(t, d)""")
    _, module = fuse(text)
    assert entry(module, "d").opcode == "dot"
    assert [k.attrs.get("kind") for k in kernels(module)] == [None, "kLoop"]


def test_epilogue_that_moves_elements_is_not_output_fused():
    text = DENSE.replace("ACTIVATION", """t = f32[32,8]{1,0} transpose(z), dimensions={1,0}
  ROOT n = f32[32,8]{1,0} negate(t)""")
    _, module = fuse(text)
    assert entry(module, "d").opcode == "dot"


def test_reuse_analysis_sees_through_fused_computations():
    module = parse_module(DENSE.replace("ACTIVATION", ACTIVATIONS["residual"]))
    InstructionFusion().run(module)
    (fusion,) = fusions(module)
    by_name = {op.name: op for op in fusion.operands}
    assert not reuses_operand(fusion, by_name["r"])  # read once per output element
    assert reuses_operand(fusion, by_name["b"])  # broadcast along the rows
    assert reuses_operand(fusion, by_name["w"])  # a dot operand


# -- the default pipeline --------------------------------------------------------------------


def test_default_pipeline_dumps_one_numbered_sequence(tmp_path):
    module = parse_module(DENSE.replace("ACTIVATION", ACTIVATIONS["relu"]))
    default_pipeline(dump_dir=tmp_path).run(module)
    hlo = sorted(p.name for p in tmp_path.glob("*.hlo"))
    assert hlo[0] == "00-input.hlo" and hlo[1] == "01-inline.hlo"
    assert hlo[-2].endswith("-fusion.hlo") and hlo[-1].endswith("-dce.hlo")
    assert [int(name[:2]) for name in hlo] == list(range(len(hlo)))
    assert "fusion(" in (tmp_path / hlo[-1]).read_text()


@pytest.mark.parametrize("seed", range(24))
def test_default_pipeline_preserves_results_of_random_modules(seed):
    module, args = random_module(seed)
    before = evaluate(module, *args)
    default_pipeline().run(module)
    assert_same(before, evaluate(module, *args), rtol=2e-5, atol=1e-5)
    reparsed = parse_module(print_module(module))
    assert_same(before, evaluate(reparsed, *args), rtol=2e-5, atol=1e-5)
    # Fusion ran to its fixed point: no producer-consumer pair left that it would fuse.
    users = {inst: set(us) for inst, us in module.entry.users().items()}
    users[module.entry.root].add(None)
    fusion = InstructionFusion()
    for consumer in module.entry.instructions:
        for producer in set(consumer.operands):
            assert fusion.fusion_decision(consumer, producer, users) is not None


@pytest.mark.parametrize("copies", [0, 4096])
def test_multi_output_fusion_preserves_results_of_random_modules(copies):
    """Random modules fused with copies of small expensive producers (then read from the
    reductions computing them) or without (then exp and tanh loops with several users are
    stored, and merged into the reductions reading them): the evaluator gives the same
    results, and some merges happen."""
    merged = 0
    for seed in range(16):
        module, args = random_module(seed)
        pipeline = Pipeline("fuse", [InstructionFusion(duplicate_elements=copies),
                                     DeadCodeElimination(), MultiOutputFusion()])
        before = evaluate(module, *args)
        pipeline.run(module)
        verify(module)
        assert_same(before, evaluate(module, *args))
        merged += sum(k.shape.is_tuple for k in kernels(module))
    assert merged >= 3


def test_fusion_of_random_modules_is_deterministic():
    # Default names come from a global counter, so compare structure, not text.
    module_a, _ = random_module(5)
    module_b, _ = random_module(5)
    for module in (module_a, module_b):
        default_pipeline().run(module)
    assert [(i.opcode, i.attrs.get("kind")) for i in module_a.entry.instructions] == \
        [(i.opcode, i.attrs.get("kind")) for i in module_b.entry.instructions]


def test_fusion_is_idempotent():
    module, args = random_module(7)
    default_pipeline().run(module)
    before = print_module(module)
    assert InstructionFusion().run(module) is False
    assert print_module(module) == before
