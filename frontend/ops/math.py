"""Elementwise math: unary and binary arithmetic, comparisons, logic, AddN, MatMul, Cast.

Binary ops broadcast NumPy-style (TensorFlow's BCast) through `ctx.binary`; HLO needs
equal operand shapes, so the broadcast is made explicit there.
"""

from __future__ import annotations

import numpy as np

from ...hlo.dtypes import PRED
from .complex import conjugate
from .registry import lowering, single

# -- unary elementwise ----------------------------------------------------------------

#: TF op -> HLO opcode, for ops that are exactly one HLO elementwise op.
UNARY_OPS = {
    "Neg": "negate",
    "Abs": "abs",
    "Exp": "exponential",
    "Expm1": "exponential-minus-one",
    "Log": "log",
    "Log1p": "log-plus-one",
    "Tanh": "tanh",
    "Sigmoid": "logistic",
    "Sqrt": "sqrt",
    "Rsqrt": "rsqrt",
    "Floor": "floor",
    "Ceil": "ceil",
    "Sign": "sign",
    "Sin": "sine",
    "Cos": "cosine",
    "Tan": "tan",
    "Erf": "erf",
    "LogicalNot": "not",
}


def _unary_rule(opcode):
    def rule(ctx, node, inputs):
        return ctx.b.unary(opcode, single(inputs))

    rule.__doc__ = f"Lower to the HLO `{opcode}` op."
    return rule


for _op, _opcode in UNARY_OPS.items():
    lowering(_op)(_unary_rule(_opcode))


@lowering("Square")
def _square(ctx, node, inputs):
    x = single(inputs)
    return ctx.b.binary("multiply", x, x)


@lowering("Reciprocal", "Inv")
def _reciprocal(ctx, node, inputs):
    x = single(inputs)
    return ctx.b.binary("divide", ctx.full_like(x, 1), x)


@lowering("Round", "Rint")
def _round(ctx, node, inputs):
    # TF rounds half to even (banker's rounding); integers are already round.
    x = single(inputs)
    if not x.shape.element_type.is_float:
        return x
    return ctx.b.unary("round-nearest-even", x)


@lowering("IsFinite")
def _is_finite(ctx, node, inputs):
    return ctx.b.add("is-finite", [single(inputs)])


@lowering("IsNan")
def _is_nan(ctx, node, inputs):
    # NaN is the one value unequal to itself (NE is HLO's only unordered comparison).
    x = single(inputs)
    return ctx.b.compare(x, x, "NE")


@lowering("IsInf")
def _is_inf(ctx, node, inputs):
    x = single(inputs)
    return ctx.b.compare(ctx.b.unary("abs", x), ctx.full_like(x, np.inf), "EQ")


# -- binary elementwise ---------------------------------------------------------------

#: TF op -> HLO opcode, for broadcasting binary ops that are one HLO op.
BINARY_OPS = {
    "Add": "add",
    "AddV2": "add",
    "Sub": "subtract",
    "Mul": "multiply",
    "RealDiv": "divide",
    # Div truncates integers toward zero like C (and like HLO divide).
    "Div": "divide",
    "TruncateDiv": "divide",
    "TruncateMod": "remainder",
    # Mod is C's % (fmod for floats): the remainder takes the dividend's sign.
    "Mod": "remainder",
    "Maximum": "maximum",
    "Minimum": "minimum",
    "Pow": "power",
    "Atan2": "atan2",
    "LogicalAnd": "and",
    "LogicalOr": "or",
    "BitwiseAnd": "and",
    "BitwiseOr": "or",
    "BitwiseXor": "xor",
}


def _binary_rule(opcode):
    def rule(ctx, node, inputs):
        x, y = inputs
        return ctx.binary(node, opcode, x, y)

    rule.__doc__ = f"Lower to the HLO `{opcode}` op after NumPy-style broadcasting."
    return rule


for _op, _opcode in BINARY_OPS.items():
    lowering(_op)(_binary_rule(_opcode))

#: TF comparison op -> HLO compare direction.
COMPARISONS = {
    "Equal": "EQ",
    "NotEqual": "NE",
    "Less": "LT",
    "LessEqual": "LE",
    "Greater": "GT",
    "GreaterEqual": "GE",
}


def _compare_rule(direction):
    def rule(ctx, node, inputs):
        x, y = inputs
        return ctx.compare(node, x, y, direction)

    rule.__doc__ = f"Lower to an HLO compare with direction {direction}."
    return rule


for _op, _direction in COMPARISONS.items():
    lowering(_op)(_compare_rule(_direction))


@lowering("SquaredDifference")
def _squared_difference(ctx, node, inputs):
    d = ctx.binary(node, "subtract", *inputs)
    return ctx.b.binary("multiply", d, d)


@lowering("FloorDiv")
def _floor_div(ctx, node, inputs):
    x, y = ctx.broadcast_pair(node, *inputs)
    b = ctx.b
    if x.shape.element_type.is_float:
        return b.unary("floor", b.binary("divide", x, y))
    # Integer division truncates; step down by one where the remainder is nonzero and
    # the operands' signs differ (TF's FloorDiv rounds toward -inf).
    q = b.binary("divide", x, y)
    r = b.binary("remainder", x, y)
    zero = ctx.full_like(x, 0)
    r_nonzero = b.compare(r, zero, "NE")
    signs_differ = b.compare(b.compare(x, zero, "LT"), b.compare(y, zero, "LT"), "NE")
    adjust = b.binary("and", r_nonzero, signs_differ)
    return b.select(adjust, b.binary("subtract", q, ctx.full_like(x, 1)), q)


@lowering("FloorMod")
def _floor_mod(ctx, node, inputs):
    # The remainder takes the divisor's sign (Python's %): fix up C's truncated one.
    x, y = ctx.broadcast_pair(node, *inputs)
    b = ctx.b
    r = b.binary("remainder", x, y)
    zero = ctx.full_like(x, 0)
    r_nonzero = b.compare(r, zero, "NE")
    signs_differ = b.compare(b.compare(r, zero, "LT"), b.compare(y, zero, "LT"), "NE")
    return b.select(b.binary("and", r_nonzero, signs_differ), b.binary("add", r, y), r)


@lowering("DivNoNan")
def _div_no_nan(ctx, node, inputs):
    x, y = ctx.broadcast_pair(node, *inputs)
    b = ctx.b
    zero = ctx.full_like(y, 0)
    # Divide by 1 where y == 0 so no NaN/Inf is formed, then select 0 there.
    is_zero = b.compare(y, zero, "EQ")
    safe = b.select(is_zero, ctx.full_like(y, 1), y)
    return b.select(is_zero, zero, b.binary("divide", x, safe))


@lowering("AddN")
def _add_n(ctx, node, inputs):
    # TF requires equal shapes for AddN; sum left to right.
    total = inputs[0]
    for x in inputs[1:]:
        total = ctx.b.binary("add", total, x)
    return total


# -- matrix products ------------------------------------------------------------------


@lowering("MatMul")
def _mat_mul(ctx, node, inputs):
    # Transposed operands only change which dimension is contracted; no transposes.
    a, b = inputs
    ta = ctx.attr(node, "transpose_a", False)
    tb = ctx.attr(node, "transpose_b", False)
    if a.shape.rank != 2 or b.shape.rank != 2:
        ctx.error(node, f"MatMul needs matrices, got shapes {list(a.shape.dims)} and "
                        f"{list(b.shape.dims)}")
    return ctx.b.dot(a, b, lhs_contracting=[0 if ta else 1], rhs_contracting=[1 if tb else 0])


@lowering("SparseMatMul")
def _sparse_mat_mul(ctx, node, inputs):
    # A dense MatMul whose operands (f32 or bf16; the sparsity flags are only hints) are
    # multiplied in f32.
    a, b = (x if x.shape.element_type.name == "f32" else ctx.b.convert(x, "f32") for x in inputs)
    return _mat_mul(ctx, node, [a, b])


@lowering("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def _batch_mat_mul(ctx, node, inputs):
    # adj_x/adj_y transpose the last two dims and conjugate (a no-op for real types).
    # V2/V3 broadcast the batch dims; V1 requires them equal (then broadcasting is a no-op).
    x, y = inputs
    if x.shape.rank < 2 or y.shape.rank < 2:
        ctx.error(node, "operands must have rank >= 2")
    if node.op == "BatchMatMulV3":
        out_type = ctx.dtype(node, "Tout")
        x = ctx.b.convert(x, out_type) if x.shape.element_type != out_type else x
        y = ctx.b.convert(y, out_type) if y.shape.element_type != out_type else y
    adj_x = ctx.attr(node, "adj_x", False)
    adj_y = ctx.attr(node, "adj_y", False)
    try:
        batch = tuple(np.broadcast_shapes(x.shape.dims[:-2], y.shape.dims[:-2]))
    except ValueError:
        ctx.error(node, f"batch dimensions of {list(x.shape.dims)} and {list(y.shape.dims)} "
                        "are not broadcast-compatible")
    x = conjugate(ctx.b, x) if adj_x else x
    y = conjugate(ctx.b, y) if adj_y else y
    x = ctx.b.broadcast_to(x, batch + x.shape.dims[-2:])
    y = ctx.b.broadcast_to(y, batch + y.shape.dims[-2:])
    n = len(batch)
    return ctx.b.dot(
        x, y,
        lhs_batch=range(n), rhs_batch=range(n),
        lhs_contracting=[n if adj_x else n + 1],
        rhs_contracting=[n + 1 if adj_y else n],
    )


# -- type conversion ------------------------------------------------------------------


@lowering("Cast")
def _cast(ctx, node, inputs):
    x = single(inputs)
    target = ctx.dtype(node, "DstT")  # `Truncate` only matters for lossy float casts
    if target == x.shape.element_type:
        return x
    if target == PRED:
        # Nonzero is true; spelled out so no backend has to special-case convert to pred.
        return ctx.b.compare(x, ctx.full_like(x, 0), "NE")
    return ctx.b.convert(x, target)


@lowering("ToBool")
def _to_bool(ctx, node, inputs):
    # A scalar is true when nonzero; any other tensor when it has elements.
    x = single(inputs)
    if x.shape.rank:
        return ctx.b.constant(x.shape.num_elements > 0, PRED)
    return ctx.b.compare(x, ctx.full_like(x, 0), "NE")


@lowering("ClipByValue")
def _clip_by_value(ctx, node, inputs):
    # The bounds are scalars or match x. TF's kernel applies the upper bound first, so
    # where low > high the result is low; HLO clamp (max first) would give high.
    x, low, high = inputs
    dims = x.shape.dims
    for bound in (low, high):
        if bound.shape.rank and bound.shape.dims != dims:
            ctx.error(node, f"bounds must be scalars or of the input's shape {list(dims)}, "
                            f"got {list(bound.shape.dims)}")
    capped = ctx.b.binary("minimum", x, ctx.b.broadcast_to(high, dims))
    return ctx.b.binary("maximum", capped, ctx.b.broadcast_to(low, dims))
