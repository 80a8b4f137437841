"""Products and quotients that define 0 * anything as 0 (TensorFlow's x*y-with-zero ops):
MulNoNan, Xdivy, Xlogy, Xlog1py; and ApproximateEqual."""

from __future__ import annotations

from .registry import lowering


def _zero_where(ctx, zero_operand, value):
    """0 where `zero_operand` is 0, else `value` (NaN and Inf in the other operand too)."""
    zero = ctx.full_like(value, 0)
    return ctx.b.select(ctx.b.compare(zero_operand, zero, "EQ"), zero, value)


@lowering("MulNoNan")
def _mul_no_nan(ctx, node, inputs):
    x, y = ctx.broadcast_pair(node, *inputs)
    return _zero_where(ctx, y, ctx.b.binary("multiply", x, y))


@lowering("Xdivy")
def _xdivy(ctx, node, inputs):
    x, y = ctx.broadcast_pair(node, *inputs)
    return _zero_where(ctx, x, ctx.b.binary("divide", x, y))


@lowering("Xlogy")
def _xlogy(ctx, node, inputs):
    x, y = ctx.broadcast_pair(node, *inputs)
    return _zero_where(ctx, x, ctx.b.binary("multiply", x, ctx.b.unary("log", y)))


@lowering("Xlog1py")
def _xlog1py(ctx, node, inputs):
    x, y = ctx.broadcast_pair(node, *inputs)
    return _zero_where(ctx, x, ctx.b.binary("multiply", x, ctx.b.unary("log-plus-one", y)))


@lowering("ApproximateEqual")
def _approximate_equal(ctx, node, inputs):
    # |x - y| <= tolerance as TensorFlow's CPU kernel computes it (its doc says <, and
    # tf2xla's kernel uses <); TF requires equal shapes.
    x, y = inputs
    if x.shape.dims != y.shape.dims:
        ctx.error(node, f"operands must have equal shapes, got {list(x.shape.dims)} and "
                        f"{list(y.shape.dims)}")
    diff = ctx.b.unary("abs", ctx.b.binary("subtract", x, y))
    return ctx.b.compare(diff, ctx.full_like(diff, ctx.attr(node, "tolerance", 1e-5)), "LE")
