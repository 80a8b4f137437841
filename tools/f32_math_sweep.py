#!/usr/bin/env python3
"""Every f32 input through the f32 math functions (backends/cpu/math_f32.py): the largest
error in ulps of each, against a float64 NumPy reference (tests/f32_math.py).

The 2^32 bit patterns are run in chunks of 2^--chunk-bits through one compiled module
(all functions at once; the module is compiled once per worker process), by --jobs
workers; the reference is vectorized float64 NumPy (erf calls math.erf only where no
closed form is exact enough: 2^-20 <= |x| < 6; erfc math.erfc where 2^-26 <= |x| and
-6 < x < 27). Prints, per function, the largest error and an input where it occurs, and
whether it is within math_f32.ULP_BOUNDS (exit status 1 if not). Chunks are visited in
a strided order, so a partial sweep (`--chunks N`, or `--budget SECONDS`, after which no
new chunk starts) still spreads over every sign and exponent; the coverage printed says
how much was swept. About 2.5 s per chunk of 2^22 on one core of the shared VM: the
whole sweep is ~45 core-minutes.

    nice -n 19 python tools/f32_math_sweep.py [--chunk-bits 22] [--jobs 2] [--chunks N]
                                              [--budget SECONDS]

The recorded runs are in tools/f32_math_sweep.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from compiled import Compiled  # noqa: E402
from f32_math import OPCODES, ULP_BOUNDS, math_module, ulp_errors  # noqa: E402


_compiled = None


def _sweep_chunk(task: tuple[int, int]) -> dict[str, tuple[float, int]]:
    """Worst (error, bit pattern) per function over chunk `index` of 2**chunk_bits inputs."""
    global _compiled
    index, chunk_bits = task
    size = 1 << chunk_bits
    if _compiled is None:
        _compiled = Compiled(math_module(size))
    bits = np.arange(index * size, (index + 1) * size, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    worst = {}
    for opcode, got in zip(OPCODES, _compiled(x)):
        errors = ulp_errors(got, x, opcode)
        k = int(np.argmax(errors))
        worst[opcode] = (float(errors[k]), int(bits[k]))
    return worst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-bits", type=int, default=22, help="2**N inputs per chunk")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--chunks", type=int, default=None, help="stop after N chunks")
    parser.add_argument("--budget", type=float, default=None,
                        help="start no chunk after this many seconds (a partial sweep)")
    args = parser.parse_args(argv)
    total = 1 << (32 - args.chunk_bits)
    stride = 97  # odd, so i * stride mod total visits every chunk once
    order = [(i * stride) % total for i in range(total)][:args.chunks]
    worst = {opcode: (0.0, 0) for opcode in OPCODES}
    started = time.perf_counter()
    done = 0
    with multiprocessing.Pool(args.jobs) as pool:
        tasks = [(index, args.chunk_bits) for index in order]
        # Chunks go out one per worker at a time, so the budget stops new work promptly.
        for result in pool.imap_unordered(_sweep_chunk, tasks, chunksize=1):
            done += 1
            for opcode, (error, bits) in result.items():
                if error > worst[opcode][0]:
                    worst[opcode] = (error, bits)
            running = ", ".join(f"{op} {error:.2f}" for op, (error, _) in worst.items())
            print(f"chunk {done}/{len(order)} ({time.perf_counter() - started:.0f} s): "
                  f"max ulp so far: {running}", file=sys.stderr, flush=True)
            if args.budget is not None and time.perf_counter() - started > args.budget:
                pool.terminate()
                break
    swept = done << args.chunk_bits
    print(f"inputs: {swept} of 2^32 ({100 * swept / 2**32:.1f}%), {done} chunks of "
          f"2^{args.chunk_bits}, {time.perf_counter() - started:.0f} s")
    failed = False
    for opcode in OPCODES:
        error, bits = worst[opcode]
        x = np.uint32(bits).view(np.float32)
        ok = error <= ULP_BOUNDS[opcode]
        failed |= not ok
        print(f"{opcode:24s} max {error:.3f} ulp at x = {float(x):.9g} (bits 0x{bits:08x}); "
              f"bound {ULP_BOUNDS[opcode]}: {'ok' if ok else 'EXCEEDED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
