"""Fusions on the CPU backend, against the evaluator; kernel counts of real models; --report.

Modules are optimized with the default pipeline (so they contain every fusion kind), then
compiled and run through cffi (the harness in tests/compiled.py) and compared with the
evaluator on the unfused module. LLVM compiles dominate the time, so cases are batched
into few modules.
"""

from __future__ import annotations

import re

import numpy as np

from aotc.compiler import compile_graph
from aotc.hlo.evaluation import evaluate
from aotc.hlo.parser import parse_module
from aotc.options import CompileOptions
from aotc.passes.dce import DeadCodeElimination
from aotc.passes.fusion import InstructionFusion
from aotc.passes.multi_output_fusion import MultiOutputFusion
from aotc.passes.pipeline import Pipeline, default_pipeline
from aotc.report import NO_CODE, build_report, compilation_report
from conftest import EXAMPLES, run_aotc
from compiled import Compiled
from fusion_fixtures import ACTIVATIONS, DENSE, random_module
from fusion_fixtures import REDUCERS as FUSION_REDUCERS

REDUCERS = FUSION_REDUCERS + """
add_s32 {
  ia = s32[] parameter(0)
  ib = s32[] parameter(1)
  ROOT is = s32[] add(ia, ib)
}
"""

# One module, one kernel of each interesting shape: dense layers with epilogues (f32 row
# path, s32 and f16 elemental paths, batch and matrix-vector dots), softmax, layer-norm
# moments, column and full reductions with epilogues, a loop fusion with data movement.
EVERY_KIND = "HloModule every_kind\n" + REDUCERS + """
ENTRY main {
  x = f32[6,20]{1,0} parameter(0)
  w = f32[20,12]{1,0} parameter(1)
  b = f32[12]{0} parameter(2)
  r = f32[6,12]{1,0} parameter(3)
  xi = s32[6,20]{1,0} parameter(4)
  wi = s32[20,12]{1,0} parameter(5)
  xh = f16[6,20]{1,0} parameter(6)
  wh = f16[20,12]{1,0} parameter(7)
  xb = f32[3,6,20]{2,1,0} parameter(8)
  v = f32[20]{0} parameter(9)
  w2 = f32[20,12]{1,0} parameter(10)

  d = f32[6,12]{1,0} dot(x, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  bb = f32[6,12]{1,0} broadcast(b), dimensions={1}
  z = f32[6,12]{1,0} add(d, bb)
  zero = f32[] constant(0)
  bz = f32[6,12]{1,0} broadcast(zero), dimensions={}
  relu = f32[6,12]{1,0} maximum(z, bz)

  d2 = f32[6,12]{1,0} dot(x, w2), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  z2 = f32[6,12]{1,0} add(d2, r)
  pos = pred[6,12]{1,0} compare(z2, bz), direction=GT
  alpha = f32[] constant(0.2)
  ba = f32[6,12]{1,0} broadcast(alpha), dimensions={}
  neg = f32[6,12]{1,0} multiply(z2, ba)
  leaky = f32[6,12]{1,0} select(pos, z2, neg)

  di = s32[6,12]{1,0} dot(xi, wi), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  three = s32[] constant(3)
  b3 = s32[6,12]{1,0} broadcast(three), dimensions={}
  dint = s32[6,12]{1,0} multiply(di, b3)

  dh = f16[6,12]{1,0} dot(xh, wh), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  dhalf = f16[6,12]{1,0} tanh(dh)

  wb = f32[3,20,12]{2,1,0} broadcast(w), dimensions={1,2}
  db = f32[3,6,12]{2,1,0} dot(xb, wb), lhs_batch_dims={0}, rhs_batch_dims={0}, lhs_contracting_dims={2}, rhs_contracting_dims={1}
  dbatch = f32[3,6,12]{2,1,0} logistic(db)

  mv = f32[6]{0} dot(x, v), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  one = f32[] constant(1)
  b1 = f32[6]{0} broadcast(one), dimensions={}
  mvec = f32[6]{0} add(mv, b1)

  ninf = f32[] constant(-inf)
  mx = f32[6]{0} reduce(r, ninf), dimensions={1}, to_apply=max_f32
  bmx = f32[6,12]{1,0} broadcast(mx), dimensions={0}
  sh = f32[6,12]{1,0} subtract(r, bmx)
  e = f32[6,12]{1,0} exponential(sh)
  sm = f32[6]{0} reduce(e, zero), dimensions={1}, to_apply=add_f32
  bsm = f32[6,12]{1,0} broadcast(sm), dimensions={0}
  softmax = f32[6,12]{1,0} divide(e, bsm)

  sq = f32[6,20]{1,0} multiply(x, x)
  cols = f32[20]{0} reduce(sq, zero), dimensions={0}, to_apply=add_f32
  six = f32[] constant(6)
  b6 = f32[20]{0} broadcast(six), dimensions={}
  colmean = f32[20]{0} divide(cols, b6)
  rs = f32[20]{0} sqrt(colmean)

  ax = f32[6,20]{1,0} abs(x)
  total = f32[] reduce(ax, zero), dimensions={0,1}, to_apply=add_f32
  scalar = f32[] log(total)

  xt = f32[20,6]{1,0} transpose(x), dimensions={1,0}
  sl = f32[10,6]{1,0} slice(xt), slice={[0:20:2], [0:6]}
  pd = f32[12,8]{1,0} pad(sl, zero), padding=1_1x0_2
  rv = f32[12,8]{1,0} reverse(pd), dimensions={0}
  loop = f32[12,8]{1,0} tanh(rv)

  ROOT t = (f32[6,12]{1,0}, f32[6,12]{1,0}, s32[6,12]{1,0}, f16[6,12]{1,0}, f32[3,6,12]{2,1,0}, f32[6]{0}, f32[6,12]{1,0}, f32[20]{0}, f32[], f32[12,8]{1,0}) tuple(relu, leaky, dint, dhalf, dbatch, mvec, softmax, rs, scalar, loop)
}
"""


def _args(module, seed=0):
    rng = np.random.default_rng(seed)
    args = []
    for p in module.entry.parameters:
        t = p.shape.element_type.np_dtype
        if np.issubdtype(t, np.integer):
            args.append(rng.integers(-20, 20, p.shape.dims).astype(t))
        else:
            args.append(rng.uniform(-1, 1, p.shape.dims).astype(t))
    return args


def _compare(got, expected, rtol, atol):
    expected = list(expected) if isinstance(expected, tuple) else [expected]
    assert len(got) == len(expected)
    for k, (g, e) in enumerate(zip(got, expected)):
        e = np.asarray(e)
        assert g.shape == e.shape and g.dtype == e.dtype, k
        tolerance = (1e-2, 1e-2) if g.dtype == np.float16 else (rtol, atol)
        np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), *tolerance,
                                   err_msg=f"result {k}")


def _fused_and_reference(text):
    module = parse_module(text)
    args = _args(module)
    expected = evaluate(module, *args)
    default_pipeline().run(module)
    return module, args, expected


def test_every_fusion_kind_matches_the_evaluator():
    module, args, expected = _fused_and_reference(EVERY_KIND)
    kinds = [i.attrs["kind"] for i in module.entry.instructions if i.opcode == "fusion"]
    assert {"kLoop", "kInput", "kOutput"} <= set(kinds)
    assert kinds.count("kOutput") >= 6  # relu, leaky, int, half, batch, matrix-vector
    _compare(Compiled(module)(*args), expected, rtol=2e-5, atol=2e-5)


def test_each_fusion_is_one_kernel_function_without_temporaries():
    text = DENSE.replace("ACTIVATION", ACTIVATIONS["leaky_relu"]).replace(
        "ROOT y = f32[8,32]{1,0} select(pos, z, neg)",
        "y = f32[8,32]{1,0} select(pos, z, neg)\n  ROOT out = (f32[8,32]{1,0}) tuple(y)")
    module, args, expected = _fused_and_reference(text)
    compiled = Compiled(module)
    # dot, bias, compare, select: one loop nest writing the result; the arena holds at
    # most the fed weight's packing buffer (K x N, one task slot; none where M is below
    # the micro-tile's rows, as on AVX-512), no intermediate value.
    scratch = [s.size for s in compiled.assignment.scratch.values()]
    assert compiled.assignment.temp_bytes == sum(scratch) and scratch in ([], [16 * 32 * 4])
    assert len(re.findall(r"^define .*@\"?fusion\.", compiled.artifact.llvm_ir, re.M)) == 1
    _compare(compiled(*args), expected, rtol=2e-5, atol=2e-5)


def test_convolution_output_fusion_matches_the_evaluator():
    text = """
HloModule conv
ENTRY main {
  x = f32[2,7,7,3]{3,2,1,0} parameter(0)
  k = f32[3,3,3,8]{3,2,1,0} parameter(1)
  b = f32[8]{0} parameter(2)
  c = f32[2,5,5,8]{3,2,1,0} convolution(x, k), window={size=3x3}, dim_labels=b01f_01io->b01f
  bb = f32[2,5,5,8]{3,2,1,0} broadcast(b), dimensions={3}
  z = f32[2,5,5,8]{3,2,1,0} add(c, bb)
  zero = f32[] constant(0)
  six = f32[] constant(6)
  bz = f32[2,5,5,8]{3,2,1,0} broadcast(zero), dimensions={}
  b6 = f32[2,5,5,8]{3,2,1,0} broadcast(six), dimensions={}
  relu6 = f32[2,5,5,8]{3,2,1,0} clamp(bz, z, b6)
  ROOT y = (f32[2,5,5,8]{3,2,1,0}) tuple(relu6)
}
"""
    module, args, expected = _fused_and_reference(text)
    (fusion,) = [i for i in module.entry.instructions if i.opcode == "fusion"]
    assert fusion.attrs["kind"] == "kOutput"
    _compare(Compiled(module)(*args), expected, rtol=2e-5, atol=2e-5)


def test_random_fused_modules_match_the_evaluator():
    kinds = set()
    for seed in range(6):
        module, args = random_module(seed)
        expected = evaluate(module, *args)
        default_pipeline().run(module)
        kinds |= {i.attrs["kind"] for i in module.entry.instructions if i.opcode == "fusion"}
        _compare(Compiled(module)(*args), expected, rtol=5e-5, atol=5e-5)
    assert kinds == {"kLoop", "kInput", "kOutput"}


def test_random_multi_output_fusions_match_the_evaluator():
    """Random modules whose expensive loops are stored (no copies) and merged into the
    reductions reading them, or copied and then read from the reductions computing them
    (passes/multi_output_fusion.py): tuple-shaped reduce fusions storing their siblings,
    against the evaluator."""
    # The seeds of test_fusion's random modules that merge, fused without and with copies.
    for seed, copies in [(1, 0), (2, 0), (3, 0), (7, 0), (1, 4096), (3, 4096)]:
        module, args = random_module(seed)
        expected = evaluate(module, *args)
        Pipeline("fuse", [InstructionFusion(duplicate_elements=copies), DeadCodeElimination(),
                          MultiOutputFusion()]).run(module)
        assert any(i.opcode == "fusion" and i.shape.is_tuple for i in module.entry.instructions)
        _compare(Compiled(module)(*args), expected, rtol=5e-5, atol=5e-5)


# -- real models -----------------------------------------------------------------------------


def _kernels(module):
    return sum(i.opcode not in NO_CODE for i in module.entry.instructions)


def _frozen_kernels(model, tmp_path):
    """(ops of the lowered graph, kernels after the default pipeline, the Compilation)."""
    from aotc.frontend.graph import to_config, to_graph_def
    from aotc.frontend.lower import lower
    from aotc.frontend.prune import prune

    graph, config = model.write(tmp_path)
    lowered = lower(prune(to_graph_def(str(graph)), to_config(str(config))), name="m")
    compilation = compile_graph(graph, config, CompileOptions(cpp_class="models::M"))
    return _kernels(lowered), _kernels(compilation.module), compilation


def test_keras_mlp_compiles_to_few_kernels(tmp_path):
    from models import keras_mlp

    ops, kernels, compilation = _frozen_kernels(keras_mlp(16), tmp_path)
    report = compilation_report(compilation)
    print(f"keras MLP (batch 16): {ops} ops -> {kernels} kernels\n{report.format()}")
    assert report.kernels == kernels
    assert kernels <= ops / 3
    # Two dense+relu layers are one kernel each.
    assert report.kernels_by_op["fusion(kOutput)"] >= 2


def test_softmax_of_dense_is_at_most_four_kernels(tmp_path):
    import tensorflow as tf

    from models import freeze_keras

    tf.keras.utils.set_random_seed(7)
    model = tf.keras.Sequential([tf.keras.Input((32,)),
                                 tf.keras.layers.Dense(10, activation="softmax",
                                                       bias_initializer="random_normal")])
    frozen = freeze_keras(model, [(8, 32)])
    ops, kernels, compilation = _frozen_kernels(frozen, tmp_path)
    print(f"softmax(dense) (batch 8): {ops} ops -> {kernels} kernels")
    assert kernels <= 4
    inputs = frozen.random_inputs()
    (expected,) = frozen.reference(*inputs)
    module = compilation.module
    (got,) = Compiled(module)(*inputs)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


# -- --report ---------------------------------------------------------------------------------


def test_report_counts_kernels_fused_ops_and_bytes():
    module, _, _ = _fused_and_reference(EVERY_KIND)
    from aotc.passes.buffer_assignment import assign_buffers

    assignment = assign_buffers(module)
    report = build_report(module, assignment)
    assert report.kernels == _kernels(module)
    assert report.fusions == sum(i.opcode == "fusion" for i in module.entry.instructions)
    assert report.fused_ops > report.kernels
    assert report.arg_bytes == sum(p.shape.byte_size for p in module.entry.parameters)
    assert report.result_bytes == sum(r.shape.byte_size for r in module.entry.root.operands)
    assert report.temp_bytes == assignment.temp_bytes
    text = report.format()
    assert "kernels:" in text and "fusion(kOutput)" in text and "temp arena:" in text


def test_cli_report(tmp_path):
    proc = run_aotc("compile", EXAMPLES / "mlp/graph.pb", EXAMPLES / "mlp/config.pbtxt",
                    "--cpp_class", "demo::Mlp", "-o", tmp_path, "--report", check=True)
    lines = proc.stdout.splitlines()
    assert lines[0] == "aotc report for mlp:"
    fields = {line.split(":")[0].strip(): line.split(":", 1)[1].strip() for line in lines[1:7]}
    assert set(fields) == {"kernels", "fused ops", "temp arena", "constants", "args", "results"}
    assert fields["args"] == "32 bytes" and fields["results"].startswith("16 bytes")
    assert int(fields["kernels"].split()[0]) <= 6
    assert lines[-1].startswith("aotc: wrote")
