"""Random ops whose distribution their inputs shape: Multinomial and StatelessMultinomial
(categorical samples from logits), ParameterizedTruncatedNormal and
StatelessParameterizedTruncatedNormal (normals of per-batch mean and deviation, cut to
per-batch bounds), and StochasticCastToInt.

Stateless ops draw from the Philox stream of their seed or key and counter (as
stateless_random.py does); the stateful ones from their node's key at counter 0 (as
random.py does: the same numbers on every Run).

- Multinomial follows TensorFlow's CPU kernel, so StatelessMultinomial gives its numbers
  where TensorFlow runs the batch as one shard (small batches; larger ones it splits
  across threads, each shard starting at its own stream offset): per row, the running sum
  of exp(logit - the largest finite logit) in f64 over the finite logits; sample j of row
  b is the number of running sums <= u * total, u being double b * num_samples + j of the
  stream.
- The parameterized truncated normal is tf2xla's inverse CDF (TensorFlow's CPU kernel
  rejects samples until one fits, a stream no fixed program reproduces): p uniform in
  (Phi(alpha), Phi(beta)) and x = Phi^-1(p), in f64 and on the lower tail's side
  (mirrored when both bounds are above the mean), where Phi keeps its precision.
- StochasticCastToInt applies TensorFlow's rule (NaN -> 0, saturation at the type's
  bounds, integers unchanged, else floor(x + u) below zero and floor(x + 1 - u) above)
  with one uniform of x's type per element. (TensorFlow's CPU kernel reuses samples across
  a SIMD packet, which ties its numbers to the host's vector width.)
"""

from __future__ import annotations

import math

import numpy as np

from ...hlo import Instruction
from ...hlo.dtypes import F16, F32, F64, S32, U32
from ...hlo.window import make_window
from .numerics import Math
from .random import philox_key
from .registry import lowering
from .special_math import erfc
from .stateless_random import (first_values, key_counter_from_seed, key_counter_from_v2,
                               uniform_floats, words_for)


def _stateful_stream(ctx, node):
    """(key, counter) of a stateful op: its seeds (random.philox_key) at counter 0."""
    b = ctx.b
    k0, k1 = philox_key(node)
    return (b.constant(k0, U32), b.constant(k1, U32)), [b.constant(0, U32)] * 4


def _uniform_doubles(ctx, key, counter, dims) -> Instruction:
    """f64 uniforms in [0, 1) shaped `dims`: two per Philox block, as TF's RandDouble."""
    count = int(np.prod(dims, dtype=np.int64))
    words = words_for(ctx, key, counter, count, 2)
    return first_values(ctx, uniform_floats(ctx, words, F64), count, dims)


# -- Multinomial ----------------------------------------------------------------------------


def multinomial(ctx, node, logits, num_samples, key, counter) -> Instruction:
    """[batch, num_samples] class indices drawn from [batch, classes] logits."""
    if logits.shape.rank != 2 or logits.shape.dims[1] == 0:
        ctx.error(node, f"logits must be [batch_size, num_classes > 0], got "
                        f"{logits.shape.short()}")
    batch, classes = logits.shape.dims
    samples = ctx.static_int(node, num_samples, "num_samples")
    if samples < 0:
        ctx.error(node, f"num_samples must be non-negative, got {samples}")
    out_type = ctx.dtype(node, "output_dtype", np.int64)
    b = ctx.b
    if batch * samples == 0:
        return ctx.full(0, out_type, (batch, samples))
    t = logits.shape.element_type
    x = b.convert(logits, F64)
    m = Math(ctx, x)
    finite = b.unary("is-finite", x) if t.is_float else ctx.full(True, "pred", x.shape.dims)
    lowest = float(np.finfo(t.np_dtype).min if t.is_float else np.iinfo(t.np_dtype).min)
    top = ctx.reduce(m.select(finite, x, lowest), "maximum", -np.inf, [1])
    weights = m.select(finite, m.exp(m.sub(x, b.broadcast(top, x.shape.dims, (0,)))), 0.0)
    cdf = b.reduce_window(weights, b.constant(0.0, F64),
                          make_window([1, classes], None, [(0, 0), (classes - 1, 0)]),
                          ctx.reducer("add", F64))
    total = b.reshape(b.slice(cdf, (0, classes - 1), (batch, classes), (1, 1)), (batch,))
    u = _uniform_doubles(ctx, key, counter, (batch, samples))
    target = b.binary("multiply", u, b.broadcast(total, (batch, samples), (0,)))
    dims = (batch, samples, classes)
    below = b.compare(b.broadcast(cdf, dims, (0, 2)), b.broadcast(target, dims, (0, 1)), "LE")
    return b.convert(ctx.reduce(b.convert(below, S32), "add", 0, [2]), out_type)


@lowering("Multinomial")
def _multinomial(ctx, node, inputs):
    logits, num_samples = inputs
    return multinomial(ctx, node, logits, num_samples, *_stateful_stream(ctx, node))


@lowering("StatelessMultinomial")
def _stateless_multinomial(ctx, node, inputs):
    logits, num_samples, seed = inputs
    return multinomial(ctx, node, logits, num_samples, *key_counter_from_seed(ctx, node, seed))


# -- parameterized truncated normal ---------------------------------------------------------


def _per_batch(ctx, node, param, dims, name):
    """A stateful op's parameter: a scalar (or one value) for all, or one value per batch
    row (dim 0), as f64 shaped `dims`."""
    b = ctx.b
    wide = b.convert(param, F64)
    if param.shape.num_elements == 1:
        return b.broadcast(b.reshape(wide, ()), dims, ())
    if param.shape.dims != (dims[0],):
        ctx.error(node, f"{name} must be a scalar or have one value per batch ({dims[0]}), "
                        f"got {param.shape.short()}")
    return b.broadcast(wide, dims, (0,))


def _broadcast_param(ctx, node, param, dims, name):
    """A stateless op's parameter, broadcast NumPy-style to `dims` (its trailing dims)."""
    try:
        fits = np.broadcast_shapes(param.shape.dims, dims) == dims
    except ValueError:
        fits = False
    if not fits:
        ctx.error(node, f"{name} {param.shape.short()} does not broadcast to the shape "
                        f"{list(dims)}")
    return ctx.b.broadcast_to(ctx.b.convert(param, F64), dims)


def _sample_dims(ctx, node, shape_input):
    dims = tuple(ctx.static_ints(node, shape_input, "shape"))
    if any(d < 0 for d in dims):
        ctx.error(node, f"shape {list(dims)} has a negative dimension")
    t = ctx.dtype(node, "dtype")
    if t not in (F16, F32, F64):
        ctx.error(node, f"dtype {t} is not supported (f16, f32 or f64)")
    return dims, t


def parameterized_truncated_normal(ctx, t, dims, params, key, counter):
    """Samples of type `t` shaped `dims` from normals of mean params[0] and deviation
    params[1] cut to (params[2], params[3]) (f64, shaped `dims`)."""
    mean, std, low, high = params
    u = _uniform_doubles(ctx, key, counter, dims)
    m = Math(ctx, u)
    u = m.add(u, 2.0 ** -53)  # (0, 1): the quantile stays finite
    alpha, beta = m.div(m.sub(low, mean), std), m.div(m.sub(high, mean), std)
    mirror = m.gt(alpha, 0.0)
    lower, upper = m.select(mirror, m.neg(beta), alpha), m.select(mirror, m.neg(alpha), beta)

    # Phi(z) = erfc(-z / sqrt 2) / 2 of both bounds at once: one erfc expression.
    b, n = ctx.b, len(dims)
    bounds = b.concatenate([lower, upper], 0)
    both = Math(ctx, bounds)
    phi = both.mul(0.5, erfc(both, both.div(both.neg(bounds), math.sqrt(2.0))))
    p_low, p_high = (b.slice(phi, (k * dims[0],) + (0,) * (n - 1),
                             ((k + 1) * dims[0],) + tuple(dims[1:]), (1,) * n) for k in (0, 1))
    z = _normal_quantile(m, m.add(p_low, m.mul(m.sub(p_high, p_low), u)))
    z = m.select(mirror, m.neg(z), z)
    x = m.min(m.max(m.add(m.mul(z, std), mean), low), high)
    return x if t == F64 else ctx.b.convert(x, t)


#: Acklam's rational approximations of the normal quantile (relative error below 1.2e-9:
#: invisible in samples, and free of ndtri's Newton loop, which LLVM is slow to compile).
_CENTRAL_NUM = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
_CENTRAL_DEN = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                6.680131188771972e+01, -1.328068155288572e+01, 1.0]
_TAIL_NUM = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
_TAIL_DEN = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
             3.754408661907416e+00, 1.0]
_TAIL_SPLIT = 0.02425


def _normal_quantile(m: Math, p):
    """z with Phi(z) = p, for p in (0, 1)."""
    p = m.max(p, 1e-300)
    q = m.sub(p, 0.5)
    r = m.mul(q, q)
    central = m.div(m.mul(m.poly(r, _CENTRAL_NUM), q), m.poly(r, _CENTRAL_DEN))
    tail_p = m.select(m.gt(q, 0.0), m.sub(1.0, p), p)
    t = m.sqrt(m.mul(-2.0, m.log(m.max(tail_p, 1e-300))))
    tail = m.div(m.poly(t, _TAIL_NUM), m.poly(t, _TAIL_DEN))
    tail = m.select(m.gt(q, 0.0), m.neg(tail), tail)
    return m.select(m.lt(tail_p, _TAIL_SPLIT), tail, central)


_PARAMS = ("means", "stdevs", "minvals", "maxvals")


@lowering("ParameterizedTruncatedNormal")
def _parameterized_truncated_normal(ctx, node, inputs):
    # Parameters are per batch: row b of dim 0 uses value b (or the one value).
    shape_input, *params = inputs
    dims, t = _sample_dims(ctx, node, shape_input)
    if not dims:
        ctx.error(node, "shape must have a batch dimension, got []")
    if 0 in dims:
        return ctx.full(0.0, t, dims)
    params = [_per_batch(ctx, node, p, dims, n) for p, n in zip(params, _PARAMS)]
    return parameterized_truncated_normal(ctx, t, dims, params, *_stateful_stream(ctx, node))


@lowering("StatelessParameterizedTruncatedNormal")
def _stateless_parameterized_truncated_normal(ctx, node, inputs):
    # Parameters broadcast NumPy-style against the shape.
    shape_input, seed, *params = inputs
    dims, t = _sample_dims(ctx, node, shape_input)
    params = [_broadcast_param(ctx, node, p, dims, n) for p, n in zip(params, _PARAMS)]
    if 0 in dims:
        return ctx.full(0.0, t, dims)
    return parameterized_truncated_normal(ctx, t, dims, params,
                                          *key_counter_from_seed(ctx, node, seed))


# -- stochastic rounding --------------------------------------------------------------------


@lowering("StochasticCastToInt")
def _stochastic_cast_to_int(ctx, node, inputs):
    x, key, counter, alg = inputs
    t = x.shape.element_type
    if t not in (F16, F32, F64):
        ctx.error(node, f"input must be f16, f32 or f64, got {t}")
    out_type = ctx.dtype(node, "Tout")
    if not out_type.is_integer or not out_type.is_signed:
        ctx.error(node, f"Tout {out_type} is not supported (a signed integer type)")
    k, c = key_counter_from_v2(ctx, node, key, counter, alg)
    dims = x.shape.dims
    count = int(np.prod(dims, dtype=np.int64))
    if count == 0:
        return ctx.full(0, out_type, dims)
    words = words_for(ctx, k, c, count, 2 if t == F64 else 4)
    u = first_values(ctx, uniform_floats(ctx, words, t), count, dims)
    m = Math(ctx, x)
    rounded = m.select(m.lt(x, 0.0), m.floor(m.add(x, u)), m.floor(m.sub(m.add(x, 1.0), u)))
    rounded = m.select(m.eq(m.floor(x), x), x, rounded)
    info = np.iinfo(out_type.np_dtype)
    top, bottom = (float(np.asarray(v).astype(t.np_dtype)) for v in (info.max, info.min))
    rounded = m.select(m.ge(x, top), top, rounded)
    rounded = m.select(m.le(x, bottom), bottom, rounded)
    rounded = m.select(m.b.compare(x, x, "NE"), 0.0, rounded)
    return ctx.b.convert(rounded, out_type)

