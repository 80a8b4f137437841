#!/usr/bin/env python3
"""Compile time of aotc against tfcompile on the compile-time set (part of `make bench`).

The set: MobileNetV2 (alpha 0.35, 96x96, batch 1) and the small ResNet of
tests/test_models_cnn.py, the BERT-style encoder block of tests/test_models_transformer.py
(batch 1), LeNet at batch 8 (tests/test_models_cnn.py), and EfficientNet-B0 at 64x64 from
keras.applications (batch 1). All with seeded random weights.

For each model, frozen once:

- **aotc CLI**: wall time of `aotc compile GRAPH CONFIG -o DIR` as a fresh process, start-up
  included (what a build system pays);
- **aotc in-process**: `aotc.compile(...)` in a warm Python process (start-up excluded);
- **tfcompile**: the `Compile()` call of the tfcompile inside the TensorFlow wheel, timed
  inside a process that has already imported it (TensorFlow's Python import is excluded,
  as the stand-alone tfcompile binary does not pay it).

Each is timed twice: wall-clock time, and CPU time (user + system of the compiling
process and the LLVM worker processes it forks: `getrusage` of the CLI child,
`time.process_time()` plus the reaped children's in-process, all threads),
which a shared, loaded machine disturbs much less. aotc's modules are byte-compiled first,
as `pip install` does: with an editable install and PYTHONDONTWRITEBYTECODE set, every
`aotc compile` would otherwise compile ~250 source files (~0.3 s of CPU) before starting. Each figure is the median of --repeat
compiles, the CLI and tfcompile alternating. The last lines are the geometric means of
aotc CLI / tfcompile.

    python benchmarks/compile_time.py [--models mobilenet_v2,resnet,...] [--repeat 3]
"""

from __future__ import annotations

import argparse
import compileall
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _frozen_cnn(build_name: str, shape, batch: int):
    import models

    return models.frozen_cnn(getattr(models, build_name), shape, batch, seed=0)


def _encoder(batch: int):
    import models

    return models.freeze_keras(models.encoder_block(),
                               [(batch, models.ENCODER_SEQUENCE, models.ENCODER_WIDTH)])


def _efficientnet_b0(size: int = 64):
    import tensorflow as tf
    from models import freeze_keras

    tf.keras.utils.set_random_seed(0)
    model = tf.keras.applications.EfficientNetB0(input_shape=(size, size, 3), weights=None,
                                                 classes=10)
    return freeze_keras(model, [(1, size, size, 3)])


MODELS = {
    "mobilenet_v2": lambda: _frozen_cnn("mobilenet_v2", (96, 96, 3), 1),
    "resnet": lambda: _frozen_cnn("small_resnet", (32, 32, 3), 1),
    "bert_encoder": lambda: _encoder(1),
    "lenet_b8": lambda: _frozen_cnn("lenet", (28, 28, 1), 8),
    "efficientnet_b0_64": _efficientnet_b0,
}

# Times tfcompile's Compile() call once in a process that has imported it; prints wall and
# CPU seconds (process_time: every thread of the process).
_TFCOMPILE = """
import sys, time
from tensorflow.python import _pywrap_tfcompile as tfcompile
graph, config, out = sys.argv[1:4]
for line in sys.stdin:
    start, cpu = time.perf_counter(), time.process_time()
    tfcompile.Compile(graph=graph, config=config, target_triple="x86_64-pc-linux",
                      cpp_class="bench::Model", entry_point="tfcompile_entry",
                      out_function_object=out + ".o", out_header=out + ".h",
                      out_metadata_object=out + "_meta.o",
                      out_constant_buffers_object=out + "_constants.o")
    print(time.perf_counter() - start, time.process_time() - cpu, flush=True)
"""


class TfcompileTimer:
    """A process that has imported tfcompile and compiles one model on each request."""

    def __init__(self, graph: Path, config: Path, out: Path):
        import tfcompile_aot

        out.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, XLA_FLAGS=tfcompile_aot.XLA_FLAGS, TF_CPP_MIN_LOG_LEVEL="2")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _TFCOMPILE, str(graph), str(config), str(out / "model")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env)

    def time(self) -> tuple[float, float]:
        """(wall, CPU) seconds of one Compile() call."""
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.process.stdin.close()
            lines = [x for x in self.process.stderr.read().splitlines() if x.strip()]
            self.process.wait()
            raise RuntimeError(lines[-1] if lines else f"tfcompile exited with {self.process.returncode}")
        wall, cpu = map(float, line.split())
        return wall, cpu

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def time_aotc_cli(graph: Path, config: Path, out: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one `aotc compile` process."""
    aotc = Path(sys.executable).with_name("aotc")
    command = [str(aotc)] if aotc.exists() else [sys.executable, "-m", "aotc"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([*command, "compile", str(graph), str(config), "-o", str(out),
                    "--cpp_class", "bench::Model"], check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def time_aotc_api(graph: Path, config: Path, out: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one `aotc.compile` in this process."""
    import aotc

    start, cpu = time.perf_counter(), _cpu_with_children()
    aotc.compile(str(graph), str(config), str(out), cpp_class="bench::Model")
    return time.perf_counter() - start, _cpu_with_children() - cpu


def _cpu_with_children() -> float:
    """CPU seconds of this process and its reaped children (the compile's LLVM workers,
    backends/cpu/module_parts.py)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


#: The source folders pyproject.toml maps into the `aotc` namespace.
PACKAGE_FOLDERS = ("aotc", "frontend", "hlo", "passes", "backends", "runtime")


def byte_compile() -> None:
    """Write aotc's .pyc files (what `pip install` does for a regular install)."""
    for folder in PACKAGE_FOLDERS:
        compileall.compile_dir(HERE.parent / folder, quiet=1)


def _median(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def _geomean(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--repeat", type=int, default=3, help="compiles per figure (median)")
    parser.add_argument("--out", default="build/bench-compile", help="work directory")
    args = parser.parse_args(argv)

    byte_compile()
    rows = []
    for name in args.models.split(","):
        if name not in MODELS:
            parser.error(f"unknown model {name!r}")
        print(f"compiling {name} ...", file=sys.stderr, flush=True)
        work = Path(args.out) / name
        graph, config = MODELS[name]().write(work)
        tfcompile = TfcompileTimer(graph, config, work / "tfcompile")
        cli, tfc = [], []
        for _ in range(args.repeat):  # alternating, so both see the same load
            cli.append(time_aotc_cli(graph, config, work / "aotc_cli"))
            if tfc is not None:
                try:
                    tfc.append(tfcompile.time())
                except Exception as error:  # noqa: BLE001 - report and go on
                    print(f"note: tfcompile failed on {name}: {error}", file=sys.stderr)
                    tfc = None
        if tfc is not None:
            tfcompile.close()
        api = [time_aotc_api(graph, config, work / "aotc_api") for _ in range(args.repeat)]
        rows.append((name, _median(cli), _median(api), _median(tfc) if tfc else None))

    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# aotc compile time: median of {args.repeat}; load average at the end {load}")
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores; wall / CPU seconds\n")
    print("| model | aotc CLI | aotc in-process | tfcompile | CLI / tfcompile, wall | CPU |")
    print("|---|---:|---:|---:|---:|---:|")
    walls, cpus = [], []
    for name, cli, api, tfc in rows:
        if tfc is None:
            tfc_text = wall_ratio = cpu_ratio = "-"
        else:
            walls.append(cli[0] / tfc[0])
            cpus.append(cli[1] / tfc[1])
            tfc_text = f"{tfc[0]:.2f} / {tfc[1]:.2f} s"
            wall_ratio, cpu_ratio = f"{walls[-1]:.2f}x", f"{cpus[-1]:.2f}x"
        print(f"| {name} | {cli[0]:.2f} / {cli[1]:.2f} s | {api[0]:.2f} / {api[1]:.2f} s "
              f"| {tfc_text} | {wall_ratio} | {cpu_ratio} |")
    if walls:
        print(f"\ngeomean aotc CLI / tfcompile: {_geomean(walls):.2f}x wall, "
              f"{_geomean(cpus):.2f}x CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
