"""Plain MatMuls for the benchmark: aotc (through `aotc.load`) against NumPy's BLAS in the
same process, on the same number of threads (threadpoolctl limits the BLAS pool).

Each case is a frozen GraphDef holding one MatMul of an M x K by a K x N operand. With
both operands fed, the kernel must pack what it reads at run time; with a constant weight
(the K x N operand a Const node, as in a frozen Dense layer) aotc may lay it out at
compile time. NumPy multiplies the same arrays (`a @ b`). Figures are GFLOP/s (2MNK
floating-point operations per run) from the median run time, and each result is checked
against NumPy's.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from models import config_text  # noqa: E402

#: (M, K, N) of each case.
SHAPES = [(512, 512, 512), (128, 768, 3072)]


@dataclass
class MatmulRow:
    """One shape: GFLOP/s of aotc with both operands fed, with a constant weight, and of
    NumPy's BLAS; arena bytes of each aotc build."""

    shape: tuple[int, int, int]
    fed: float | None = None
    constant: float | None = None
    blas: float | None = None
    fed_temp: int | None = None
    constant_temp: int | None = None
    wrong: list[str] | None = None


def _graph(m: int, k: int, n: int, weight: np.ndarray | None) -> tuple[bytes, str]:
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        a = tf.compat.v1.placeholder(tf.float32, (m, k), name="a")
        if weight is None:
            b = tf.compat.v1.placeholder(tf.float32, (k, n), name="b")
            feeds = [("a", "a", (m, k)), ("b", "b", (k, n))]
        else:
            b = tf.constant(weight, name="w")
            feeds = [("a", "a", (m, k))]
        tf.linalg.matmul(a, b, name="out")
    return graph.as_graph_def().SerializeToString(), config_text(feeds, [("out", "out")])


def _median(fn, runs: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_all(work: Path, threads: int, runs: int, compile_aotc) -> list[MatmulRow]:
    """Every shape of SHAPES; `compile_aotc(row, graph, config, out, name)` is run.py's."""
    from threadpoolctl import threadpool_limits

    import aotc

    rows = []
    rng = np.random.default_rng(0)
    for m, k, n in SHAPES:
        row = MatmulRow((m, k, n), wrong=[])
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((k, n)).astype(np.float32)
        flops = 2.0 * m * n * k
        with threadpool_limits(threads, user_api="blas"):
            expected = a @ b
            row.blas = flops / _median(lambda: a @ b, runs) * 1e-9
        for variant, weight in (("fed", None), ("constant", b)):
            name = f"matmul_{m}x{k}x{n}_{variant}"
            out = work / name
            out.mkdir(parents=True, exist_ok=True)
            graph_def, config = _graph(m, k, n, weight)
            (out / "graph.pb").write_bytes(graph_def)
            (out / "config.pbtxt").write_text(config)

            class Temp:  # what compile_aotc records
                aotc_temp = aotc_unshared = kernels = None

            compile_aotc(Temp, out / "graph.pb", out / "config.pbtxt", out / "aotc", name, threads)
            model = aotc.load(out / "aotc", threads=threads)
            feeds = (a, b) if weight is None else (a,)
            got = model(*feeds)  # one result: the array itself
            if not np.allclose(got, expected, rtol=1e-3, atol=1e-3):
                row.wrong.append(variant)
            setattr(row, variant, flops / _median(lambda: model(*feeds), runs) * 1e-9)
            setattr(row, f"{variant}_temp", Temp.aotc_temp)
        rows.append(row)
    return rows


def format_table(rows: list[MatmulRow]) -> str:
    """The MatMul table, GFLOP/s and ratios to NumPy's BLAS."""
    lines = ["## MatMul (GFLOP/s; aotc through aotc.load, NumPy's BLAS in the same process)", "",
             "| M x K x N | aotc, both fed | aotc, constant weight | NumPy BLAS | fed / BLAS | "
             "constant / BLAS | arena fed / constant |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        def cell(value, variant):
            return "-" if value is None else f"{value:.1f}" + (" WRONG" if variant in r.wrong else "")

        ratio = lambda v: "-" if v is None or not r.blas else f"{v / r.blas:.2f}"  # noqa: E731
        m, k, n = r.shape
        lines.append(f"| {m} x {k} x {n} | {cell(r.fed, 'fed')} | {cell(r.constant, 'constant')} | "
                     f"{r.blas:.1f} | {ratio(r.fed)} | {ratio(r.constant)} | "
                     f"{r.fed_temp:,} / {r.constant_temp:,} |")
    return "\n".join(lines)
