"""Kernels identical but for their constants are emitted once (backends/cpu/shared_kernels.py).

A model with two identical convolution layers and two identical dense layers (different
weights) compiles each pair into one kernel function, called with each layer's weights,
and still matches TensorFlow, inline and on a thread pool (the pooled path passes the
constants through the task context). Kernels that differ in an immediate (a scalar
constant folded into the code) stay separate.
"""

from __future__ import annotations

import re

import numpy as np

from aotc.backends.cpu.gemm import choose_tile
from aotc.backends.cpu.target import resolve_target
from aotc.hlo.parser import parse_module
from aotc.passes.fusion_analysis import fused_computation
from compiled import Compiled, check_compiled
from models import config_text

SIZE, CHANNELS, WIDTH = 10, 16, 400


def _twin_layers(tmp_path):
    """Two identical conv + bias + relu6 layers, a 1x1 convolution, then two identical
    dense + relu layers."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    weights = []
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (1, SIZE, SIZE, CHANNELS), name="x")
        h = x
        for _ in range(2):
            k = rng.standard_normal((3, 3, CHANNELS, CHANNELS)).astype(np.float32) * 0.2
            b = rng.standard_normal(CHANNELS).astype(np.float32)
            h = tf.nn.relu6(tf.nn.conv2d(h, tf.constant(k), 1, "SAME") + tf.constant(b))
            weights.append((k, b))
        # A 1x1 convolution, so the second layer's epilogue fuses into its convolution
        # (not into the reshape that follows).
        pointwise = rng.standard_normal((1, 1, CHANNELS, CHANNELS)).astype(np.float32) * 0.2
        h = tf.nn.conv2d(h, tf.constant(pointwise), 1, "SAME")
        weights.append((pointwise, None))
        f = tf.reshape(h, (SIZE * SIZE * CHANNELS // WIDTH, WIDTH))
        for _ in range(2):
            w = rng.standard_normal((WIDTH, WIDTH)).astype(np.float32) * 0.05
            b = rng.standard_normal(WIDTH).astype(np.float32)
            f = tf.nn.relu(tf.linalg.matmul(f, tf.constant(w)) + tf.constant(b))
            weights.append((w, b))
        tf.identity(f, name="y")
    (tmp_path / "g.pb").write_bytes(graph.as_graph_def().SerializeToString())
    (tmp_path / "c.pbtxt").write_text(config_text([("x", "x", (1, SIZE, SIZE, CHANNELS))],
                                                  [("y", "y")]))
    return weights


def _reference(x, weights):
    """The twin layers in NumPy (float64)."""
    h = x.astype(np.float64)
    for k, b in weights[:2]:
        padded = np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
        out = np.zeros(h.shape[:3] + (k.shape[3],))
        for dy in range(3):
            for dx in range(3):
                out += padded[:, dy:dy + SIZE, dx:dx + SIZE, :] @ k[dy, dx]
        h = np.clip(out + b, 0, 6)
    h = h @ weights[2][0][0, 0]
    f = h.reshape(-1, WIDTH)
    for w, b in weights[3:]:
        f = np.maximum(f @ w + b, 0)
    return f


def test_twin_layers_share_one_kernel_each(tmp_path):
    import aotc

    weights = _twin_layers(tmp_path)
    dump = tmp_path / "dump"
    aotc.compile(str(tmp_path / "g.pb"), str(tmp_path / "c.pbtxt"), tmp_path / "out",
                 threads=4, name="m", cpp_class="t::M", dump_hlo=str(dump))
    # Without sharing there would be two of each: the optimized module has two fusions
    # around a 3x3 convolution and two around a dot.
    last = max(dump.glob("*.hlo"), key=lambda path: int(path.name.split("-")[0]))
    final = parse_module(last.read_text())
    fused_ops = [[i.opcode for i in fused_computation(inst).instructions]
                 for inst in final.entry.instructions if inst.opcode == "fusion"]
    assert sum("convolution" in ops for ops in fused_ops) >= 2, fused_ops
    assert sum("dot" in ops for ops in fused_ops) == 2, fused_ops
    ir = (dump / "cpu-llvm-ir.txt").read_text()
    kernels = re.findall(r"^define internal .*@\"?(fusion\.[\w.]+?)\"?\((.*)$", ir, re.M)
    kernels = [(name, args) for name, args in kernels if ".worker" not in name]
    conv_bytes = 3 * 3 * CHANNELS * CHANNELS * 4
    nr = choose_tile(resolve_target(None, None, None), 4).nr  # panels pad N to whole NR
    dense_bytes = WIDTH * (-(-WIDTH // nr) * nr) * 4
    # One kernel each, taking its weights as an argument (the conv's in HWIO order, the
    # dense layer's packed into GEMM panels of the same size).
    assert sum(f"dereferenceable({conv_bytes})" in args for _, args in kernels) == 1, kernels
    assert sum(f"dereferenceable({dense_bytes})" in args for _, args in kernels) == 1, kernels

    x = np.random.default_rng(1).standard_normal((1, SIZE, SIZE, CHANNELS)).astype(np.float32)
    expected = _reference(x, weights)
    inline = aotc.load(tmp_path / "out")(x)
    np.testing.assert_allclose(inline, expected, rtol=1e-4, atol=1e-4)
    pooled = aotc.load(tmp_path / "out", threads=2)(x)
    np.testing.assert_array_equal(pooled, inline)


def _values(n, scale):
    return "{" + ", ".join(f"{scale * (i - n / 2):g}" for i in range(n)) + "}"


# Two loop fusions identical but for an array constant (shared), and two identical but
# for a scalar constant the code folds as an immediate (not shared).
LOOPS = f"""
HloModule loops

add_tanh_1 {{
  p0 = f32[64]{{0}} parameter(0)
  p1 = f32[64]{{0}} parameter(1)
  s = f32[64]{{0}} add(p0, p1)
  ROOT t = f32[64]{{0}} tanh(s)
}}

add_tanh_2 {{
  q0 = f32[64]{{0}} parameter(0)
  q1 = f32[64]{{0}} parameter(1)
  s = f32[64]{{0}} add(q0, q1)
  ROOT t = f32[64]{{0}} tanh(s)
}}

scale_half {{
  p0 = f32[64]{{0}} parameter(0)
  h = f32[] constant(0.5)
  b = f32[64]{{0}} broadcast(h), dimensions={{}}
  ROOT m = f32[64]{{0}} multiply(p0, b)
}}

scale_quarter {{
  p0 = f32[64]{{0}} parameter(0)
  h = f32[] constant(0.25)
  b = f32[64]{{0}} broadcast(h), dimensions={{}}
  ROOT m = f32[64]{{0}} multiply(p0, b)
}}

ENTRY main {{
  x = f32[64]{{0}} parameter(0)
  y = f32[64]{{0}} parameter(1)
  c1 = f32[64]{{0}} constant({_values(64, 0.01)})
  c2 = f32[64]{{0}} constant({_values(64, -0.02)})
  a = f32[64]{{0}} fusion(x, c1), kind=kLoop, calls=add_tanh_1
  b = f32[64]{{0}} fusion(y, c2), kind=kLoop, calls=add_tanh_2
  h = f32[64]{{0}} fusion(a), kind=kLoop, calls=scale_half
  q = f32[64]{{0}} fusion(b), kind=kLoop, calls=scale_quarter
  ROOT t = (f32[64]{{0}}, f32[64]{{0}}) tuple(h, q)
}}
"""


def test_kernels_differing_in_array_constants_are_shared_and_in_immediates_are_not():
    module = parse_module(LOOPS)
    x = np.linspace(-2, 2, 64, dtype=np.float32)
    compiled = check_compiled(module, [x, x[::-1] * 0.5], rtol=1e-6, atol=1e-6,
                              compiled=Compiled(module))
    names = re.findall(r"^define internal .*@\"?(fusion\.[\w.]+?)\"?\(", compiled.artifact.llvm_ir,
                       re.M)
    # Kernel names are unique in the module: fusion.<instruction>[.<n>].
    assert sorted(re.sub(r"\.\d+$", "", name) for name in names) == [
        "fusion.a", "fusion.h", "fusion.q"]
