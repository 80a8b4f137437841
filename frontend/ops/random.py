"""Random number ops: a counter-based generator (Philox-4x32-10) built from integer HLO ops.

The IR has no `rng` instruction, and a compiled function has no hidden state, so random
ops are pure functions of their seeds: element i of the output comes from Philox block
i // 4, word i % 4, with the op's `seed`/`seed2` attrs as the 64-bit key. Every Run()
therefore returns the same numbers (TensorFlow's stateful kernels draw new ones per call;
tf2xla's do not reproduce TensorFlow's stream either). When both seeds are 0 (TensorFlow's
"pick one at random"), the key is derived from the node name, so two unseeded ops in one
graph still draw different numbers.

Philox (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): each round
multiplies two counter words by constants, keeping the high and low 32 bits of the 64-bit
products, and mixes in the key, which is bumped by the Weyl constants between rounds.
The key is a compile-time constant, so the round keys are folded here in Python.
"""

from __future__ import annotations

import zlib

import numpy as np

from ...hlo import Instruction, Shape
from ...hlo.dtypes import F32, F64, U32, U64
from .registry import lowering
from .stateless_random import truncated_normal

_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
_WEYL = (0x9E3779B9, 0xBB67AE85)
_ROUNDS = 10
_MASK32 = 0xFFFFFFFF

#: Float type -> mantissa bits used for uniform values: u >> (32 - m) scaled by 2^-m is
#: exact in the type and strictly below 1.
_MANTISSA_BITS = {"f16": 10, "bf16": 7, "f32": 23}


def philox_key(node) -> tuple[int, int]:
    """The 2x32-bit key of a random op: its seeds, or a hash of its name if both are 0."""
    seed = int(node.attr["seed"].i) if "seed" in node.attr else 0
    seed2 = int(node.attr["seed2"].i) if "seed2" in node.attr else 0
    if seed == 0 and seed2 == 0:
        seed2 = zlib.crc32(node.name.encode("utf-8"))
    return seed & _MASK32, seed2 & _MASK32


def random_bits(ctx, key: tuple[int, int], num: int) -> Instruction:
    """`num` pseudo-random u32 values (a vector): Philox-4x32-10 over counters 0, 1, ..."""
    b = ctx.b
    blocks = max((num + 3) // 4, 1)
    words = [b.iota(_u32_shape(blocks), 0)] + [ctx.full(0, U32, (blocks,))] * 3
    k0, k1 = key
    for _ in range(_ROUNDS):
        lo0, hi0 = _mul_hi_lo(ctx, _MULTIPLIERS[0], words[0], blocks)
        lo1, hi1 = _mul_hi_lo(ctx, _MULTIPLIERS[1], words[2], blocks)
        words = [
            _xor(ctx, _xor(ctx, hi1, words[1]), ctx.full(k0, U32, (blocks,))),
            lo1,
            _xor(ctx, _xor(ctx, hi0, words[3]), ctx.full(k1, U32, (blocks,))),
            lo0,
        ]
        k0, k1 = (k0 + _WEYL[0]) & _MASK32, (k1 + _WEYL[1]) & _MASK32
    # [blocks, 4] row-major: block i's words are elements 4i .. 4i+3.
    stacked = b.concatenate([b.reshape(w, (blocks, 1)) for w in words], 1)
    flat = b.reshape(stacked, (blocks * 4,))
    return flat if blocks * 4 == num else b.slice(flat, (0,), (num,), (1,))


def uniform(ctx, bits: Instruction, element_type) -> Instruction:
    """u32 bits -> floats uniform in [0, 1) of `element_type`."""
    b = ctx.b
    if element_type == F64:
        scaled = b.convert(bits, F64)
        return b.binary("multiply", scaled, ctx.full_like(scaled, 2.0 ** -32))
    m = _MANTISSA_BITS[element_type.name]
    top = b.binary("shift-right-logical", bits, ctx.full_like(bits, 32 - m))
    value = b.convert(top, F32)
    value = b.binary("multiply", value, ctx.full_like(value, 2.0 ** -m))
    return value if element_type == F32 else b.convert(value, element_type)


# ---------------------------------------------------------------------------------------
# Rules


@lowering("RandomUniform")
def _random_uniform(ctx, node, inputs):
    dims = _output_dims(ctx, node, inputs[0])
    t = ctx.dtype(node, "dtype")
    if not t.is_float:
        ctx.error(node, f"dtype {t.name} is not a floating-point type")
    bits = random_bits(ctx, philox_key(node), int(np.prod(dims, dtype=np.int64)))
    return ctx.b.reshape(uniform(ctx, bits, t), dims)


@lowering("RandomUniformInt")
def _random_uniform_int(ctx, node, inputs):
    # minval + bits % (maxval - minval), computed in 64 bits: the modulo bias is below
    # 2^-32 * range, as in TensorFlow's own kernel.
    shape_input, minval, maxval = inputs
    dims = _output_dims(ctx, node, shape_input)
    low, high = ctx.static_int(node, minval, "minval"), ctx.static_int(node, maxval, "maxval")
    if high <= low:
        ctx.error(node, f"needs minval < maxval, got {low} and {high}")
    t = ctx.dtype(node, "Tout")
    b = ctx.b
    bits = b.convert(random_bits(ctx, philox_key(node), int(np.prod(dims, dtype=np.int64))), U64)
    offset = b.binary("remainder", bits, ctx.full_like(bits, high - low))
    value = b.binary("add", b.convert(offset, "s64"), ctx.full(low, "s64", offset.shape.dims))
    return b.reshape(b.convert(value, t), dims)


@lowering("RandomStandardNormal")
def _random_standard_normal(ctx, node, inputs):
    # Box-Muller on pairs of uniforms u1 in (0, 1], u2 in [0, 1):
    # sqrt(-2 ln u1) * cos(2 pi u2).
    dims = _output_dims(ctx, node, inputs[0])
    t = ctx.dtype(node, "dtype")
    if not t.is_float:
        ctx.error(node, f"dtype {t.name} is not a floating-point type")
    n = int(np.prod(dims, dtype=np.int64))
    b = ctx.b
    bits = random_bits(ctx, philox_key(node), 2 * n)
    u = uniform(ctx, bits, F64 if t == F64 else F32)
    u1 = b.binary("subtract", ctx.full(1.0, u.shape.element_type, (n,)),
                  b.slice(u, (0,), (n,), (1,)))
    u2 = b.slice(u, (n,), (2 * n,), (1,))
    radius = b.unary("sqrt", b.binary("multiply", ctx.full_like(u1, -2.0), b.unary("log", u1)))
    angle = b.binary("multiply", ctx.full_like(u2, 2 * np.pi), u2)
    value = b.binary("multiply", radius, b.unary("cosine", angle))
    if value.shape.element_type != t:
        value = b.convert(value, t)
    return b.reshape(value, dims)


@lowering("TruncatedNormal")
def _truncated_normal(ctx, node, inputs):
    # TensorFlow's truncated-normal sampler (stateless_random.truncated_normal) keyed by the
    # op's seeds, counter 0.
    dims = _output_dims(ctx, node, inputs[0])
    k0, k1 = philox_key(node)
    b = ctx.b
    zero = b.constant(0, U32)
    return truncated_normal(ctx, node, dims, (b.constant(k0, U32), b.constant(k1, U32)),
                            [zero] * 4)


# ---------------------------------------------------------------------------------------
# Helpers


def _output_dims(ctx, node, shape_input) -> list[int]:
    dims = ctx.static_ints(node, shape_input, "shape")
    if any(d < 0 for d in dims):
        ctx.error(node, f"shape {dims} has a negative dimension")
    return dims


def _u32_shape(n: int) -> Shape:
    return Shape(U32, (n,))


def _mul_hi_lo(ctx, multiplier: int, x: Instruction, n: int) -> tuple[Instruction, Instruction]:
    """(low, high) 32-bit halves of the 64-bit product multiplier * x."""
    b = ctx.b
    product = b.binary("multiply", b.convert(x, U64), ctx.full(multiplier, U64, (n,)))
    high = b.binary("shift-right-logical", product, ctx.full(32, U64, (n,)))
    return b.convert(product, U32), b.convert(high, U32)


def _xor(ctx, x: Instruction, y: Instruction) -> Instruction:
    return ctx.b.binary("xor", x, y)
