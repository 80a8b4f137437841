"""The packed GEMM (backends/cpu/gemm.py) against the NumPy evaluator.

One module holds every edge case (M, N, K of 1, primes, just below and above the tile
and cache-block sizes of the AVX2 and AVX-512 tiles, batched and transposed operands,
constant weights packed at compile time); it is compiled once per target: the host, x86
with only AVX2, x86 with only SSE2 (the tile of the portable vector path), and aarch64,
run under qemu on a seeded subset.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from aotc.backends.cpu.gemm import choose_tile, plan_gemm, rows_dividing
from aotc.backends.cpu.target import TargetInfo, resolve_target
from aotc.hlo import Shape
from aotc.hlo.builder import Builder
from aotc.hlo.evaluation import evaluate

from compiled import Compiled

# (M, N, K, weight): weight "fed" (a parameter), "const" (packed into the object), or
# "fed_t"/"const_t" (the K x N operand stored N x K, contracting its minor dimension).
CASES = [
    (1, 16, 1, "const"), (1, 33, 784, "const"), (2, 130, 9, "const"), (5, 17, 3, "const"),
    (6, 16, 16, "fed"), (7, 15, 8, "fed"), (11, 31, 5, "fed"), (12, 32, 127, "fed"),
    (13, 33, 129, "fed"), (17, 8, 1, "fed"), (23, 67, 257, "fed"), (29, 129, 31, "const"),
    (127, 65, 255, "const"), (130, 63, 7, "fed"), (253, 40, 19, "fed"), (37, 131, 130, "fed_t"),
    (19, 45, 61, "const_t"), (6, 257, 64, "fed"), (3, 8, 5, "fed"),
]
BATCHED = [(3, 7, 17, 9), (2, 13, 32, 129)]  # (batch, M, N, K), both fed
# The subset run under qemu (emulation is slow): seeded, so every run checks the same.
QEMU_CASES = sorted(np.random.default_rng(12).choice(len(CASES), 8, replace=False).tolist())


def _module(cases, batched, seed=0):
    rng = np.random.default_rng(seed)
    b = Builder("gemm_edges")
    outs, args = [], []
    for m, n, k, weight in cases:
        a = b.parameter(Shape.array("f32", (m, k)))
        args.append(rng.standard_normal((m, k)).astype(np.float32))
        w = rng.standard_normal((n, k) if weight.endswith("_t") else (k, n)).astype(np.float32)
        if weight.startswith("const"):
            rhs = b.constant(w, "f32")
        else:
            rhs = b.parameter(Shape.array("f32", w.shape))
            args.append(w)
        contracting = 1 if weight.endswith("_t") else 0
        outs.append(b.dot(a, rhs, lhs_contracting=[1], rhs_contracting=[contracting]))
    for batch, m, n, k in batched:
        x = b.parameter(Shape.array("f32", (batch, m, k)))
        y = b.parameter(Shape.array("f32", (batch, k, n)))
        args += [rng.standard_normal((batch, m, k)).astype(np.float32),
                 rng.standard_normal((batch, k, n)).astype(np.float32)]
        outs.append(b.dot(x, y, lhs_batch=[0], rhs_batch=[0], lhs_contracting=[2],
                          rhs_contracting=[1]))
    return b.module(b.tuple(outs)), args


def _check(got, module, args):
    expected = evaluate(module, *args)
    for g, e, inst in zip(got, expected, module.entry.root.operands):
        k = inst.operands[0].shape.dims[-1]
        # Each element is one sum of k products of N(0,1) values, in another order (and
        # with fused multiply-adds): error grows like sqrt(k) ulps of the partial sums.
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5 * np.sqrt(k) * 4, err_msg=inst.name)


@pytest.fixture(scope="module")
def edges():
    return _module(CASES, BATCHED)


def test_every_case_takes_the_gemm():
    """The cases are meant for the GEMM: each flattens to one (no silent fallback)."""
    module, _ = _module(CASES, BATCHED)
    for inst in module.entry.root.operands:
        assert plan_gemm(inst) is not None, inst.name


@pytest.mark.parametrize("features", [None, "+avx2,+fma,+avx,+sse4.1,-avx512f", "+sse2,-avx,-avx2"],
                         ids=["host", "avx2", "sse2"])
def test_edges_on_x86(edges, features):
    module, args = edges
    host = resolve_target(None, None, None)
    if features is not None and host.arch != "x86_64":
        pytest.skip("x86-only feature sets")
    options = {} if features is None else {"features": features}
    _check(Compiled(module, **options)(*args), module, args)


def test_tiles_follow_the_target():
    t = lambda arch, features: TargetInfo(f"{arch}-unknown-linux-gnu", "generic", features)  # noqa: E731
    assert choose_tile(t("x86_64", "+avx512f,+avx2,+avx"), 4) == choose_tile(t("x86_64", "+avx512f"), 4)
    assert (choose_tile(t("x86_64", "+avx512f"), 4).nr, choose_tile(t("x86_64", "+avx512f"), 4).rows) == (32, 12)
    assert (choose_tile(t("x86_64", "+avx2,+avx,+fma"), 4).nr, choose_tile(t("x86_64", "+avx"), 4).rows) == (16, 6)
    assert (choose_tile(t("aarch64", ""), 4).nr, choose_tile(t("aarch64", ""), 4).rows) == (8, 12)
    assert (choose_tile(t("riscv64", ""), 8).nr, choose_tile(t("riscv64", ""), 8).rows) == (4, 6)
    # Few columns on AVX-512: one 256-bit vector per row (16 registers without AVX-512VL).
    vl = t("x86_64", "+avx512f,+avx512vl,+avx2")
    assert (choose_tile(vl, 4, 8).lanes, choose_tile(vl, 4, 8).rows) == (8, 12)
    assert (choose_tile(t("x86_64", "+avx512f"), 4, 6).lanes, choose_tile(t("x86_64", "+avx512f"), 4, 6).rows) == (8, 12)
    assert choose_tile(t("x86_64", "+avx512f"), 4, 6).registers == 16
    assert (choose_tile(vl, 4, 16).lanes, choose_tile(vl, 4, 16).vectors) == (16, 1)
    # MR: the most rows down to two thirds of the tile's that divide M (no tail kernel).
    assert [rows_dividing(m, 12) for m in (1024, 144, 100, 49, 13)] == [8, 12, 10, 12, 12]
    assert [rows_dividing(m, 6) for m in (16, 20, 7)] == [4, 5, 6]


def test_constant_weight_is_stored_packed_only():
    """A constant B is in the object once, in panel layout (zero-padded to whole panels),
    not also as the unpacked array."""
    b = Builder("packed")
    x = b.parameter(Shape.array("f32", (8, 64)))
    w = np.arange(64 * 20, dtype=np.float32).reshape(64, 20)
    module = b.module(b.tuple([b.dot(x, b.constant(w, "f32"), lhs_contracting=[1],
                                     rhs_contracting=[0])]))
    compiled = Compiled(module)
    nr = choose_tile(resolve_target(None, None, None), 4).nr
    assert compiled.artifact.constant_bytes == 64 * (-(-20 // nr) * nr) * 4
    xs = np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32)
    _check(compiled(xs), module, [xs])


def test_avx512_object_compiles():
    """The AVX-512 tile (12 x 32) is emitted and assembled (this host may not run it)."""
    module, _ = _module(CASES[:6], BATCHED[:1])
    compiled = Compiled(module, triple="x86_64-unknown-linux-gnu", cpu="skylake-avx512",
                        features="+avx512f,+avx2,+fma,+avx")
    assert compiled.artifact.object_code


_DRIVER = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
int32_t aotc_test_entry(void* const*, void* const*, void*, const void*);
static const size_t arg_sizes[] = {%(args)s};
static const size_t result_sizes[] = {%(results)s};
int main(int argc, char** argv) {
  void* args[%(nargs)d]; void* results[%(nresults)d];
  for (int i = 0; i < %(nargs)d; ++i) {
    args[i] = aligned_alloc(64, (arg_sizes[i] + 63) / 64 * 64);
    FILE* f = fopen(argv[1 + i], "rb"); fread(args[i], 1, arg_sizes[i], f); fclose(f);
  }
  for (int i = 0; i < %(nresults)d; ++i) results[i] = aligned_alloc(64, (result_sizes[i] + 63) / 64 * 64);
  void* temps = aligned_alloc(64, %(temps)d);
  if (aotc_test_entry(args, results, temps, 0) != 0) return 1;
  FILE* out = fopen(argv[argc - 1], "wb");
  for (int i = 0; i < %(nresults)d; ++i) fwrite(results[i], 1, result_sizes[i], out);
  fclose(out);
  return 0;
}
"""


def run_under_qemu(module, args, tmp_path) -> list[np.ndarray]:
    """Compile `module` for aarch64, link it with a C driver, run it under qemu on `args`
    and return its (float32) results. Skips the test without the cross toolchain."""
    if not (shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64")):
        pytest.skip("needs aarch64-linux-gnu-gcc and qemu-aarch64 (.ci/run installs them)")
    compiled = Compiled(module, triple="aarch64-unknown-linux-gnu", cpu="cortex-a72")
    shapes = [r.shape for r in compiled.assignment.results]
    driver = tmp_path / "driver.c"
    driver.write_text(_DRIVER % {
        "args": ", ".join(str(a.nbytes) for a in args), "nargs": len(args),
        "results": ", ".join(str(s.byte_size) for s in shapes), "nresults": len(shapes),
        "temps": max(64, -(-compiled.assignment.temp_bytes // 64) * 64)})
    exe = tmp_path / "arm"
    subprocess.run(["aarch64-linux-gnu-gcc", "-O1", "-static", str(driver),
                    str(compiled.object_path), "-o", str(exe)], check=True)
    files = []
    for i, a in enumerate(args):
        files.append(tmp_path / f"arg{i}.bin")
        files[-1].write_bytes(a.tobytes())
    out = tmp_path / "out.bin"
    subprocess.run(["qemu-aarch64", str(exe), *map(str, files), str(out)], check=True, timeout=120)
    raw, got = out.read_bytes(), []
    for s in shapes:
        got.append(np.frombuffer(raw[:s.byte_size], np.float32).reshape(s.dims))
        raw = raw[s.byte_size:]
    return got


def test_edges_on_aarch64_under_qemu(tmp_path):
    module, args = _module([CASES[i] for i in QEMU_CASES], BATCHED[:1], seed=3)
    _check(run_under_qemu(module, args, tmp_path), module, args)


def test_threads_give_identical_results(tmp_path):
    """Compiled for 4 concurrent tasks, run inline (no pool) and on 2 and 3 threads: the
    results are bit-identical (each element is summed by one task in one order), for a
    fed and a constant weight with a fused bias + ReLU epilogue, a batched product, a
    convolution (implicit GEMM) and a depthwise convolution (direct loops, split by rows)."""
    import tensorflow as tf

    import aotc
    from models import config_text

    rng = np.random.default_rng(5)
    w = rng.standard_normal((96, 200)).astype(np.float32)
    bias = rng.standard_normal(200).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (300, 96), name="x")
        y = tf.compat.v1.placeholder(tf.float32, (96, 200), name="y")
        p = tf.compat.v1.placeholder(tf.float32, (3, 40, 50), name="p")
        q = tf.compat.v1.placeholder(tf.float32, (3, 50, 70), name="q")
        tf.nn.relu(tf.linalg.matmul(x, tf.constant(w)) + tf.constant(bias), name="dense")
        tf.identity(tf.linalg.matmul(x, y), name="fed")
        tf.identity(tf.linalg.matmul(p, q), name="batched")
        image = tf.compat.v1.placeholder(tf.float32, (2, 12, 10, 8), name="image")
        kernel = rng.standard_normal((3, 3, 8, 24)).astype(np.float32)
        depthwise = rng.standard_normal((3, 3, 8, 1)).astype(np.float32)
        tf.nn.relu(tf.nn.conv2d(image, kernel, 1, "SAME"), name="conv")
        tf.nn.relu(tf.nn.depthwise_conv2d(image, depthwise, [1, 1, 1, 1], "SAME"),
                   name="depthwise")
    (tmp_path / "g.pb").write_bytes(graph.as_graph_def().SerializeToString())
    feeds = [("x", "x", (300, 96)), ("y", "y", (96, 200)), ("p", "p", (3, 40, 50)),
             ("q", "q", (3, 50, 70)), ("image", "image", (2, 12, 10, 8))]
    (tmp_path / "c.pbtxt").write_text(config_text(
        feeds, [("dense", "dense"), ("fed", "fed"), ("batched", "batched"), ("conv", "conv"),
                ("depthwise", "depthwise")]))
    aotc.compile(str(tmp_path / "g.pb"), str(tmp_path / "c.pbtxt"), tmp_path / "out",
                 threads=4, name="m", cpp_class="t::M")
    inputs = [rng.standard_normal(shape).astype(np.float32) for _, _, shape in feeds]
    inline = aotc.load(tmp_path / "out")(*inputs)
    for threads in (2, 3):
        pooled = aotc.load(tmp_path / "out", threads=threads)(*inputs)
        for got, want in zip(pooled, inline):
            np.testing.assert_array_equal(got, want)
    x, y, p, q, _ = inputs
    expected = [np.maximum(x @ w + bias, 0), x @ y, p @ q]
    for got, want in zip(inline, expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_threads_flag_changes_the_code():
    """--threads sets how many tasks may run at once: the objects differ."""
    module, _ = _module(CASES[10:11], [])
    one = Compiled(module, triple="x86_64-unknown-linux-gnu", threads=1).artifact.object_code
    four = Compiled(module, triple="x86_64-unknown-linux-gnu", threads=4).artifact.object_code
    assert one != four
