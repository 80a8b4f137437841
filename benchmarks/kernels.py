#!/usr/bin/env python3
"""Small kernels side by side: aotc against tfcompile, onnxruntime and TFLite (`make bench`).

Each case is a tf.function over fixed-shape inputs (softmax, cumsum, layer norm, the
small-tensor ops, a space/depth round trip, tfcompile's own tfadd graph). In one run, for
each case:

1. freeze it to a GraphDef + tf2xla Config;
2. compile that with aotc (`aotc.compile`) and with the tfcompile inside the TensorFlow
   wheel (benchmarks/tfcompile_aot.py), and convert the frozen graph for onnxruntime
   (tf2onnx) and TFLite (XNNPACK), with benchmarks/run.py's runners;
3. time one call of each, single-threaded, on the same input, and check every output
   against TensorFlow's (a mismatch prints WRONG); the last column is aotc's time over
   the best of the peers that computed the right outputs.

Timing: a C++ program per compiler calls `Run()` (aotc: the generated class; tfcompile: its
thunk program, as in benchmarks/tfcompile_aot.py) in batches sized so that one batch lasts
about 50 us, and reports the median over batches of the time per call, so that calls of a
few nanoseconds are measured too. onnxruntime (`InferenceSession.run`) and TFLite
(set_tensor, invoke, get_tensor) are timed from Python in the same batched way: their
columns include a few microseconds of Python call overhead (onnxruntime's more than
TFLite's). tfadd, a TF1 graph without a tf.function, has only the compiled columns.

    python benchmarks/kernels.py [--cases softmax,cumsum,...] [--samples 201] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import run as run_bench  # noqa: E402  (benchmarks/run.py: the onnxruntime and TFLite runners)

# -- the cases -------------------------------------------------------------------------------


def _layer_norm(tf, x):
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    gamma = tf.constant(np.linspace(0.5, 1.5, x.shape[-1]), tf.float32)
    beta = tf.constant(np.linspace(-0.1, 0.1, x.shape[-1]), tf.float32)
    return (x - mean) * tf.math.rsqrt(variance + 1e-3) * gamma + beta


def _top_k_post(tf, x):
    values, indices = tf.math.top_k(x, k=5)
    return tf.nn.softmax(values), indices


def _floor_mod_pow(tf, x):
    return tf.pow(tf.math.floormod(x, 1.7) + 0.1, 2.5) * tf.math.floormod(x, 0.3)


def _full_reductions(tf, x):
    return tf.reduce_sum(x), tf.reduce_max(x), tf.reduce_mean(tf.abs(x))


def _space_depth(tf, x):
    return tf.nn.depth_to_space(tf.nn.space_to_depth(x, 2) * 2.0, 2)


# name -> (function of (tf, *inputs), input shapes)
CASES = {
    "softmax": (lambda tf, x: tf.nn.softmax(x), [(8, 1000)]),
    "softmax_rows": (lambda tf, x: tf.nn.softmax(x), [(32, 128)]),  # attention-like rows
    "log_softmax": (lambda tf, x: tf.nn.log_softmax(x), [(8, 100)]),
    "layer_norm": (_layer_norm, [(32, 256)]),
    "cumsum": (lambda tf, x: tf.math.cumsum(x, axis=1, exclusive=True, reverse=True), [(4, 256)]),
    "mirror_pad": (lambda tf, x: tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], mode="REFLECT"),
                   [(1, 16, 16, 8)]),
    "top_k_post": (_top_k_post, [(1, 1000)]),
    "floor_mod_pow": (_floor_mod_pow, [(1024,)]),
    "full_reductions": (_full_reductions, [(64, 64)]),
    "space_depth_round_trip": (_space_depth, [(1, 16, 16, 8)]),
    "tfadd": None,  # tfcompile's test graph (tests/tfcompile_graphs.py): [1] + [1], int32
}


@dataclass
class Case:
    """A frozen case: graph and Config files, inputs, TensorFlow's outputs."""

    name: str
    graph: Path
    config: Path
    inputs: list[np.ndarray]
    expected: list[np.ndarray]
    frozen: object = None  # tests/models.py's FrozenModel (for onnxruntime and TFLite), if any


def build_case(name: str, work: Path) -> Case:
    import tensorflow as tf

    if CASES[name] is None:
        from tfcompile_graphs import GRAPHS

        graph, config = GRAPHS[name].write(work)
        inputs = [np.array([1], np.int32), np.array([2], np.int32)]
        return Case(name, graph, config, inputs, [inputs[0] + inputs[1]])
    from models import freeze_keras

    fn, shapes = CASES[name]
    frozen = freeze_keras(lambda *xs: fn(tf, *xs) if len(xs) > 1 else fn(tf, xs[0]), shapes)
    graph, config = frozen.write(work)
    inputs = frozen.random_inputs(seed=0)
    inputs = [x * 3 for x in inputs]  # a wider range: floor-mod wraps several times
    return Case(name, graph, config, inputs, frozen.reference(*inputs), frozen)


# -- the timing programs ---------------------------------------------------------------------

# The timing loop shared by both programs: batches of `batch` calls, `batch` grown until one
# lasts >= 50 us, then the median over SAMPLES batches of (batch time / batch).
_TIMING = r"""
template <typename F>
static double TimePerCall(F run, int samples) {
  using clock = std::chrono::steady_clock;
  long batch = 1;
  for (;;) {
    auto start = clock::now();
    for (long b = 0; b < batch; ++b) if (!run()) return -1;
    double ns = std::chrono::duration<double, std::nano>(clock::now() - start).count();
    if (ns >= 50000 || batch >= (1L << 24)) break;
    batch *= 2;
  }
  std::vector<double> times;
  for (int s = 0; s < samples; ++s) {
    auto start = clock::now();
    for (long b = 0; b < batch; ++b) run();
    times.push_back(std::chrono::duration<double, std::nano>(clock::now() - start).count() / batch);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}
"""

_AOTC_MAIN = r"""
#include AOTC_HEADER
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>
""" + _TIMING + r"""
int main(int argc, char** argv) {
  AOTC_CLASS model;
  const int samples = std::atoi(argv[1]);
  for (size_t i = 0; i < model.kNumArgs; ++i) {
    std::ifstream in(argv[i + 2], std::ios::binary);
    in.read(static_cast<char*>(model.arg_data(i)), static_cast<std::streamsize>(model.ArgSize(i)));
  }
  double ns = TimePerCall([&] { return model.Run(); }, samples);
  if (ns < 0) { std::fprintf(stderr, "Run failed: %s\n", model.error_msg().c_str()); return 1; }
  std::printf("%.2f\n", ns);
  for (size_t i = 0; i < model.kNumResults; ++i) {
    std::ofstream out(std::string(argv[argc - 1]) + "/result" + std::to_string(i) + ".bin",
                      std::ios::binary);
    out.write(static_cast<const char*>(model.result_data(i)),
              static_cast<std::streamsize>(model.ResultSize(i)));
  }
  return 0;
}
"""

def _tfcompile_main() -> str:
    """The tfcompile timer's main() with this file's timing loop (tfcompile_aot's pieces)."""
    import tfcompile_aot

    return (_TIMING + "\nint main(int argc, char** argv) {" + tfcompile_aot.TABLE_SETUP + r"""
  const int samples = std::atoi(argv[1]);
  double ns = TimePerCall([&] { return RunProgram(table.data(), &options); }, samples);
  if (ns < 0) { std::fprintf(stderr, "run failed\n"); return 1; }
  std::printf("%.2f\n", ns);""" + tfcompile_aot.WRITE_RESULTS)


def _run_timer(exe: Path, samples: int, inputs: list[Path], out: Path) -> float:
    done = subprocess.run([str(exe), str(samples), *map(str, inputs), str(out)],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1]) * 1e-9


def _read_results(out: Path, like: list[np.ndarray]) -> list[np.ndarray]:
    return [np.fromfile(out / f"result{i}.bin", dtype=r.dtype).reshape(r.shape)
            for i, r in enumerate(like)]


def time_aotc(case: Case, work: Path, inputs: list[Path], samples: int):
    import aotc

    out = work / "aotc"
    artifact = aotc.compile(str(case.graph), str(case.config), str(out),
                            cpp_class=f"bench::{case.name.title().replace('_', '')}", name=case.name)
    cpp_class = aotc.load(out).program.cpp_class
    source = out / "kernel_timer.cc"
    source.write_text(_AOTC_MAIN)
    exe = out / "kernel_timer"
    subprocess.run(["g++", "-O2", "-std=c++17", str(source), str(out / f"{case.name}.o"), f"-I{out}",
                    f'-DAOTC_HEADER="{case.name}.h"', f"-DAOTC_CLASS={cpp_class}", "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    del artifact
    seconds = _run_timer(exe, samples, inputs, out)
    return seconds, _read_results(out, case.expected)


def time_tfcompile(case: Case, work: Path, inputs: list[Path], samples: int):
    import tfcompile_aot

    out = work / "tfcompile"
    compiled = tfcompile_aot.compile_graph(case.graph, case.config, out, case.name)
    exe = tfcompile_aot.build_timer(compiled, out, threads=1, main=_tfcompile_main())
    seconds = _run_timer(exe, samples, inputs, out)
    return seconds, _read_results(out, case.expected)


def _python_time_per_call(fn, samples: int) -> float:
    batch = 1
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        if time.perf_counter() - start >= 2e-3 or batch >= 1 << 16:
            break
        batch *= 2
    times = []
    for _ in range(max(samples // 4, 11)):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        times.append((time.perf_counter() - start) / batch)
    return float(np.median(times))


def time_peer(case: Case, runner, work: Path, samples: int):
    """Time `runner` (benchmarks/run.py's onnxruntime_runner or tflite_runner) on one thread."""
    work.mkdir(parents=True, exist_ok=True)
    run = runner(case.frozen, 1, work)
    seconds = _python_time_per_call(lambda: run(*case.inputs), samples)
    return seconds, _match_outputs([np.asarray(o) for o in run(*case.inputs)], case.expected)


def _match_outputs(outputs, expected):
    """A converted graph may order its outputs its own way (TFLite by tensor name): pair
    each expected output with the output of the same shape and dtype, in order."""
    remaining = list(outputs)
    paired = []
    for e in expected:
        index = next((i for i, o in enumerate(remaining)
                      if o.shape == e.shape and o.dtype == e.dtype), 0)
        paired.append(remaining.pop(index) if remaining else None)
    return paired


# -- one run ---------------------------------------------------------------------------------

RUNNERS = ["tfcompile", "onnxruntime", "tflite", "aotc"]
TITLES = {"tfcompile": "tfcompile", "onnxruntime": "onnxruntime (Python run)",
          "tflite": "TFLite (Python invoke)", "aotc": "aotc"}
#: Runners that need the case's frozen model (a tf.function case), from benchmarks/run.py.
PEER_RUNNERS = {"onnxruntime": run_bench.onnxruntime_runner, "tflite": run_bench.tflite_runner}


@dataclass
class Row:
    """What one case measured."""

    case: str
    seconds: dict[str, float] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _close(got, expected) -> bool:
    return len(got) == len(expected) and all(
        g is not None and g.shape == e.shape and np.allclose(g, e, rtol=1e-4, atol=1e-5)
        for g, e in zip(got, expected))


def bench_case(name: str, args) -> Row:
    row = Row(name)
    work = Path(args.out) / name
    work.mkdir(parents=True, exist_ok=True)
    case = build_case(name, work)
    inputs = []
    for i, x in enumerate(case.inputs):
        inputs.append(work / f"arg{i}.bin")
        inputs[-1].write_bytes(np.ascontiguousarray(x).tobytes())
    timers = {"aotc": lambda: time_aotc(case, work, inputs, args.samples),
              "tfcompile": lambda: time_tfcompile(case, work, inputs, args.samples)}
    for runner, make in PEER_RUNNERS.items():
        timers[runner] = lambda make=make, runner=runner: time_peer(case, make, work / runner,
                                                                    args.samples)
    for runner in RUNNERS:
        if runner in PEER_RUNNERS and case.frozen is None:
            continue  # a TF1 graph (tfadd): no frozen Keras-style model to convert
        try:
            seconds, outputs = timers[runner]()
            row.seconds[runner] = seconds
            if not _close(outputs, case.expected):
                row.wrong.append(runner)
        except Exception as error:  # noqa: BLE001 - report and go on
            row.notes.append(f"{runner}: {type(error).__name__}: {error}".splitlines()[0])
            if args.verbose:
                traceback.print_exc()
    return row


def _format_time(seconds: float) -> str:
    return f"{seconds * 1e9:,.1f} ns" if seconds < 1e-6 else f"{seconds * 1e6:,.2f} us"


def format_table(rows: list[Row]) -> str:
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [f"# aotc kernels: 1 thread, median time per call; load average at the end {load}",
             f"# machine: {platform.machine()}, {os.cpu_count()} cores", "",
             "| case | " + " | ".join(TITLES[r] for r in RUNNERS) + " | aotc / best peer |",
             "|---|" + "---:|" * (len(RUNNERS) + 1)]
    for r in rows:
        cells = []
        for runner in RUNNERS:
            t = r.seconds.get(runner)
            cell = "-" if t is None else _format_time(t)
            cells.append(cell + (" WRONG" if runner in r.wrong else ""))
        peers = [t for k, t in r.seconds.items() if k != "aotc" and k not in r.wrong]
        ratio = (f"{r.seconds['aotc'] / min(peers):.2f}x"
                 if peers and "aotc" in r.seconds else "-")
        lines.append(f"| {r.case} | " + " | ".join(cells) + f" | {ratio} |")
    notes = [f"- {r.case}: {note}" for r in rows for note in r.notes]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--samples", type=int, default=201, help="timed batches per runner")
    parser.add_argument("--out", default="build/bench-kernels", help="work directory")
    parser.add_argument("--verbose", action="store_true", help="print tracebacks")
    args = parser.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    rows = []
    for name in args.cases.split(","):
        if name not in CASES:
            parser.error(f"unknown case {name!r}")
        print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
        rows.append(bench_case(name, args))
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
