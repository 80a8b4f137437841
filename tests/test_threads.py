"""Kernels split into tasks (backends/cpu/tasks.py) give bit-identical results for any
thread count, and their scratch lives in the temp arena (backends/cpu/scratch.py).

One HLO module holds a GEMM with a fed weight (packing into its tasks' scratch slots; its
rows and columns are split at --threads 4),
the same with a fused bias + ReLU epilogue, a big loop fusion, row reductions (alone and
with a fused producer), a full reduction (never split), a softmax and scans along the
minor and a major dimension and a 2x2 max-pool; row counts are primes, so tasks get uneven shares. It is
compiled once with --threads 4 and run inline (no pool), on 2 and 3 threads through
`aotc.load(path, threads=N)`, and from C++ on `aotc::ThreadPool pool(4)` given with
`set_thread_pool`: every result must be the same bytes as inline and as a --threads 1
build, and match the evaluator.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import aotc
from aotc.artifact import write_artifact
from aotc.backends.cpu.scratch import planned_gemm, scratch_bytes
from aotc.backends.cpu.target import resolve_target
from aotc.backends.cpu.tasks import MIN_TASK_ELEMENTS, balanced_blocks, task_range, task_slots
from aotc.compiler import compile_graph
from aotc.hlo import parse_module
from aotc.hlo.evaluation import evaluate
from aotc.options import CompileOptions
from aotc.passes import assign_buffers

from conftest import build_cpp, run_program

ROWS = 131  # a prime: the row ranges of 4 tasks are uneven
WIDTH = 512  # ROWS x WIDTH elements: 4 tasks' worth of work (MIN_TASK_ELEMENTS each)

MODULE = f"""
HloModule threads

add {{
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT s = f32[] add(a, b)
}}

max {{
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT m = f32[] maximum(a, b)
}}

ENTRY main {{
  x = f32[163,96]{{1,0}} parameter(0)
  w = f32[96,300]{{1,0}} parameter(1)
  bias = f32[300]{{0}} parameter(2)
  u = f32[{ROWS},{WIDTH}]{{1,0}} parameter(3)
  v = f32[{ROWS},{WIDTH}]{{1,0}} parameter(4)
  z = f32[257,8,32]{{2,1,0}} parameter(5)
  x2 = f32[163,96]{{1,0}} parameter(6)
  image = f32[2,128,96,8]{{3,2,1,0}} parameter(7)
  zero = f32[] constant(0)
  gemm = f32[163,300]{{1,0}} dot(x, w), lhs_contracting_dims={{1}}, rhs_contracting_dims={{0}}
  dense = f32[163,300]{{1,0}} dot(x2, w), lhs_contracting_dims={{1}}, rhs_contracting_dims={{0}}
  bb = f32[163,300]{{1,0}} broadcast(bias), dimensions={{1}}
  biased = f32[163,300]{{1,0}} add(dense, bb)
  zeros = f32[163,300]{{1,0}} broadcast(zero), dimensions={{}}
  relu = f32[163,300]{{1,0}} maximum(biased, zeros)
  e = f32[{ROWS},{WIDTH}]{{1,0}} exponential(u)
  t = f32[{ROWS},{WIDTH}]{{1,0}} multiply(e, v)
  loop = f32[{ROWS},{WIDTH}]{{1,0}} tanh(t)
  rows = f32[{ROWS}]{{0}} reduce(u, zero), dimensions={{1}}, to_apply=add
  squares = f32[{ROWS},{WIDTH}]{{1,0}} multiply(v, v)
  norms = f32[{ROWS}]{{0}} reduce(squares, zero), dimensions={{1}}, to_apply=add
  full = f32[] reduce(v, zero), dimensions={{0,1}}, to_apply=add
  ninf = f32[] constant(-inf)
  mx = f32[{ROWS}]{{0}} reduce(u, ninf), dimensions={{1}}, to_apply=max
  mxb = f32[{ROWS},{WIDTH}]{{1,0}} broadcast(mx), dimensions={{0}}
  shifted = f32[{ROWS},{WIDTH}]{{1,0}} subtract(u, mxb)
  ex = f32[{ROWS},{WIDTH}]{{1,0}} exponential(shifted)
  sum = f32[{ROWS}]{{0}} reduce(ex, zero), dimensions={{1}}, to_apply=add
  sumb = f32[{ROWS},{WIDTH}]{{1,0}} broadcast(sum), dimensions={{0}}
  softmax = f32[{ROWS},{WIDTH}]{{1,0}} divide(ex, sumb)
  cumsum = f32[{ROWS},{WIDTH}]{{1,0}} reduce-window(u, zero), window={{size=1x{WIDTH} pad=0_0x{WIDTH - 1}_0}}, to_apply=add
  reverse = f32[{ROWS},{WIDTH}]{{1,0}} reduce-window(v, zero), window={{size=1x{WIDTH} pad=0_0x0_{WIDTH - 1}}}, to_apply=add
  major = f32[257,8,32]{{2,1,0}} reduce-window(z, zero), window={{size=1x8x1 pad=0_0x7_0x0_0}}, to_apply=add
  pool = f32[2,64,48,8]{{3,2,1,0}} reduce-window(image, ninf), window={{size=1x2x2x1 stride=1x2x2x1}}, to_apply=max
  ROOT out = (f32[163,300]{{1,0}}, f32[163,300]{{1,0}}, f32[{ROWS},{WIDTH}]{{1,0}}, f32[{ROWS}]{{0}}, f32[{ROWS}]{{0}}, f32[], f32[{ROWS},{WIDTH}]{{1,0}}, f32[{ROWS},{WIDTH}]{{1,0}}, f32[{ROWS},{WIDTH}]{{1,0}}, f32[257,8,32]{{2,1,0}}, f32[2,64,48,8]{{3,2,1,0}}) tuple(gemm, relu, loop, rows, norms, full, softmax, cumsum, reverse, major, pool)
}}
"""

# A C++ program running the model on an aotc::ThreadPool of 4 threads: raw args in, raw
# results out (files named on the command line).
HARNESS = r"""
#include <fstream>
#include <string>
#include "threads.h"

int main(int, char** argv) {
  t::Threads model;
  aotc::ThreadPool pool(4);
  model.set_thread_pool(&pool);
  for (size_t i = 0; i < model.kNumArgs; ++i) {
    std::ifstream in(std::string(argv[1]) + "/arg" + std::to_string(i) + ".bin", std::ios::binary);
    in.read(static_cast<char*>(model.arg_data(i)), static_cast<std::streamsize>(model.ArgSize(i)));
  }
  for (int run = 0; run < 3; ++run) {
    if (!model.Run()) return 1;
  }
  for (size_t i = 0; i < model.kNumResults; ++i) {
    std::ofstream out(std::string(argv[1]) + "/result" + std::to_string(i) + ".bin", std::ios::binary);
    out.write(static_cast<const char*>(model.result_data(i)),
              static_cast<std::streamsize>(model.ResultSize(i)));
  }
  return 0;
}
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """The module compiled with --threads 4 into an artifact; its inputs; the evaluator's
    results."""
    work = tmp_path_factory.mktemp("threads")
    (work / "threads.hlo").write_text(MODULE)
    # --dump-hlo keeps the LLVM IR, which test_kernels_are_split reads.
    options = CompileOptions.from_kwargs(name="threads", cpp_class="t::Threads", threads=4,
                                         dump_hlo=str(work / "dump"))
    compilation = compile_graph(str(work / "threads.hlo"), None, options)
    write_artifact(compilation.program, work / "out", dict(compilation.output.files))
    rng = np.random.default_rng(7)
    inputs = [rng.standard_normal(spec.shape).astype(np.float32)
              for spec in compilation.program.args]
    expected = evaluate(parse_module(MODULE), *inputs)
    return work, compilation, inputs, expected


def test_split_kernels_match_the_evaluator(compiled):
    _, _, inputs, expected = compiled
    got = aotc.load(compiled[0] / "out")(*inputs)
    for result, want in zip(got, expected):
        # The full sum of ROWS x WIDTH elements folds in lanes, not in the evaluator's
        # order: its error bound grows with the sum of magnitudes.
        atol = 1e-7 * float(np.abs(inputs[4]).sum()) if want.ndim == 0 else 2e-4
        np.testing.assert_allclose(result, want, rtol=2e-5, atol=atol)


def test_any_thread_count_gives_the_same_bytes(compiled):
    work, _, inputs, _ = compiled
    inline = aotc.load(work / "out")(*inputs)
    for threads in (2, 3):
        pooled = aotc.load(work / "out", threads=threads)(*inputs)
        for got, want in zip(pooled, inline):
            np.testing.assert_array_equal(got, want)


def test_python_pools_native_and_fallback_give_the_same_bytes(compiled, tmp_path, monkeypatch):
    """aotc.load(threads=N) runs the tasks on the native aotc::ThreadPool (built once per
    user, runtime/native_pool.py); without a C++ compiler, on Python threads. Both give
    the inline bytes."""
    from aotc.runtime import loader, native_pool

    work, _, inputs, _ = compiled
    inline = aotc.load(work / "out")(*inputs)
    native = aotc.load(work / "out", threads=3)
    assert isinstance(native._pool, native_pool.NativePool)
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    assert native_pool.pool_library(tmp_path / "cache") is None
    monkeypatch.setattr(loader, "_user_cache", lambda: tmp_path / "cache")
    fallback = aotc.load(work / "out", threads=3)
    assert not isinstance(fallback._pool, native_pool.NativePool)
    for model in (native, fallback):
        for got, want in zip(model(*inputs), inline):
            np.testing.assert_array_equal(got, want)


def test_threads_1_build_gives_the_same_bytes(compiled):
    """Built with --threads 1 (no splits: one task per kernel, GEMM blocks as the cache
    sets them), the results are the bytes of the --threads 4 build, whose GEMMs split
    their rows and columns into blocks for 4 threads."""
    work, _, inputs, _ = compiled
    options = CompileOptions.from_kwargs(name="threads", cpp_class="t::Threads", threads=1)
    compilation = compile_graph(str(work / "threads.hlo"), None, options)
    write_artifact(compilation.program, work / "one", dict(compilation.output.files))
    one = aotc.load(work / "one")(*inputs)
    four = aotc.load(work / "out", threads=2)(*inputs)
    for got, want in zip(one, four):
        np.testing.assert_array_equal(got, want)


def test_cpp_thread_pool_gives_the_same_bytes(compiled):
    work, _, inputs, _ = compiled
    inline = aotc.load(work / "out")(*inputs)
    data = work / "cpp"
    data.mkdir(exist_ok=True)
    for i, x in enumerate(inputs):
        (data / f"arg{i}.bin").write_bytes(x.tobytes())
    (work / "harness.cc").write_text(HARNESS)
    exe = build_cpp([work / "harness.cc"], work / "harness", include=[work / "out"],
                    objects=[work / "out" / "threads.o"])
    run_program(exe, data)
    for i, want in enumerate(inline):
        got = np.fromfile(data / f"result{i}.bin", np.float32).reshape(want.shape)
        np.testing.assert_array_equal(got, want)


def test_kernels_are_split(compiled):
    """What the module is for: each kernel kind above runs as tasks on the pool (its
    address goes into a task context; a kernel of one task is called directly), the full
    reduction does not."""
    _, compilation, _, _ = compiled
    assert MIN_TASK_ELEMENTS * 4 <= ROWS * WIDTH < MIN_TASK_ELEMENTS * 5
    llvm_ir = compilation.output.stages["llvm-ir"]
    pooled = re.findall(r'store ptr @"?([\w.-]+?)"?, ptr', llvm_ir)
    # One worker for all kernels of a buffer count: the kernel is the context's first word.
    workers = set(re.findall(r'^define internal void @"?(aotc\.worker\.\d+)"?\(', llvm_ir, re.M))
    assert 0 < len(workers) < len(pooled)
    kinds = {}
    for name in pooled:
        kinds[name.split(".")[0]] = kinds.get(name.split(".")[0], 0) + 1
    # gemm; fusions: the fused GEMM, the loop, the fused norms, softmax's exp with its sum
    # (a multi-output fusion, passes/multi_output_fusion.py) and its division; reduce:
    # rows, mx (unfused); scan: the three; reduce-window: the max-pool.
    assert kinds == {"gemm": 1, "fusion": 5, "reduce": 2, "scan": 3, "reduce-window": 1}, pooled
    fusions = {i.attrs["kind"] for i in compilation.module.entry.instructions
               if i.opcode == "fusion"}
    assert fusions == {"kLoop", "kInput", "kOutput"}


def test_scratch_slots_per_thread(compiled):
    """The fed GEMMs' packing buffers are the arena's scratch, one slot per task that runs
    at once: 4 with --threads 4, 1 with --threads 1, in the arena when live only."""
    _, compilation, _, _ = compiled
    target = resolve_target(None, None, None)
    module, four = compilation.module, compilation.assignment
    one = assign_buffers(module, scratch=lambda inst: scratch_bytes(target, inst, 1))
    gemms = [(i, planned_gemm(target, i, 4)) for i in module.entry.instructions]
    gemms = [(i, g) for i, g in gemms if g is not None and g.pack_bytes]
    assert len(gemms) == 2  # the plain and the fused fed GEMM
    for inst, gemm in gemms:
        assert gemm.tasks >= 4 and task_slots(gemm.tasks, 4) == 4
        assert four.scratch_of(inst).size == 4 * gemm.pack_bytes
        assert one.scratch_of(inst).size == planned_gemm(target, inst, 1).pack_bytes
    assert one.temp_bytes <= four.temp_bytes
    assert four.temp_bytes - one.temp_bytes <= 3 * max(g.pack_bytes for _, g in gemms)
    assert compilation.program.temp_bytes == four.temp_bytes


def test_threads_1_and_4_arenas_differ_by_the_slots():
    """A lone fed GEMM: the arena is its scratch alone, so --threads 4 adds exactly three
    slots to --threads 1's one."""
    module = parse_module("""
HloModule lone
ENTRY main {
  x = f32[200,64]{1,0} parameter(0)
  w = f32[64,96]{1,0} parameter(1)
  d = f32[200,96]{1,0} dot(x, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  ROOT out = (f32[200,96]{1,0}) tuple(d)
}
""")
    target = resolve_target(None, None, None)
    (dot,) = [i for i in module.entry.instructions if i.opcode == "dot"]
    arenas = {threads: assign_buffers(module, scratch=lambda inst, threads=threads:
                                      scratch_bytes(target, inst, threads)).temp_bytes
              for threads in (1, 4)}
    slot = planned_gemm(target, dot, 1).pack_bytes
    assert slot == 64 * 96 * 4  # K x N: the whole of B in one block
    assert arenas[1] == slot and arenas[4] - arenas[1] == 3 * slot


def test_blocks_share_evenly_and_ranges_cover_the_tasks():
    """tasks.balanced_blocks: 64 rows x 4 panels on 2 threads split the columns (rows in
    blocks of 36 would leave one thread 36 rows against 28); 256 rows x 2 panels keep the
    columns whole (one 12-row tile more on one side costs less than re-reading A); one
    thread keeps the cache blocking. task_range cuts every task count into contiguous
    ranges that cover it once."""
    assert balanced_blocks(64, 12, 72, 4, 4, 1, 2) == (72, 2)
    assert balanced_blocks(256, 12, 96, 2, 2, 1, 2) == (12, 2)
    assert balanced_blocks(64, 12, 72, 4, 4, 1, 1) == (72, 4)
    for tasks, slots in ((2, 2), (7, 2), (86, 2), (5, 4), (4, 4)):
        ranges = [task_range(s, tasks, slots) for s in range(slots)]
        assert [t for r in ranges for t in r] == list(range(tasks))
        assert max(map(len, ranges)) - min(map(len, ranges)) <= 1


IN_PLACE_RESHAPES = """
HloModule in_place

ENTRY main {
  x = f32[128,64]{1,0} parameter(0)
  w = f32[64,256]{1,0} parameter(1)
  v = f32[256,16]{1,0} parameter(2)
  dot = f32[128,256]{1,0} dot(x, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  split = f32[4,32,256]{2,1,0} reshape(dot)
  c = f32[] constant(0.5)
  half = f32[4,32,256]{2,1,0} broadcast(c), dimensions={}
  tanh = f32[4,32,256]{2,1,0} tanh(split)
  product = f32[4,32,256]{2,1,0} multiply(half, tanh)
  merged = f32[128,256]{1,0} reshape(product)
  ROOT out = f32[128,16]{1,0} dot(merged, v), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}
"""


def test_in_place_loop_through_reshapes_stays_vectorized(tmp_path):
    """A loop fusion that splits a dimension and merges it back (BERT's GELU between its
    dense layers), run in place on the dot's buffer in tasks: LLVM must see that the
    element it loads is the one it stores, else it guards the vector loop with a runtime
    overlap test that in place always fails, and the tasks ran scalar (BERT b4 at
    --threads 2 took 3x its --threads 1 time). The reshapes' dimension groups
    (elemental.py's common_factors) keep the index arithmetic simple enough for it."""
    (tmp_path / "m.hlo").write_text(IN_PLACE_RESHAPES)
    options = CompileOptions.from_kwargs(name="inplace", threads=2,
                                         dump_hlo=str(tmp_path / "dump"))
    compilation = compile_graph(str(tmp_path / "m.hlo"), None, options)
    write_artifact(compilation.program, tmp_path / "out", dict(compilation.output.files))
    ir_text = (tmp_path / "dump" / "cpu-llvm-ir.txt").read_text()
    kernel = re.search(r"define [^\n]*@\"?fusion\.fusion\"?\((.*?)\).*?\n}", ir_text, re.S)
    assert kernel is not None
    assert kernel.group(1).count("ptr") == 1, "the fusion runs in place on the dot's buffer"
    assert "x float>" in kernel.group(0) and "diff.check" not in kernel.group(0)
    rng = np.random.default_rng(3)
    args = [rng.standard_normal(shape).astype(np.float32)
            for shape in ((128, 64), (64, 256), (256, 16))]
    want = evaluate(parse_module(IN_PLACE_RESHAPES), *args)
    for threads in (1, 2):
        got = aotc.load(tmp_path / "out", threads=threads)(*args)
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
