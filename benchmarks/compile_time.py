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

Each figure is the median of --repeat compiles. The last line is the geometric mean of
aotc CLI / tfcompile.

    python benchmarks/compile_time.py [--models mobilenet_v2,resnet,...] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
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

# Times tfcompile's Compile() call REPEAT times in one process; prints seconds per call.
_TFCOMPILE = """
import sys, time
from tensorflow.python import _pywrap_tfcompile as tfcompile
graph, config, out, repeat = sys.argv[1:5]
for _ in range(int(repeat)):
    start = time.perf_counter()
    tfcompile.Compile(graph=graph, config=config, target_triple="x86_64-pc-linux",
                      cpp_class="bench::Model", entry_point="tfcompile_entry",
                      out_function_object=out + ".o", out_header=out + ".h",
                      out_metadata_object=out + "_meta.o",
                      out_constant_buffers_object=out + "_constants.o")
    print(time.perf_counter() - start, flush=True)
"""


def time_tfcompile(graph: Path, config: Path, out: Path, repeat: int) -> float:
    import tfcompile_aot

    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, XLA_FLAGS=tfcompile_aot.XLA_FLAGS, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-c", _TFCOMPILE, str(graph), str(config),
                           str(out / "model"), str(repeat)], capture_output=True, text=True,
                          env=env)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"tfcompile exited with {done.returncode}")
    return statistics.median(float(line) for line in done.stdout.split())


def time_aotc_cli(graph: Path, config: Path, out: Path, repeat: int) -> float:
    aotc = Path(sys.executable).with_name("aotc")
    command = [str(aotc)] if aotc.exists() else [sys.executable, "-m", "aotc"]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([*command, "compile", str(graph), str(config), "-o", str(out),
                        "--cpp_class", "bench::Model"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_aotc_api(graph: Path, config: Path, out: Path, repeat: int) -> float:
    import aotc

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        aotc.compile(str(graph), str(config), str(out), cpp_class="bench::Model")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--repeat", type=int, default=3, help="compiles per figure (median)")
    parser.add_argument("--out", default="build/bench-compile", help="work directory")
    args = parser.parse_args(argv)

    rows = []
    for name in args.models.split(","):
        if name not in MODELS:
            parser.error(f"unknown model {name!r}")
        print(f"compiling {name} ...", file=sys.stderr, flush=True)
        work = Path(args.out) / name
        graph, config = MODELS[name]().write(work)
        cli = time_aotc_cli(graph, config, work / "aotc_cli", args.repeat)
        api = time_aotc_api(graph, config, work / "aotc_api", args.repeat)
        try:
            tfc = time_tfcompile(graph, config, work / "tfcompile", args.repeat)
        except Exception as error:  # noqa: BLE001 - report and go on
            print(f"note: tfcompile failed on {name}: {error}", file=sys.stderr)
            tfc = None
        rows.append((name, cli, api, tfc))

    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# aotc compile time: median of {args.repeat}; load average at the end {load}")
    print(f"# machine: {platform.machine()}, {os.cpu_count()} cores\n")
    print("| model | aotc CLI | aotc in-process | tfcompile | aotc CLI / tfcompile |")
    print("|---|---:|---:|---:|---:|")
    ratios = []
    for name, cli, api, tfc in rows:
        ratio = "-" if tfc is None else f"{cli / tfc:.2f}x"
        if tfc is not None:
            ratios.append(cli / tfc)
        tfc_text = "-" if tfc is None else f"{tfc:.2f} s"
        print(f"| {name} | {cli:.2f} s | {api:.2f} s | {tfc_text} | {ratio} |")
    if ratios:
        geomean = math.exp(sum(map(math.log, ratios)) / len(ratios))
        print(f"\ngeomean aotc CLI / tfcompile: {geomean:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
