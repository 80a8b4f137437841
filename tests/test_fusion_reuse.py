"""Fusion of long elementwise chains whose values are reused (issue 11).

Unrolled Philox rounds are the shape: every word feeds the next round twice and the keys
feed every round. Fusion used to copy such a chain whole into the fusion of each value it
fed, and again inside one fusion for each use (the 48-round chain below took 150,000+
fused instructions and minutes; a 34-round one, 622 instructions, over 40 s). Now each
fused computation computes a value once, and a shared value is copied into a consumer
only when the copy reads no more than reading the value would, so the fused code grows
linearly with the chain. The test's time in the suite tells if that regresses.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotc.hlo import Builder, Shape
from aotc.hlo.dtypes import U32, U64
from aotc.hlo.evaluation import evaluate
from aotc.passes.pipeline import default_pipeline
from compiled import Compiled

ROUNDS = 48  # 878 instructions


def philox_chain(rounds: int, n: int):
    """`rounds` Philox-4x32 rounds over counter words c0..c3 (u32[n]) with run-time keys
    k0, k1 (u32 scalars), unrolled; the root concatenates the four final words."""
    b = Builder("philox_chain")
    words = [b.parameter(Shape(U32, (n,)), f"c{i}") for i in range(4)]
    k0, k1 = b.parameter(Shape(U32), "k0"), b.parameter(Shape(U32), "k1")

    def wide(value):
        return b.broadcast(b.constant(value, U64), (n,), ())

    def mul_hi_lo(multiplier, x):
        product = b.binary("multiply", b.convert(x, U64), wide(multiplier))
        high = b.binary("shift-right-logical", product, wide(32))
        return b.convert(product, U32), b.convert(high, U32)

    for _ in range(rounds):
        lo0, hi0 = mul_hi_lo(0xD2511F53, words[0])
        lo1, hi1 = mul_hi_lo(0xCD9E8D57, words[2])
        words = [b.binary("xor", b.binary("xor", hi1, words[1]), b.broadcast(k0, (n,), ())), lo1,
                 b.binary("xor", b.binary("xor", hi0, words[3]), b.broadcast(k1, (n,), ())), lo0]
        k0 = b.binary("add", k0, b.constant(0x9E3779B9, U32))
        k1 = b.binary("add", k1, b.constant(0xBB67AE85, U32))
    return b.module(b.tuple([b.concatenate([b.reshape(w, (n, 1)) for w in words], 1)]))


def reference(rounds: int, words, k0: int, k1: int) -> np.ndarray:
    """The same rounds in NumPy (64-bit products)."""
    c = [w.astype(np.uint64) for w in words]
    for _ in range(rounds):
        p0, p1 = c[0] * 0xD2511F53, c[2] * 0xCD9E8D57
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & 0xFFFFFFFF, (p0 >> 32) ^ c[3] ^ k1, p0 & 0xFFFFFFFF]
        k0, k1 = (k0 + 0x9E3779B9) & 0xFFFFFFFF, (k1 + 0xBB67AE85) & 0xFFFFFFFF
    return np.stack(c, 1).astype(np.uint32)


@pytest.fixture(scope="module")
def fused_chain():
    rng = np.random.default_rng(11)
    n = 16
    args = [rng.integers(0, 2**32, n, dtype=np.uint32) for _ in range(4)]
    args += [np.uint32(0x12345678), np.uint32(0x9ABCDEF0)]
    module = philox_chain(ROUNDS, n)
    unfused = len(module.entry.instructions)
    (expected,) = evaluate(module, *args)
    default_pipeline().run(module)
    return module, unfused, args, expected


def test_the_chain_is_philox(fused_chain):
    _, _, args, expected = fused_chain
    words, (k0, k1) = args[:4], (int(args[4]), int(args[5]))
    np.testing.assert_array_equal(expected, reference(ROUNDS, words, k0, k1))


def test_fused_chain_grows_linearly_and_computes_each_value_once(fused_chain):
    module, unfused, args, expected = fused_chain
    assert unfused > 800
    np.testing.assert_array_equal(evaluate(module, *args)[0], expected)
    bodies = [i.called_computations[0] for i in module.entry.instructions
              if i.opcode == "fusion"]
    fused = sum(len(body.instructions) for body in bodies)
    assert fused <= 2 * unfused, f"{fused} fused instructions for a chain of {unfused}"
    for body in bodies:
        # No two instructions of one fused computation compute the same value.
        seen = set()
        for inst in body.instructions:
            if inst.opcode in ("parameter", "constant"):
                continue
            key = (inst.opcode, tuple(map(id, inst.operands)), repr(sorted(inst.attrs.items())))
            assert key not in seen, f"{body.name}: {inst.name} is computed twice"
            seen.add(key)


def test_fused_chain_runs_on_the_cpu(fused_chain):
    module, _, args, expected = fused_chain
    (got,) = Compiled(module)(*args)
    np.testing.assert_array_equal(got, expected)
