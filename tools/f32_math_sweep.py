#!/usr/bin/env python3
"""Every f32 input through the f32 math functions (backends/cpu/math_f32.py): the largest
error in ulps of each, against a float64 NumPy reference (tests/f32_math.py).

The 2^32 bit patterns are run in chunks through one compiled module (all functions at
once); prints, per function, the largest error and an input where it occurs, and whether
it is within math_f32.ULP_BOUNDS (exit status 1 if not). Takes ~10-20 minutes on one core.

    python tools/f32_math_sweep.py [--chunk-bits 24] [--start 0] [--stop 256]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from compiled import Compiled  # noqa: E402
from f32_math import OPCODES, ULP_BOUNDS, math_module, ulp_errors  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-bits", type=int, default=24, help="2**N inputs per run")
    parser.add_argument("--start", type=int, default=0, help="first chunk")
    parser.add_argument("--stop", type=int, default=None, help="one past the last chunk")
    args = parser.parse_args(argv)
    size = 1 << args.chunk_bits
    chunks = 1 << (32 - args.chunk_bits)
    stop = chunks if args.stop is None else min(args.stop, chunks)
    compiled = Compiled(math_module(size))
    worst = {opcode: (0.0, np.float32(0)) for opcode in OPCODES}
    started = time.perf_counter()
    for chunk in range(args.start, stop):
        bits = np.arange(chunk * size, (chunk + 1) * size, dtype=np.uint64).astype(np.uint32)
        x = bits.view(np.float32)
        for opcode, got in zip(OPCODES, compiled(x)):
            errors = ulp_errors(got, x, opcode)
            k = int(np.argmax(errors))
            if errors[k] > worst[opcode][0]:
                worst[opcode] = (float(errors[k]), x[k])
        print(f"chunk {chunk + 1}/{chunks} ({time.perf_counter() - started:.0f} s)",
              file=sys.stderr, flush=True)
    print(f"inputs: chunks {args.start}..{stop - 1} of {chunks} ({(stop - args.start) * size} values)")
    failed = False
    for opcode in OPCODES:
        error, x = worst[opcode]
        ok = error <= ULP_BOUNDS[opcode]
        failed |= not ok
        print(f"{opcode:24s} max {error:.3f} ulp at x = {x!r} (bits 0x{x.view(np.uint32):08x}); "
              f"bound {ULP_BOUNDS[opcode]}: {'ok' if ok else 'EXCEEDED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
