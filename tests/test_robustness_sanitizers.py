"""Memory safety and thread safety of generated code.

- Sanitizers: each model's object is linked into tests/guarded_harness.cc built with
  -fsanitize=address,undefined; every argument and result buffer and the temp arena end
  against a PROT_NONE guard page (another guards their start), so an out-of-bounds access
  by the generated code faults. The results must equal those of the same object loaded
  from Python.
- Concurrency: N C++ threads each run their own instance of the class; Python threads
  share one loaded model. Every result must equal the single-threaded one.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import aotc
from conftest import EXAMPLES, build_cpp, run_program
from robustness import (DT, compile_files, compile_protos, config, const, new_graph, node,
                        placeholder)

HERE = Path(__file__).resolve().parent


def _conv_model():
    """Conv (SAME), bias, ReLU, max pool (VALID), mean, softmax: windows and reductions."""
    g = new_graph()
    placeholder(g, "x", [2, 7, 5, 3])
    const(g, "k", list(np.linspace(-1, 1, 3 * 3 * 3 * 4)), DT.DT_FLOAT, shape=[3, 3, 3, 4])
    node(g, "conv", "Conv2D", ["x", "k"], strides=[1, 2, 1, 1], padding="SAME")
    const(g, "b", [0.1, -0.2, 0.3, 0.0], DT.DT_FLOAT)
    node(g, "bias", "BiasAdd", ["conv", "b"])
    node(g, "relu", "Relu", ["bias"])
    node(g, "pool", "MaxPool", ["relu"], ksize=[1, 2, 2, 1], strides=[1, 1, 2, 1],
         padding="VALID")
    const(g, "axes", [1, 2])
    node(g, "mean", "Mean", ["pool", "axes"], types={"Tidx": DT.DT_INT32}, keep_dims=False)
    node(g, "soft", "Softmax", ["mean"])
    return g, config([("x", [2, 7, 5, 3])], ["soft", "pool"])


def _indexing_model():
    """Gather, strided slice, pad, transpose, concat and a cumulative sum: index math."""
    g = new_graph()
    placeholder(g, "x", [5, 6])
    placeholder(g, "i", [4], DT.DT_INT32)
    const(g, "axis0", [0], shape=[])
    node(g, "gather", "GatherV2", ["x", "i", "axis0"],
         T=None, types={"Tparams": DT.DT_FLOAT, "Tindices": DT.DT_INT32,
                        "Taxis": DT.DT_INT32}, batch_dims=0)
    const(g, "begin", [0, 1])
    const(g, "end", [4, 6])
    const(g, "stride", [2, 2])
    node(g, "ss", "StridedSlice", ["gather", "begin", "end", "stride"],
         types={"Index": DT.DT_INT32}, begin_mask=0, end_mask=0, ellipsis_mask=0,
         new_axis_mask=0, shrink_axis_mask=0)
    const(g, "pads", [1, 2, 0, 3], shape=[2, 2])
    node(g, "pad", "Pad", ["ss", "pads"], types={"Tpaddings": DT.DT_INT32})
    const(g, "perm", [1, 0])
    node(g, "tr", "Transpose", ["pad", "perm"], types={"Tperm": DT.DT_INT32})
    const(g, "axis1", [1], shape=[])
    node(g, "cat", "ConcatV2", ["tr", "tr", "axis1"], N=2, types={"Tidx": DT.DT_INT32})
    node(g, "cum", "Cumsum", ["cat", "axis1"], types={"Tidx": DT.DT_INT32}, exclusive=False,
         reverse=True)
    return g, config([("x", [5, 6]), ("i", [4])], ["cum", "gather"])


def _inputs(model, rng):
    inputs = []
    for spec in model.program.args:
        if np.dtype(spec.dtype).kind == "i":  # indices: in range for every model here
            inputs.append(rng.integers(0, 5, spec.shape).astype(spec.dtype))
        else:
            inputs.append(rng.standard_normal(spec.shape).astype(spec.dtype))
    return inputs


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """name -> artifact directory: the MLP example and two models with index arithmetic."""
    root = tmp_path_factory.mktemp("zoo")
    artifacts = {}
    for name in ("mlp",):
        graph = next(p for p in (EXAMPLES / name).iterdir() if p.stem == "graph")
        outcome = compile_files(root, graph, EXAMPLES / name / "config.pbtxt", tag=name)
        assert outcome.status == 0, outcome.stderr
        artifacts[name] = outcome.out_dir
    for name, build in (("conv", _conv_model), ("indexing", _indexing_model)):
        outcome = compile_protos(root, *build(), tag=name)
        assert outcome.status == 0, outcome.stderr
        artifacts[name] = outcome.out_dir
    return artifacts


@pytest.mark.parametrize("name", ["mlp", "conv", "indexing"])
def test_generated_code_under_asan_ubsan_and_guard_pages(tmp_path, zoo, name):
    out = zoo[name]
    harness = build_cpp([HERE / "guarded_harness.cc"], tmp_path / "harness",
                        include=[out], objects=[out / "model.o"],
                        flags=("-O1", "-g", "-fsanitize=address,undefined",
                               "-fno-sanitize-recover=all", '-DAOTC_HEADER="model.h"'))
    model = aotc.load(out)
    inputs = _inputs(model, np.random.default_rng(7))
    files = []
    for k, value in enumerate(inputs):
        files.append(tmp_path / f"arg{k}.bin")
        files[-1].write_bytes(np.ascontiguousarray(value).tobytes())
    run_program(harness, *files, tmp_path)
    want = model(*inputs)
    want = want if isinstance(want, (list, tuple)) else [want]
    for k, (expected, spec) in enumerate(zip(want, model.program.results)):
        got = np.fromfile(tmp_path / f"result{k}.bin", dtype=spec.dtype).reshape(spec.shape)
        np.testing.assert_array_equal(got, expected)


_THREADS_CC = r"""
#include "model.h"
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

// Each thread owns an instance, fills its args with a thread-specific pattern, runs it
// many times and checks every run against its first.
int main() {
  const int kThreads = 8, kRuns = 200;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      Model model;
      for (size_t i = 0; i < model.kNumArgs; ++i) {
        float* data = static_cast<float*>(model.arg_data(i));
        for (size_t j = 0; j < model.ArgSize(i) / sizeof(float); ++j)
          data[j] = static_cast<float>((t + 1) * 0.25 + j * 0.01);
      }
      std::vector<std::vector<char>> first;
      for (int run = 0; run < kRuns; ++run) {
        if (!model.Run()) { failures[t]++; return; }
        for (size_t r = 0; r < model.kNumResults; ++r) {
          const char* got = static_cast<const char*>(model.result_data(r));
          if (run == 0) first.emplace_back(got, got + model.ResultSize(r));
          else if (std::memcmp(first[r].data(), got, model.ResultSize(r)) != 0) failures[t]++;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  int total = 0;
  for (int f : failures) total += f;
  std::printf("failures %d\n", total);
  return total != 0;
}
"""


def test_threads_with_their_own_instances(tmp_path, zoo):
    out = zoo["conv"]
    source = tmp_path / "threads.cc"
    source.write_text(_THREADS_CC)
    program = build_cpp([source], tmp_path / "threads", include=[out],
                        objects=[out / "model.o"], flags=("-O1", "-fsanitize=thread"))
    assert run_program(program).strip() == "failures 0"


def test_one_python_model_shared_by_threads(zoo):
    model = aotc.load(zoo["indexing"])
    rng = np.random.default_rng(3)
    cases = [_inputs(model, rng) for _ in range(8)]
    expected = [model(*inputs) for inputs in cases]
    errors: list[str] = []

    def worker(k: int) -> None:
        for _ in range(50):
            got = model(*cases[k])
            for g, e in zip(got, expected[k]):
                if not np.array_equal(g, e):
                    errors.append(f"thread {k}: wrong result")
                    return

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(cases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_harness_catches_an_out_of_bounds_write(tmp_path):
    # The guard pages work: writing one float past an argument's end faults.
    source = tmp_path / "oob.cc"
    source.write_text(
        '#include <sys/mman.h>\n#include <unistd.h>\n#include <cstdint>\n#include <cstdio>\n'
        '#include <cstdlib>\n'
        + (HERE / "guarded_harness.cc").read_text().split("namespace {")[1].split(
            "}  // namespace")[0]
        + "int main() { float* p = static_cast<float*>(guarded(64)); p[16] = 1; return 0; }\n")
    program = build_cpp([source], tmp_path / "oob", flags=("-O0",))
    proc = subprocess.run([str(program)], capture_output=True)
    assert proc.returncode < 0  # killed by SIGSEGV
