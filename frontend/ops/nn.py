"""Neural-network ops: activations, BiasAdd, Softmax/LogSoftmax."""

from __future__ import annotations

import numpy as np

from .registry import lowering, single


@lowering("Relu")
def _relu(ctx, node, inputs):
    x = single(inputs)
    return ctx.b.binary("maximum", x, ctx.full_like(x, 0))


@lowering("Relu6")
def _relu6(ctx, node, inputs):
    x = single(inputs)
    return ctx.b.clamp(ctx.full_like(x, 0), x, ctx.full_like(x, 6))


@lowering("LeakyRelu")
def _leaky_relu(ctx, node, inputs):
    # max(x, alpha*x) is wrong for alpha > 1; select on the sign as TF does.
    x = single(inputs)
    alpha = ctx.attr(node, "alpha", 0.2)
    scaled = ctx.b.binary("multiply", x, ctx.full_like(x, alpha))
    return ctx.b.select(ctx.b.compare(x, ctx.full_like(x, 0), "GT"), x, scaled)


@lowering("Elu")
def _elu(ctx, node, inputs):
    x = single(inputs)
    b = ctx.b
    return b.select(b.compare(x, ctx.full_like(x, 0), "GT"), x,
                    b.unary("exponential-minus-one", x))


@lowering("Selu")
def _selu(ctx, node, inputs):
    x = single(inputs)
    b = ctx.b
    alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    negative = b.binary("multiply", ctx.full_like(x, alpha), b.unary("exponential-minus-one", x))
    picked = b.select(b.compare(x, ctx.full_like(x, 0), "GT"), x, negative)
    return b.binary("multiply", ctx.full_like(x, scale), picked)


@lowering("Softplus")
def _softplus(ctx, node, inputs):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|.
    x = single(inputs)
    b = ctx.b
    tail = b.unary("log-plus-one", b.unary("exponential", b.unary("negate", b.unary("abs", x))))
    return b.binary("add", b.binary("maximum", x, ctx.full_like(x, 0)), tail)


@lowering("Softsign")
def _softsign(ctx, node, inputs):
    x = single(inputs)
    b = ctx.b
    return b.binary("divide", x, b.binary("add", ctx.full_like(x, 1), b.unary("abs", x)))


@lowering("BiasAdd", "BiasAddV1")
def _bias_add(ctx, node, inputs):
    # The bias runs along the feature dim: last for NHWC, dim 1 for NCHW (any rank >= 2).
    x, bias = inputs
    fmt = ctx.attr(node, "data_format", "NHWC")
    if x.shape.rank < 2:
        ctx.error(node, f"input must have rank >= 2, got shape {list(x.shape.dims)}")
    if fmt in ("NHWC", "NDHWC"):
        feature = x.shape.rank - 1
    elif fmt in ("NCHW", "NCDHW"):
        feature = 1
    else:
        ctx.error(node, f"unsupported data_format {fmt!r}")
    if bias.shape.rank != 1 or bias.shape.dims[0] != x.shape.dims[feature]:
        ctx.error(node, f"bias of shape {list(bias.shape.dims)} does not match dimension "
                        f"{feature} of input shape {list(x.shape.dims)}")
    return ctx.b.binary("add", x, ctx.b.broadcast(bias, x.shape.dims, [feature]))


def _shifted_logits(ctx, node, x):
    """x - max(x) over the last axis (and that axis' index), for a stable softmax."""
    if x.shape.rank < 1:
        ctx.error(node, "logits must have rank >= 1")
    axis = x.shape.rank - 1
    kept = list(range(axis))
    t = x.shape.element_type
    lowest = -np.inf if t.is_float else np.iinfo(t.np_dtype).min
    peak = ctx.reduce(x, "maximum", lowest, [axis])
    return ctx.b.binary("subtract", x, ctx.b.broadcast(peak, x.shape.dims, kept)), axis, kept


@lowering("Softmax")
def _softmax(ctx, node, inputs):
    shifted, axis, kept = _shifted_logits(ctx, node, single(inputs))
    e = ctx.b.unary("exponential", shifted)
    total = ctx.reduce(e, "add", 0, [axis])
    # One division per row, then a multiply per element (as TensorFlow's kernel does: a
    # vector division costs several multiplies).
    scale = ctx.b.binary("divide", ctx.full_like(total, 1), total)
    return ctx.b.binary("multiply", e, ctx.b.broadcast(scale, e.shape.dims, kept))


@lowering("LogSoftmax")
def _log_softmax(ctx, node, inputs):
    shifted, axis, kept = _shifted_logits(ctx, node, single(inputs))
    total = ctx.reduce(ctx.b.unary("exponential", shifted), "add", 0, [axis])
    log_total = ctx.b.unary("log", total)
    return ctx.b.binary("subtract", shifted, ctx.b.broadcast(log_total, shifted.shape.dims, kept))


@lowering("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def _fused_batch_norm(ctx, node, inputs):
    # Inference only: y = (x - mean) * rsqrt(variance + epsilon) * scale + offset, with
    # the per-channel vectors along the feature dim. The extra outputs echo the moments
    # (what TF's inference kernel returns); V3's reserve_space_3 is an empty vector.
    x, scale, offset, mean, variance = inputs[:5]
    if ctx.attr(node, "is_training", True):
        ctx.error(node, "training-mode batch normalization is not supported; freeze the "
                        "graph for inference (is_training=False)")
    fmt = ctx.attr(node, "data_format", "NHWC")
    feature = 1 if fmt in ("NCHW", "NCDHW") else x.shape.rank - 1
    b = ctx.b
    t = x.shape.element_type
    params = [p if p.shape.element_type == t else b.convert(p, t)
              for p in (scale, offset, mean, variance)]
    scale_t, offset_t, mean_t, var_t = params
    eps = ctx.full_like(var_t, ctx.attr(node, "epsilon", 1e-4))
    factor = b.binary("multiply", scale_t, b.unary("rsqrt", b.binary("add", var_t, eps)))
    shift = b.binary("subtract", offset_t, b.binary("multiply", mean_t, factor))
    spread = lambda v: b.broadcast(v, x.shape.dims, [feature])  # noqa: E731
    y = b.binary("add", b.binary("multiply", x, spread(factor)), spread(shift))
    outputs = [y, mean, variance, mean, variance]
    if node.op == "FusedBatchNormV3":
        outputs.append(b.constant(np.zeros(0, np.float32)))
    return outputs


@lowering("BatchNormWithGlobalNormalization")
def _batch_norm_global(ctx, node, inputs):
    # The pre-2016 inference batch norm (GraphDef versions < 9, e.g. the 2015 Inception v3
    # graph): y = (t - m) * rsqrt(v + epsilon) * (gamma if scale_after_normalization) + beta,
    # t an NHWC image batch, the vectors along its channels.
    t, m, v, beta, gamma = inputs
    b = ctx.b
    if t.shape.rank != 4:
        ctx.error(node, f"t must be 4-dimensional, got {list(t.shape.dims)}")
    if any(p.shape.dims != (t.shape.dims[-1],) for p in (m, v, beta, gamma)):
        ctx.error(node, f"m, v, beta and gamma must be vectors of t's {t.shape.dims[-1]} "
                        "channels")
    eps = ctx.full_like(v, ctx.attr(node, "variance_epsilon"))
    factor = b.unary("rsqrt", b.binary("add", v, eps))
    if ctx.attr(node, "scale_after_normalization"):
        factor = b.binary("multiply", factor, gamma)
    shift = b.binary("subtract", beta, b.binary("multiply", m, factor))
    spread = lambda p: b.broadcast(p, t.shape.dims, [t.shape.rank - 1])  # noqa: E731
    return b.binary("add", b.binary("multiply", t, spread(factor)), spread(shift))
