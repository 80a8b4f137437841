"""Stateless random ops (tf.random.stateless_*): the same numbers as TensorFlow's CPU
kernels, drawn from Philox-4x32-10 with a key and counter taken from the seed input.

The seed (a run-time input or a constant) becomes a key and a 128-bit counter the way
TensorFlow's GenerateKey does: one Philox block of the seed words under a fixed key.
Output group g (4 u32 words: 4 floats, 2 doubles or 2 64-bit integers) comes from
block counter + g. The V2 ops take the key and counter directly (Philox only: the CPU
kernels' algorithm; ThreeFry is rejected). Distributions follow TensorFlow's
random_distributions.h: uniform floats from the mantissa bits, normals by Box-Muller,
integers by a modulo of the bits, truncated normals by rejecting |x| >= 2 within a
reserved stretch of 256 samples per output (64 blocks per output of a group) (drawn here from its first 4 blocks: the
chance that 16 candidates hold fewer than 4 accepted values is below 1e-14).
"""

from __future__ import annotations

import math

import numpy as np

from ...hlo import Instruction, Shape
from ...hlo.window import make_window
from ...hlo.dtypes import F16, F32, F64, S32, S64, U32, U64
from .loops import fori_loop
from .registry import lowering

_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
_WEYL = (0x9E3779B9, 0xBB67AE85)
_SEED_KEY = (0x3EC8F720, 0x02461E29)
_PHILOX, _AUTO = 1, 3
_RESERVED_BLOCKS_PER_OUTPUT = 64
_TRUNCATION_BLOCKS = 4


def philox(ctx, counter: list[Instruction], key: tuple[Instruction, Instruction]) -> list:
    """Philox-4x32-10 of counter words (u32 vectors of one length) under a key of two u32
    scalars; returns the 4 output words. The ten rounds are an HLO while loop."""

    def round_(scope, i, state):
        b = scope.b
        c0, c1, c2, c3, k0, k1 = state
        n = c0.shape.dims
        lo0, hi0 = _mul_hi_lo(scope, _MULTIPLIERS[0], c0)
        lo1, hi1 = _mul_hi_lo(scope, _MULTIPLIERS[1], c2)
        words = [b.binary("xor", b.binary("xor", hi1, c1), b.broadcast(k0, n, ())), lo1,
                 b.binary("xor", b.binary("xor", hi0, c3), b.broadcast(k1, n, ())), lo0]
        keys = [b.binary("add", k, b.constant(w, U32)) for k, w in zip((k0, k1), _WEYL)]
        return words + keys

    return fori_loop(ctx, "philox", 10, list(counter) + list(key), round_)[:4]


def _mul_hi_lo(ctx, multiplier, x):
    b = ctx.b
    product = b.binary("multiply", b.convert(x, U64), ctx.full(multiplier, U64, x.shape.dims))
    high = b.binary("shift-right-logical", product, ctx.full(32, U64, x.shape.dims))
    return b.convert(product, U32), b.convert(high, U32)


def _split64(ctx, x):
    """A u64 instruction -> its (low, high) u32 halves."""
    b = ctx.b
    high = b.binary("shift-right-logical", x, ctx.full(32, U64, x.shape.dims))
    return b.convert(x, U32), b.convert(high, U32)


def _join64(ctx, low, high):
    """(low, high) u32 -> u64."""
    b = ctx.b
    shifted = b.binary("shift-left", b.convert(high, U64), ctx.full(32, U64, high.shape.dims))
    return b.binary("or", b.convert(low, U64), shifted)


def _element(ctx, vector, k):
    return ctx.b.reshape(ctx.b.slice(vector, (k,), (k + 1,), (1,)), ())


def key_counter_from_seed(ctx, node, seed):
    """TF's GenerateKey: ((k0, k1) u32 scalars, [c0..c3] u32 scalars) from a seed [2]."""
    if seed.shape.dims != (2,) or not seed.shape.element_type.is_integer:
        ctx.error(node, f"seed must be an integer vector of shape [2], got {seed.shape.short()}")
    b = ctx.b
    wide = b.convert(b.convert(seed, S64), U64)  # int32 seeds sign-extend, as in C++
    words = [w for k in (0, 1) for w in _split64(ctx, b.reshape(_element(ctx, wide, k), (1,)))]
    key = tuple(b.constant(k, U32) for k in _SEED_KEY)
    mix = [b.reshape(w, ()) for w in philox(ctx, words, key)]
    zero = b.constant(0, U32)
    return (mix[0], mix[1]), [zero, zero, mix[2], mix[3]]


def key_counter_from_v2(ctx, node, key, counter, alg):
    """(key, counter) of the V2 ops: key [1] u64, counter [2] u64 (Philox uses both)."""
    algorithm = ctx.static_ints(node, alg, "alg")
    if algorithm not in ([_PHILOX], [_AUTO]):
        ctx.error(node, f"alg {algorithm} is not supported: only Philox (1) or auto-select "
                        "(3, Philox on CPU)")
    if key.shape.num_elements != 1 or counter.shape.num_elements < 2:
        ctx.error(node, f"needs a [1] key and a [2] counter, got {key.shape.short()} and "
                        f"{counter.shape.short()}")
    b = ctx.b
    flat_key = b.reshape(key, (1,))
    k = _split64(ctx, b.reshape(flat_key, ()))
    counter = b.reshape(counter, (counter.shape.num_elements,))
    c = [w for j in (0, 1) for w in _split64(ctx, _element(ctx, counter, j))]
    return k, c


def random_words(ctx, key, counter, groups: int) -> Instruction:
    """[groups, 4] u32: the Philox blocks at counter + 0 .. counter + groups - 1."""
    b = ctx.b
    n = (groups,)
    step = b.iota(Shape(U64, n), 0)
    low = b.binary("add", b.broadcast(_join64(ctx, counter[0], counter[1]), n, ()), step)
    carry = b.convert(b.compare(low, step, "LT"), U64)
    high = b.binary("add", b.broadcast(_join64(ctx, counter[2], counter[3]), n, ()), carry)
    words = philox(ctx, [*_split64(ctx, low), *_split64(ctx, high)], key)
    return b.concatenate([b.reshape(w, (groups, 1)) for w in words], 1)


def words_for(ctx, key, counter, count: int, per_group: int):
    """[ceil(count / per_group), 4] words for `count` outputs of `per_group` per block."""
    return random_words(ctx, key, counter, max(-(-count // per_group), 1))


def first_values(ctx, values, count, dims):
    """[groups, per_group] values -> the first `count` of them, shaped `dims`."""
    b = ctx.b
    flat = b.reshape(values, (values.shape.num_elements,))
    if flat.shape.dims[0] != count:
        flat = b.slice(flat, (0,), (count,), (1,))
    return b.reshape(flat, dims)


def uniform_floats(ctx, words, t):
    """[G, 4] words -> [G, 4] floats (f16/f32) or [G, 2] doubles in [0, 1)."""
    b = ctx.b
    if t == F64:
        w = [b.convert(b.slice(words, (0, k), (words.shape.dims[0], k + 1), (1, 1)), U64)
             for k in range(4)]
        mantissas = []
        for hi, lo in ((w[0], w[1]), (w[2], w[3])):
            top = b.binary("and", hi, ctx.full(0xFFFFF, U64, hi.shape.dims))
            top = b.binary("shift-left", top, ctx.full(32, U64, hi.shape.dims))
            mantissas.append(b.binary("or", top, lo))
        m = b.concatenate(mantissas, 1)
        return b.binary("multiply", b.convert(m, F64), ctx.full(2.0 ** -52, F64, m.shape.dims))
    bits = 10 if t == F16 else 23
    m = b.binary("and", words, ctx.full((1 << bits) - 1, U32, words.shape.dims))
    value = b.binary("multiply", b.convert(m, F32), ctx.full(2.0 ** -bits, F32, m.shape.dims))
    return value if t == F32 else b.convert(value, t)


def _box_muller(ctx, u, t):
    """Uniform [G, 2k] (pairs in adjacent columns) -> normal [G, 2k]: TF's BoxMuller, with
    u1 clamped to 1e-7 and (sin, cos) of 2 pi u2 scaled by sqrt(-2 log u1)."""
    b = ctx.b
    g, width = u.shape.dims
    wt = u.shape.element_type
    pairs = b.reshape(u, (g, width // 2, 2))
    u1 = b.reshape(b.slice(pairs, (0, 0, 0), (g, width // 2, 1), (1, 1, 1)), (g, width // 2))
    u2 = b.reshape(b.slice(pairs, (0, 0, 1), (g, width // 2, 2), (1, 1, 1)), (g, width // 2))
    dims = u1.shape.dims
    u1 = b.binary("maximum", u1, ctx.full(1e-7, wt, dims))
    radius = b.unary("sqrt", b.binary("multiply", ctx.full(-2.0, wt, dims), b.unary("log", u1)))
    angle = b.binary("multiply", ctx.full(2 * math.pi, wt, dims), u2)
    first = b.binary("multiply", b.unary("sine", angle), radius)
    second = b.binary("multiply", b.unary("cosine", angle), radius)
    return b.reshape(b.concatenate([b.reshape(first, dims + (1,)),
                                    b.reshape(second, dims + (1,))], 2), (g, width))


def _normal(ctx, words, t):
    """[G, 4] words -> [G, 4] normals (f16/f32, computed in f32) or [G, 2] doubles."""
    work = F64 if t == F64 else F32
    values = _box_muller(ctx, uniform_floats(ctx, words, work), work)
    return values if values.shape.element_type == t else ctx.b.convert(values, t)


def _dims(ctx, node, shape_input):
    dims = ctx.static_ints(node, shape_input, "shape")
    if any(d < 0 for d in dims):
        ctx.error(node, f"shape {dims} has a negative dimension")
    return dims


def _float_type(ctx, node):
    t = ctx.dtype(node, "dtype", np.float32)
    if t not in (F16, F32, F64):
        ctx.error(node, f"dtype {t} is not supported (f16, f32 or f64)")
    return t


def _per_group(t):
    return 2 if t.bits == 64 else 4


def _uniform(ctx, node, dims, key, counter):
    t = _float_type(ctx, node)
    count = int(np.prod(dims, dtype=np.int64))
    words = words_for(ctx, key, counter, count, _per_group(t))
    return first_values(ctx, uniform_floats(ctx, words, t), count, dims)


def _normal_rule(ctx, node, dims, key, counter):
    t = _float_type(ctx, node)
    count = int(np.prod(dims, dtype=np.int64))
    words = words_for(ctx, key, counter, count, _per_group(t))
    return first_values(ctx, _normal(ctx, words, t), count, dims)


def truncated_normal(ctx, node, dims, key, counter):
    """TF's truncated normal (|x| < 2) of the node's float `dtype` from the Philox stream at
    (key, counter)."""
    # Group g draws candidates from blocks counter + 64 per_group g ...; its outputs are
    # the first per_group candidates with |x| < 2, in order.
    t = _float_type(ctx, node)
    b = ctx.b
    per_group = _per_group(t)
    count = int(np.prod(dims, dtype=np.int64))
    groups = max(-(-count // per_group), 1)
    blocks = groups * _TRUNCATION_BLOCKS
    step = b.iota(Shape(U64, (blocks,)), 0)
    group = b.binary("divide", step, ctx.full(_TRUNCATION_BLOCKS, U64, (blocks,)))
    offsets = b.binary("add", b.binary("multiply", group, ctx.full(
        _RESERVED_BLOCKS_PER_OUTPUT * per_group, U64, (blocks,))),
                       b.binary("remainder", step, ctx.full(_TRUNCATION_BLOCKS, U64, (blocks,))))
    low = b.binary("add", b.broadcast(_join64(ctx, counter[0], counter[1]), (blocks,), ()),
                   offsets)
    carry = b.convert(b.compare(low, offsets, "LT"), U64)
    high = b.binary("add", b.broadcast(_join64(ctx, counter[2], counter[3]), (blocks,), ()),
                    carry)
    words = philox(ctx, [*_split64(ctx, low), *_split64(ctx, high)], key)
    words = b.concatenate([b.reshape(w, (blocks, 1)) for w in words], 1)
    work = F64 if t == F64 else F32
    candidates = _box_muller(ctx, uniform_floats(ctx, words, work), work)
    width = candidates.shape.num_elements // groups
    candidates = b.reshape(candidates, (groups, width))
    accepted = b.compare(b.unary("abs", candidates), ctx.full(2.0, work, (groups, width)), "LT")
    ones = b.convert(accepted, S32)

    rank = b.reduce_window(ones, b.constant(0, S32), make_window([1, width], None,
                                                                 [(0, 0), (width - 1, 0)]),
                           ctx.reducer("add", S32))  # accepted candidates up to here
    outputs = []
    zero = ctx.full(0, work, (groups, width))
    for k in range(per_group):
        pick = b.binary("and", accepted, b.compare(rank, ctx.full(k + 1, S32, (groups, width)),
                                                   "EQ"))
        chosen = ctx.reduce(b.select(pick, candidates, zero), "add", 0.0, [1])
        outputs.append(b.reshape(chosen, (groups, 1)))
    values = b.concatenate(outputs, 1)
    values = values if work == t else b.convert(values, t)
    return first_values(ctx, values, count, dims)


def _int_bits(ctx, words, t):
    """[G, 4] words -> [G, 4] u32 or [G, 2] u64 (low word first)."""
    b = ctx.b
    if t.bits <= 32:
        return words
    g = words.shape.dims[0]
    cols = [b.slice(words, (0, k), (g, k + 1), (1, 1)) for k in range(4)]
    return b.concatenate([_join64(ctx, cols[0], cols[1]), _join64(ctx, cols[2], cols[3])], 1)


def _uniform_int(ctx, node, dims, key, counter, low, high):
    # lo + bits % (hi - lo), in unsigned arithmetic of the type's width.
    t = ctx.dtype(node, "dtype")
    if t not in (S32, S64):
        ctx.error(node, f"dtype {t} is not supported (int32 or int64)")
    b = ctx.b
    count = int(np.prod(dims, dtype=np.int64))
    if low.shape.rank or high.shape.rank:
        ctx.error(node, f"minval and maxval must be scalars, got {low.shape.short()} and "
                        f"{high.shape.short()}")
    bounds = [ctx.static_value(v) for v in (low, high)]
    if all(v is not None for v in bounds) and int(bounds[1]) <= int(bounds[0]):
        ctx.error(node, f"needs minval < maxval, got {int(bounds[0])} and {int(bounds[1])}")
    u = U32 if t == S32 else U64
    words = words_for(ctx, key, counter, count, _per_group(t))
    bits = _int_bits(ctx, words, t)
    lo = b.convert(b.reshape(low, ()), u)
    span = b.binary("subtract", b.convert(b.reshape(high, ()), u), lo)
    dims2 = bits.shape.dims
    value = b.binary("add", b.binary("remainder", bits, b.broadcast(span, dims2, ())),
                     b.broadcast(lo, dims2, ()))
    return first_values(ctx, b.convert(value, t), count, dims)


def _full_int(ctx, node, dims, key, counter):
    t = ctx.dtype(node, "dtype")
    if not t.is_integer or t.bits not in (32, 64):
        ctx.error(node, f"dtype {t} is not supported (32- or 64-bit integers)")
    count = int(np.prod(dims, dtype=np.int64))
    bits = _int_bits(ctx, words_for(ctx, key, counter, count, _per_group(t)), t)
    return first_values(ctx, bits if bits.shape.element_type == t else ctx.b.convert(bits, t),
                   count, dims)


#: Distribution name -> rule body(ctx, node, dims, key, counter, *extra inputs).
DISTRIBUTIONS = {"Uniform": _uniform, "Normal": _normal_rule,
                 "TruncatedNormal": truncated_normal, "UniformInt": _uniform_int,
                 "UniformFullInt": _full_int}

#: Op -> distribution.
_V1_OPS = {"StatelessRandomUniform": "Uniform", "StatelessRandomNormal": "Normal",
           "StatelessTruncatedNormal": "TruncatedNormal",
           "StatelessRandomUniformInt": "UniformInt",
           "StatelessRandomUniformFullInt": "UniformFullInt"}


@lowering(*_V1_OPS)
def _stateless_v1(ctx, node, inputs):
    # (shape, seed, *extra): extra is (minval, maxval) for UniformInt.
    shape_input, seed, *extra = inputs
    key, counter = key_counter_from_seed(ctx, node, seed)
    return DISTRIBUTIONS[_V1_OPS[node.op]](ctx, node, _dims(ctx, node, shape_input), key,
                                           counter, *extra)


@lowering(*(op + "V2" for op in _V1_OPS))
def _stateless_v2(ctx, node, inputs):
    # (shape, key, counter, alg, *extra).
    shape_input, key, counter, alg, *extra = inputs
    k, c = key_counter_from_v2(ctx, node, key, counter, alg)
    return DISTRIBUTIONS[_V1_OPS[node.op[:-2]]](ctx, node, _dims(ctx, node, shape_input), k, c,
                                                *extra)


def _key_counter_outputs(ctx, node, seed):
    (k0, k1), c = key_counter_from_seed(ctx, node, seed)
    b = ctx.b
    key = b.reshape(_join64(ctx, b.reshape(k0, (1,)), b.reshape(k1, (1,))), (1,))
    counter = b.concatenate([b.reshape(_join64(ctx, b.reshape(c[0], (1,)), b.reshape(c[1], (1,))),
                                       (1,)),
                             b.reshape(_join64(ctx, b.reshape(c[2], (1,)), b.reshape(c[3], (1,))),
                                       (1,))], 0)
    return key, counter


@lowering("StatelessRandomGetKeyCounter")
def _get_key_counter(ctx, node, inputs):
    (seed,) = inputs
    return list(_key_counter_outputs(ctx, node, seed))


@lowering("StatelessRandomGetKeyCounterAlg")
def _get_key_counter_alg(ctx, node, inputs):
    (seed,) = inputs
    return [*_key_counter_outputs(ctx, node, seed), ctx.b.constant(_PHILOX, S32)]


@lowering("StatelessRandomGetAlg")
def _get_alg(ctx, node, inputs):
    # The algorithm TensorFlow picks on CPU.
    return ctx.b.constant(_PHILOX, S32)


