#!/usr/bin/env python3
"""Peak memory of compiling a graph with one big constant (issue 11, item 8).

Writes `y = x + c` with c a float32 constant of --mb megabytes (a binary GraphDef and a
Config, no TensorFlow needed), compiles it with the CLI in a subprocess for each triple,
and prints the peak RSS (ru_maxrss of the child) and the time, next to a tiny-constant
compile of the same graph: the overhead above the tiny compile, divided by the constant's
bytes, is the figure to keep small (the goal: at most 6).

    python benchmarks/constant_memory.py [--mb 100] [--triples host,x86_64-pc-windows-msvc,...]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_constant_graph(directory: Path, nbytes: int) -> tuple[Path, Path]:
    """graph.pb and config.pbtxt for y = x + c, c a float32[n] constant of `nbytes`."""
    from aotc.frontend.proto import aotc_graph_pb2

    n = max(1, nbytes // 4)
    graph = aotc_graph_pb2.GraphDef()
    x = graph.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = 1  # DT_FLOAT
    c = graph.node.add(name="c", op="Const")
    c.attr["dtype"].type = 1
    tensor = c.attr["value"].tensor
    tensor.dtype = 1
    tensor.tensor_shape.dim.add(size=n)
    # Not a splat (a splat could be folded to a broadcast): distinct values.
    tensor.tensor_content = np.arange(n, dtype=np.float32).tobytes()
    y = graph.node.add(name="y", op="AddV2", input=["x", "c"])
    y.attr["T"].type = 1
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "graph.pb").write_bytes(graph.SerializeToString())
    (directory / "config.pbtxt").write_text(
        f'feed {{ id {{ node_name: "x" }} shape {{ dim {{ size: {n} }} }} name: "x" }}\n'
        'fetch { id { node_name: "y" } name: "y" }\n')
    return directory / "graph.pb", directory / "config.pbtxt"


# Runs in the child: compile, then report its own peak RSS (KiB on Linux).
_CHILD = """
import resource, sys, time
from aotc.cli import main
t = time.perf_counter()
status = main(sys.argv[1:])
print("aotc-measure", status, time.perf_counter() - t,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
"""


def measure(graph: Path, config: Path, out: Path, triple: str) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of compiling in a fresh Python process."""
    argv = ["compile", str(graph), str(config), "-o", str(out), "--name", "big"]
    if triple != "host":
        argv += ["--target_triple", triple]
    proc = subprocess.run([sys.executable, "-c", _CHILD, *argv], capture_output=True, text=True)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("aotc-measure")]
    if proc.returncode != 0 or not line or line[0].split()[1] != "0":
        raise RuntimeError(f"compile failed:\n{proc.stdout}\n{proc.stderr}")
    _, _, seconds, kib = line[0].split()
    return float(seconds), int(kib) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100)
    parser.add_argument("--triples", default="host,aarch64-unknown-linux-gnu,"
                        "arm64-apple-macosx11.0,x86_64-pc-windows-msvc",
                        help="comma-separated target triples ('host': the machine's own)")
    args = parser.parse_args()
    nbytes = int(args.mb * 1e6)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tiny = write_constant_graph(tmp / "tiny", 64)
        big = write_constant_graph(tmp / "big", nbytes)
        for triple in args.triples.split(","):
            t0, rss0 = measure(*tiny, tmp / "out_tiny", triple)
            t1, rss1 = measure(*big, tmp / "out_big", triple)
            print(f"{triple}: constant {nbytes / 1e6:.0f} MB: {t1:.1f} s, peak RSS "
                  f"{rss1 / 1e6:.0f} MB (tiny constant: {t0:.1f} s, {rss0 / 1e6:.0f} MB); "
                  f"overhead {(rss1 - rss0) / nbytes:.2f}x the constant")


if __name__ == "__main__":
    main()
