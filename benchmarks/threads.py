#!/usr/bin/env python3
"""aotc on 2 threads against 1, and the temp arena per --threads (issue 12, item 3).

Two tables:

1. **Arena** (`--arena-models`, default every model of `BENCH`): each model compiled once
   with --threads 4, its buffers assigned again with the scratch of --threads 1 and with
   none. "no scratch" is the arena as it was while packing buffers lived on the worker's
   stack (the same HLO, the same buffer assignment without the backend's scratch);
   "stack" the packing buffer a task then put on its stack (the largest fed GEMM's
   block); the --threads 1 and 4 columns the arena now, packing slots included.
2. **Speed-up** (`--models`, default resnet, unet, mobilenet_v2:8): each model compiled
   with --threads 1 (run without a pool) and --threads 2 (run on an aotc::ThreadPool(2)),
   both timed by benchmarks/aotc_timer.cc, in `--pairs` back-to-back pairs of `--runs`
   runs; the table gives the median of each side and the median of the per-pair ratios.
   Results are checked to be the same bytes on both sides. On a machine with no free
   core for the second thread the wall-clock ratio says little, so the table also gives
   the CPU time of the thread calling Run() on each side: at 2 threads that is the work
   it did not hand to the pool plus its spin-waits, so the ratio estimates the speed-up
   with a free core (it misses the time the caller sleeps waiting for a late worker).

    python benchmarks/threads.py [--models resnet,unet,mobilenet_v2:8] [--pairs 9]
                                 [--runs 30] [--arena-models ...] [--out build/threads]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from run import Row, build_aotc_timer, compile_aotc, parse_models, write_model  # noqa: E402


def arena_row(name: str, batch: int, work: Path) -> tuple:
    """(label, no scratch, stack bytes per task, --threads 1 arena, --threads 4 arena)."""
    from aotc.backends.cpu.scratch import planned_gemm, scratch_bytes
    from aotc.backends.cpu.target import resolve_target
    from aotc.compiler import compile_graph
    from aotc.options import CompileOptions
    from aotc.passes import assign_buffers
    from bench_models import MODELS

    label = name if batch == 1 else f"{name}_b{batch}"
    _, frozen = MODELS[name](batch)
    graph, config = frozen.write(work / label)
    compiled = compile_graph(str(graph), str(config),
                             CompileOptions.from_kwargs(name=label, threads=4))
    module, target = compiled.module, resolve_target(None, None, None)
    one = assign_buffers(module, scratch=lambda inst: scratch_bytes(target, inst, 1))
    none = assign_buffers(module)
    stack = max([g.pack_bytes for g in (planned_gemm(target, i, 1)
                                        for i in module.entry.instructions) if g is not None]
                or [0])
    return label, none.temp_bytes, stack, one.temp_bytes, compiled.program.temp_bytes


def speedup_row(name: str, batch: int, args) -> tuple:
    """(label, 1-thread medians, 2-thread medians, per-pair ratios)."""
    label, work, _, graph, config, _, files = write_model(name, batch, Path(args.out))
    exes = {}
    for threads in (1, 2):
        out = work / f"threads{threads}"
        compile_aotc(Row(label), graph, config, out, label, threads)
        exes[threads] = (build_aotc_timer(out, label, threads), out)
    walls = {1: [], 2: []}
    cpus = {1: [], 2: []}
    for _ in range(args.pairs):
        for threads in (1, 2):
            exe, out = exes[threads]
            cpu, wall = timed(exe, args.runs, files, out)
            walls[threads].append(wall)
            cpus[threads].append(cpu)
    results = [sorted(exes[t][1].glob("result*.bin")) for t in (1, 2)]
    same = all(a.read_bytes() == b.read_bytes() for a, b in zip(*results))
    return label, walls, cpus, same


def timed(exe: Path, runs: int, inputs: list[Path], out_dir: Path) -> tuple[float, float]:
    """aotc_timer's medians: (CPU time of the thread calling Run(), wall), in seconds."""
    done = subprocess.run([str(exe), str(runs), *map(str, inputs), str(out_dir)],
                          capture_output=True, text=True, check=True)
    cpu, wall = done.stdout.split()[-2:]
    return float(cpu) * 1e-9, float(wall) * 1e-9


def main(argv=None) -> int:
    from bench_models import BENCH, MODELS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet,unet,mobilenet_v2:8")
    parser.add_argument("--arena-models", default=",".join(f"{n}:{b}" for n, b in BENCH))
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", default="build/threads")
    args = parser.parse_args(argv)
    try:
        speed = parse_models(args.models, MODELS)
        arena = parse_models(args.arena_models, MODELS)
    except ValueError as error:
        parser.error(str(error))
    load = lambda: " / ".join(f"{x:.1f}" for x in os.getloadavg())  # noqa: E731
    lines = [f"# aotc threads: load average at the start {load()}, {os.cpu_count()} cores", ""]
    if arena:
        lines += ["## Temp arena bytes", "",
                  "| model | no scratch (packing on the stack) | stack per task | --threads 1 "
                  "| --threads 1 - no scratch | --threads 4 | --threads 4 - --threads 1 |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for name, batch in arena:
            print(f"arena of {name} (batch {batch}) ...", file=sys.stderr, flush=True)
            label, none, stack, one, four = arena_row(name, batch, Path(args.out) / "arena")
            lines.append(f"| {label} | {none:,} | {stack:,} | {one:,} | {one - none:+,} | "
                         f"{four:,} | {four - one:+,} |")
        lines.append("")
    if speed:
        lines += [f"## 1 thread against 2 ({args.pairs} pairs of {args.runs} runs, medians)", "",
                  "| model | --threads 1, no pool | --threads 2, ThreadPool(2) | speed-up "
                  "(median of pairs) | min / max of pairs | calling thread's CPU: 1 thread "
                  "| 2 threads | ratio | same bytes |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        median = statistics.median
        for name, batch in speed:
            print(f"timing {name} (batch {batch}) ...", file=sys.stderr, flush=True)
            label, walls, cpus, same = speedup_row(name, batch, args)
            ratios = [a / b for a, b in zip(walls[1], walls[2])]
            lines.append(f"| {label} | {median(walls[1]) * 1e6:,.1f} us | "
                         f"{median(walls[2]) * 1e6:,.1f} us | {median(ratios):.2f}x | "
                         f"{min(ratios):.2f} / {max(ratios):.2f} | "
                         f"{median(cpus[1]) * 1e6:,.1f} us | {median(cpus[2]) * 1e6:,.1f} us | "
                         f"{median(cpus[1]) / median(cpus[2]):.2f}x | "
                         f"{'yes' if same else 'NO'} |")
        lines.append("")
    lines.append(f"Load average at the end {load()}.")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
