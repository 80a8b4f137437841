#!/usr/bin/env python3
"""aotc side by side with TensorFlow, XLA JIT, tfcompile, onnxruntime and TFLite (`make bench`).

For each model (benchmarks/bench_models.py; `name` or `name:batch`), in one run:

1. freeze it to a GraphDef + tf2xla Config;
2. compile that with aotc (Python API; kernel count from aotc/report.py) and with the
   tfcompile inside the TensorFlow wheel (benchmarks/tfcompile_aot.py);
3. compare temp arena bytes: aotc's buffer assignment against the "temp bytes aligned"
   tfcompile writes into its header;
4. time the same input, median of --runs runs after a warm-up: TensorFlow eager (the Keras
   model called directly), TensorFlow graph (the model in a tf.function; the frozen
   GraphDef run as a function is several times slower still, its large constants being
   handled per call), XLA JIT (tf.function with jit_compile=True), tfcompile's object (a
   C++ timing program), onnxruntime (the frozen graph converted by tf2onnx; MLAS kernels),
   TFLite (the frozen graph converted by TFLiteConverter.from_frozen_graph; the
   interpreter's default XNNPACK delegate), aotc's object (C++, benchmarks/aotc_timer.cc)
   and aotc through the Python loader (`aotc.load`). Every runner's output is checked
   against TensorFlow's.
5. MatMuls with both operands fed (and one with a constant weight) through `aotc.load`
   against NumPy's BLAS in the same process, limited to --threads threads with
   threadpoolctl (benchmarks/matmul.py).

Everything runs on --threads threads (default 1; aotc is compiled with --threads N and
runs on an aotc::ThreadPool(N) in C++ and `aotc.load(path, threads=N)` in Python;
TensorFlow's inter- and intra-op pools, tfcompile's Eigen pool, onnxruntime's intra-op
pool, TFLite's interpreter and NumPy's BLAS get the same count). A model that does not
compile is skipped with a note. `--quick` leaves out the TensorFlow columns and runs 50
times. `--rounds R` measures every runner of a model R times, one runner after another,
and reports the medians: on a shared VM a second vCPU may vanish for a second, which
otherwise lands on whichever runner happens to be timed then (at 2 threads, one
aotc_timer run in five took twice its usual time).

    python benchmarks/run.py [--models mlp,mobilenet_v2:8,...] [--runs 200] [--quick]
                             [--out build/bench] [--threads 1] [--rounds 1] [--no-matmul]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RUNNERS = ["tf_eager", "tf_graph", "xla_jit", "tfcompile", "onnxruntime", "tflite",
           "aotc_cpp", "aotc_python"]
TITLES = {"tf_eager": "TF eager", "tf_graph": "TF graph", "xla_jit": "XLA JIT",
          "tfcompile": "tfcompile", "onnxruntime": "onnxruntime", "tflite": "TFLite",
          "aotc_cpp": "aotc C++", "aotc_python": "aotc Python"}
#: The runtimes a user would pick instead of aotc: the "best peer" is the faster of them.
PEERS = ("onnxruntime", "tflite")
#: OpenBLAS reads these when NumPy loads it; they would pin its kernels, so the benchmark
#: process runs without them (the re-exec in main()).
OPENBLAS_PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass
class Row:
    """What one model measured; None where a step was skipped or failed."""

    model: str
    aotc_temp: int | None = None
    aotc_unshared: int | None = None
    tfcompile_temp: int | None = None
    kernels: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # runner -> median seconds
    wrong: list[str] = field(default_factory=list)  # runners whose output did not match
    notes: list[str] = field(default_factory=list)

    def note(self, who: str, error: Exception, work: Path) -> None:
        """Record why `who` could not run, on one line, with paths relative to the model's
        scratch directory (the table is committed; this machine's paths mean nothing)."""
        text = f"{type(error).__name__}: {error}".splitlines()[0]
        self.notes.append(f"{who}: {text.replace(str(work) + '/', '')}")


def median_seconds(fn, runs: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed(row: Row, timers: dict, runner: str, measure: Callable[[], float]) -> None:
    """Measure `runner` once now (its first round) and keep `measure` for more_rounds."""
    timers[runner] = measure
    row.seconds[runner] = measure()


def more_rounds(row: Row, timers: dict, rounds: int) -> None:
    """Rounds 2 to `rounds`: every runner measured again, one after another, so that a
    slow spell of a shared machine (a vCPU taken away for a second) hits all of them
    alike; each runner's figure is the median of its rounds."""
    samples = {runner: [row.seconds[runner]] for runner in timers}
    for _ in range(rounds - 1):
        for runner, measure in timers.items():
            samples[runner].append(measure())
    for runner, values in samples.items():
        row.seconds[runner] = statistics.median(values)


def run_program(exe: Path, runs: int, inputs: list[Path], out_dir: Path) -> float:
    done = subprocess.run([str(exe), str(runs), *map(str, inputs), str(out_dir)],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1]) * 1e-9


def read_results(out_dir: Path, like: list[np.ndarray]) -> list[np.ndarray]:
    return [np.fromfile(out_dir / f"result{i}.bin", dtype=r.dtype).reshape(r.shape)
            for i, r in enumerate(like)]


def check(row: Row, runner: str, got, expected, rtol=1e-3, atol=1e-4) -> None:
    got = got if isinstance(got, (list, tuple)) else [got]
    ok = len(got) == len(expected) and all(
        np.allclose(np.asarray(g), e, rtol=rtol, atol=atol) for g, e in zip(got, expected))
    if not ok:
        row.wrong.append(runner)


# -- the compilers ---------------------------------------------------------------------------


def compile_aotc(row: Row, graph: Path, config: Path, out: Path, name: str,
                 threads: int = 1) -> None:
    from aotc.artifact import write_artifact
    from aotc.compiler import compile_graph
    from aotc.options import CompileOptions

    options = CompileOptions.from_kwargs(cpp_class=f"bench::{name.title().replace('_', '')}",
                                         name=name, threads=threads)
    compiled = compile_graph(str(graph), str(config), options)
    write_artifact(compiled.program, out, {f"{name}.o": compiled.object_code})
    row.aotc_temp = compiled.assignment.temp_bytes
    row.aotc_unshared = compiled.assignment.unshared_temp_bytes
    try:
        from aotc.report import build_report

        row.kernels = build_report(compiled.module, compiled.assignment).kernels
    except ImportError:  # --report is optional
        pass


def build_aotc_timer(out: Path, name: str, threads: int = 1) -> Path:
    from aotc import load

    cpp_class = load(out).program.cpp_class
    exe = out / "aotc_timer"
    subprocess.run(["g++", "-O2", "-std=c++17", str(HERE / "aotc_timer.cc"), str(out / f"{name}.o"),
                    f"-I{out}", f'-DAOTC_HEADER="{name}.h"', f"-DAOTC_CLASS={cpp_class}",
                    f"-DAOTC_THREADS={threads}", "-pthread", "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    return exe


# -- TensorFlow ------------------------------------------------------------------------------


def _numpy(outputs) -> list[np.ndarray]:
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [o.numpy() for o in outputs]


def fetch_tensors(config: str) -> list[str]:
    """The fetched tensors ("node:index") of a tf2xla Config text, in order."""
    tensors = []
    for match in re.finditer(r'fetch\s*\{\s*id\s*\{\s*node_name:\s*"([^"]+)"'
                             r'(?:\s*output_index:\s*(\d+))?', config):
        tensors.append(f"{match.group(1)}:{match.group(2) or 0}")
    return tensors


# -- onnxruntime and TFLite ------------------------------------------------------------------


def onnxruntime_runner(frozen, threads: int, work: Path):
    """The frozen graph converted by tf2onnx, in an onnxruntime session on `threads`
    intra-op threads (sequential execution); returns run(*inputs) -> outputs."""
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    graph_def = tf.compat.v1.GraphDef.FromString(frozen.graph_def)
    feeds = [f"{name}:0" for name, _, _ in frozen.feeds]
    fetches = fetch_tensors(frozen.config)
    model_proto, _ = tf2onnx.convert.from_graph_def(graph_def, input_names=feeds,
                                                    output_names=fetches, opset=17)
    path = work / "model.onnx"
    path.write_bytes(model_proto.SerializeToString())
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return lambda *xs: session.run(None, dict(zip(names, xs)))


def tflite_runner(frozen, threads: int, work: Path):
    """The frozen graph converted by TFLiteConverter.from_frozen_graph, in an interpreter
    with `threads` threads and its default delegate (XNNPACK); returns run(*inputs)."""
    import tensorflow as tf

    graph, _ = frozen.write(work)
    names = [name for name, _, _ in frozen.feeds]
    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        str(graph), input_arrays=names,
        output_arrays=[t.rsplit(":", 1)[0] for t in fetch_tensors(frozen.config)],
        input_shapes={name: list(shape) for name, _, shape in frozen.feeds})
    interpreter = tf.lite.Interpreter(model_content=converter.convert(), num_threads=threads)
    interpreter.allocate_tensors()
    by_name = {d["name"]: d["index"] for d in interpreter.get_input_details()}
    inputs = [by_name[name] for name in names]
    outputs = [d["index"] for d in interpreter.get_output_details()]

    def run(*xs):
        for index, x in zip(inputs, xs):
            interpreter.set_tensor(index, x)
        interpreter.invoke()
        return [interpreter.get_tensor(index) for index in outputs]

    return run


# -- one model -------------------------------------------------------------------------------


def write_model(name: str, batch: int, out: Path):
    """Model `name` at `batch` written under `out`: (label, its directory, (Keras model,
    frozen graph), GraphDef path, Config path, seeded inputs, the inputs' .bin files)."""
    from bench_models import MODELS

    label = name if batch == 1 else f"{name}_b{batch}"
    work = out / label
    built = MODELS[name](batch)
    graph, config = built[1].write(work)
    inputs = built[1].random_inputs(seed=0)
    files = []
    for i, x in enumerate(inputs):
        files.append(work / f"arg{i}.bin")
        files[-1].write_bytes(np.ascontiguousarray(x).tobytes())
    return label, work, built, graph, config, inputs, files


def bench_model(name: str, batch: int, args) -> Row:
    import tensorflow as tf

    import aotc
    import tfcompile_aot

    label, work, (keras_model, frozen), graph, config, inputs, input_files = write_model(
        name, batch, Path(args.out))
    row = Row(label)
    expected = frozen.reference(*inputs)
    timers: dict[str, Callable[[], float]] = {}  # runner -> one round's measurement

    # TensorFlow: eager, graph, XLA JIT.
    tensors = [tf.constant(x) for x in inputs]
    eager = (lambda *xs: keras_model(list(xs) if len(xs) > 1 else xs[0], training=False))
    graph_fn = tf.function(eager)
    jit_fn = tf.function(eager, jit_compile=True)
    tf_runners = () if args.quick else (("tf_eager", eager), ("tf_graph", graph_fn),
                                        ("xla_jit", jit_fn))
    for runner, fn in tf_runners:
        try:
            check(row, runner, _numpy(fn(*tensors)), expected)
            timed(row, timers, runner,
                  lambda fn=fn: median_seconds(lambda: _numpy(fn(*tensors)), args.runs))
        except Exception as error:  # noqa: BLE001 - report and go on
            row.note(TITLES[runner], error, work)

    # onnxruntime, TFLite.
    for runner, make in (("onnxruntime", onnxruntime_runner), ("tflite", tflite_runner)):
        try:
            (work / runner).mkdir(parents=True, exist_ok=True)
            fn = make(frozen, args.threads, work / runner)
            check(row, runner, fn(*inputs), expected)
            timed(row, timers, runner, lambda fn=fn: median_seconds(lambda: fn(*inputs), args.runs))
        except Exception as error:  # noqa: BLE001
            row.note(TITLES[runner], error, work)
            if args.verbose:
                traceback.print_exc()

    # aotc.
    try:
        out = work / "aotc"
        compile_aotc(row, graph, config, out, label.replace("-", "_"), args.threads)
        model = aotc.load(out, threads=args.threads)
        check(row, "aotc_python", model(*inputs), expected)
        timed(row, timers, "aotc_python", lambda: median_seconds(lambda: model(*inputs), args.runs))
        exe = build_aotc_timer(out, label.replace("-", "_"), args.threads)
        timed(row, timers, "aotc_cpp",
              lambda exe=exe, out=out: run_program(exe, args.runs, input_files, out))
        check(row, "aotc_cpp", read_results(out, expected), expected)
    except Exception as error:  # noqa: BLE001
        row.note("aotc", error, work)
        if args.verbose:
            traceback.print_exc()

    # tfcompile.
    try:
        out = work / "tfcompile"
        compiled = tfcompile_aot.compile_graph(graph, config, out, label)
        row.tfcompile_temp = compiled.temp_bytes
        if not args.no_tfcompile_timing:
            exe = tfcompile_aot.build_timer(compiled, out, threads=args.threads)
            timed(row, timers, "tfcompile",
                  lambda exe=exe, out=out: run_program(exe, args.runs, input_files, out))
            check(row, "tfcompile", read_results(out, expected), expected)
    except Exception as error:  # noqa: BLE001
        row.note("tfcompile", error, work)
        if args.verbose:
            traceback.print_exc()
    more_rounds(row, timers, args.rounds)
    return row


# -- the table -------------------------------------------------------------------------------


def _bytes(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def format_tables(rows: list[Row], args) -> str:
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [f"# aotc benchmark: median of {args.runs} runs, "
             f"{args.threads} thread(s); load average at the end {load}",
             f"# machine: {platform.machine()}, {os.cpu_count()} cores, {_cpu_name()}", "",
             "## Temp arena bytes", "",
             "| model | aotc | tfcompile | aotc / tfcompile | aotc unshared | aotc kernels |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = (f"{r.aotc_temp / r.tfcompile_temp:.2f}"
                 if r.aotc_temp is not None and r.tfcompile_temp else "-")
        lines.append(f"| {r.model} | {_bytes(r.aotc_temp)} | {_bytes(r.tfcompile_temp)} | "
                     f"{ratio} | {_bytes(r.aotc_unshared)} | "
                     f"{'-' if r.kernels is None else r.kernels} |")
    lines += ["", "## Latency (median; in parentheses: time / aotc C++ time)", "",
              "| model | " + " | ".join(TITLES[k] for k in RUNNERS) + " |",
              "|---|" + "---:|" * len(RUNNERS)]
    for r in rows:
        base = r.seconds.get("aotc_cpp")
        cells = []
        for runner in RUNNERS:
            t = r.seconds.get(runner)
            if t is None:
                cells.append("-")
                continue
            cell = f"{t * 1e6:,.1f} us"
            if base:
                cell += f" ({t / base:.2f}x)"
            if runner in r.wrong:
                cell += " WRONG"
            cells.append(cell)
        lines.append(f"| {r.model} | " + " | ".join(cells) + " |")
    lines += ["", "## aotc against the best peer and tfcompile (ratios: aotc C++ time / theirs)",
              "", "| model | aotc C++ | best peer | aotc / best peer | aotc / tfcompile |",
              "|---|---:|---:|---:|---:|"]
    peer_ratios, tfcompile_ratios = [], []
    for r in rows:
        ours = r.seconds.get("aotc_cpp")
        peers = [(r.seconds[p], p) for p in PEERS if p in r.seconds and p not in r.wrong]
        best = min(peers) if peers else None
        tfc = r.seconds.get("tfcompile")
        cells = [f"{ours * 1e6:,.1f} us" if ours else "-",
                 f"{best[0] * 1e6:,.1f} us ({TITLES[best[1]]})" if best else "-"]
        for other, into in ((best[0] if best else None, peer_ratios), (tfc, tfcompile_ratios)):
            if ours and other:
                into.append(ours / other)
                cells.append(f"{ours / other:.2f}")
            else:
                cells.append("-")
        lines.append(f"| {r.model} | " + " | ".join(cells) + " |")
    lines.append(f"| geomean | | | {_geomean(peer_ratios)} | {_geomean(tfcompile_ratios)} |")
    notes = [f"- {r.model}: {note}" for r in rows for note in r.notes]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines)


def _geomean(values: list[float]) -> str:
    return f"{float(np.exp(np.mean(np.log(values)))):.2f}" if values else "-"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def parse_models(text: str, models) -> list[tuple[str, int]]:
    """"mlp,mobilenet_v2:8" -> [("mlp", 1), ("mobilenet_v2", 8)]."""
    chosen = []
    for item in filter(None, text.split(",")):
        name, _, batch = item.partition(":")
        if name not in models or (batch and not batch.isdigit()):
            raise ValueError(f"unknown model {item!r}: use NAME or NAME:BATCH, NAME from "
                             f"{', '.join(models)}")
        chosen.append((name, int(batch or 1)))
    return chosen


def _without_openblas_pins(argv) -> None:
    """Re-run this process without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which OpenBLAS
    reads once when NumPy loads it (they would hand NumPy slower kernels)."""
    if any(name in os.environ for name in OPENBLAS_PINS):
        env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_PINS}
        os.execve(sys.executable, [sys.executable, __file__, *argv], env)


def main(argv=None) -> int:
    from bench_models import BENCH, MODELS

    argv = sys.argv[1:] if argv is None else argv
    _without_openblas_pins(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(f"{n}:{b}" for n, b in BENCH),
                        help=f"comma-separated NAME or NAME:BATCH, NAME from {', '.join(MODELS)}")
    parser.add_argument("--runs", type=int, default=None, help="default 200 (50 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="no TF eager/graph/XLA JIT columns; 50 runs unless --runs")
    parser.add_argument("--no-matmul", action="store_true", help="skip the MatMul table")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every runner this many times, in turn; report medians")
    parser.add_argument("--out", default="build/bench", help="work directory")
    parser.add_argument("--no-tfcompile-timing", action="store_true",
                        help="only read tfcompile's arena size (skip building its timer)")
    parser.add_argument("--verbose", action="store_true", help="print tracebacks")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 50 if args.quick else 200
    try:
        models = parse_models(args.models, MODELS)
    except ValueError as error:
        parser.error(str(error))

    import tensorflow as tf

    import matmul

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    rows = []
    for name, batch in models:
        print(f"benchmarking {name} (batch {batch}) ...", file=sys.stderr, flush=True)
        try:
            rows.append(bench_model(name, batch, args))
        except Exception as error:  # noqa: BLE001 - a model that cannot even be built
            print(f"note: skipping {name}: {type(error).__name__}: {error}", file=sys.stderr)
            if args.verbose:
                traceback.print_exc()
    print(format_tables(rows, args))
    if not args.no_matmul:
        print("benchmarking MatMul ...", file=sys.stderr, flush=True)
        print()
        print(matmul.format_table(matmul.bench_all(Path(args.out) / "matmul", args.threads,
                                                   args.runs, compile_aotc)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
