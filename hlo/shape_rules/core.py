"""Shape rules for the core ops: elementwise, leaves, data movement, `dot`, `reduce`,
tuples and calls (XLA's rules). Registered into `SHAPE_RULES` on import (the package
`aotc.hlo.shape_rules` imports this module).
"""

from __future__ import annotations

from ..dtypes import PRED
from ..opcodes import BITWISE_OPS, COMPARISON_DIRECTIONS, COMPLEX_ELEMENTWISE
from ..shape import Shape
from .inference import ShapeError, require, rule


def _same_arrays(opcode: str, shapes: list[Shape]) -> None:
    first = shapes[0]
    for s in shapes:
        require(not s.is_tuple, f"{opcode} operand is a tuple: {s}")
        if not s.same_array(first):  # message built only on failure: this runs a lot
            raise ShapeError(
                f"{opcode} operands must have equal shapes (broadcasts are explicit): "
                + ", ".join(x.short() for x in shapes)
            )


@rule("<unary>", "<binary>")
def _elementwise(opcode, shapes, attrs, called):
    _same_arrays(opcode, shapes)
    t = shapes[0].element_type
    if t.is_complex:
        require(opcode in COMPLEX_ELEMENTWISE, f"{opcode} is not defined on complex operands "
                                               f"(got {t})")
        if opcode == "abs":  # |z| is real, as in XLA
            return Shape(t.component, shapes[0].dims, shapes[0].layout)
    elif opcode in BITWISE_OPS:
        require(t.is_integer or t.is_pred, f"{opcode} needs integer or pred operands, got {t}")
    elif opcode not in ("abs", "negate", "sign", "copy", "add", "subtract", "multiply",
                        "divide", "maximum", "minimum", "power", "remainder"):
        require(t.is_float, f"{opcode} needs floating-point operands, got {t}")
    return shapes[0].with_layout(shapes[0].layout)


@rule("compare")
def _compare(opcode, shapes, attrs, called):
    _same_arrays(opcode, shapes)
    require(attrs.get("direction") in COMPARISON_DIRECTIONS,
             f"compare direction must be one of {COMPARISON_DIRECTIONS}, got {attrs.get('direction')!r}")
    require(not shapes[0].element_type.is_complex or attrs["direction"] in ("EQ", "NE"),
            f"complex values compare only for EQ and NE, not {attrs['direction']}")
    return Shape(PRED, shapes[0].dims)


@rule("is-finite")
def _is_finite(opcode, shapes, attrs, called):
    require(shapes[0].element_type.is_float, "is-finite needs a floating-point operand")
    return Shape(PRED, shapes[0].dims)


@rule("convert")
def _convert(opcode, shapes, attrs, called):
    # The target type is not an attribute in XLA: it is the result shape's element type.
    # Builders pass it as attrs["new_element_type"] when inferring.
    return Shape(attrs["new_element_type"], shapes[0].dims)


@rule("bitcast-convert")
def _bitcast_convert(opcode, shapes, attrs, called):
    # Like convert, the target type is the result shape's (attrs["new_element_type"]).
    (x,) = shapes
    source, target = x.element_type, attrs["new_element_type"]
    require(not x.is_tuple, f"bitcast-convert operand is a tuple: {x}")
    require(not source.is_pred and not target.is_pred,
            f"bitcast-convert cannot convert {source} to {target}: pred has no bit layout")
    if source.bits == target.bits:
        return Shape(target, x.dims)
    if source.bits > target.bits:
        return Shape(target, x.dims + (source.bits // target.bits,))
    ratio = target.bits // source.bits
    require(x.rank >= 1 and x.dims[-1] == ratio,
            f"bitcast-convert from {source} to {target} needs a minor dimension of {ratio}, "
            f"got {x.short()}")
    return Shape(target, x.dims[:-1])


@rule("select")
def _select(opcode, shapes, attrs, called):
    pred, on_true, on_false = shapes
    require(pred.element_type == PRED, f"select predicate must be pred, got {pred.short()}")
    require(pred.dims == on_true.dims, f"select predicate {pred.short()} does not match {on_true.short()}")
    _same_arrays(opcode, [on_true, on_false])
    return on_true


@rule("clamp")
def _clamp(opcode, shapes, attrs, called):
    _same_arrays(opcode, shapes)
    return shapes[1]


@rule("parameter", "constant", "iota")
def _given(opcode, shapes, attrs, called):
    # These define their own shape; inference has nothing to add.
    raise ShapeError(f"{opcode} shape is given, not inferred")


@rule("broadcast")
def _broadcast(opcode, shapes, attrs, called):
    (operand,) = shapes
    dims = tuple(attrs["dimensions"])
    out = tuple(attrs["result_dims"])
    require(len(dims) == operand.rank,
             f"broadcast dimensions {dims} must have one entry per operand dim ({operand.short()})")
    require(len(set(dims)) == len(dims) and list(dims) == sorted(dims),
             f"broadcast dimensions {dims} must be strictly increasing")
    for i, d in enumerate(dims):
        require(0 <= d < len(out), f"broadcast dimension {d} out of range for rank {len(out)}")
        require(operand.dims[i] == out[d],
                 f"broadcast operand dim {i} ({operand.dims[i]}) != result dim {d} ({out[d]})")
    return Shape(operand.element_type, out)


@rule("reshape")
def _reshape(opcode, shapes, attrs, called):
    (operand,) = shapes
    out = tuple(attrs["result_dims"])
    new = Shape(operand.element_type, out)
    require(new.num_elements == operand.num_elements,
             f"reshape of {operand.short()} to {new.short()} changes the element count")
    return new


@rule("transpose")
def _transpose(opcode, shapes, attrs, called):
    (operand,) = shapes
    perm = tuple(attrs["dimensions"])
    require(sorted(perm) == list(range(operand.rank)),
             f"transpose dimensions {perm} are not a permutation of rank {operand.rank}")
    return Shape(operand.element_type, tuple(operand.dims[p] for p in perm))


@rule("reverse")
def _reverse(opcode, shapes, attrs, called):
    (operand,) = shapes
    for d in attrs["dimensions"]:
        require(0 <= d < operand.rank, f"reverse dimension {d} out of range")
    return Shape(operand.element_type, operand.dims)


@rule("slice")
def _slice(opcode, shapes, attrs, called):
    (operand,) = shapes
    spec = attrs["slice"]
    require(len(spec) == operand.rank, f"slice needs {operand.rank} ranges, got {len(spec)}")
    out = []
    for d, (start, limit, stride) in enumerate(spec):
        require(0 <= start <= limit <= operand.dims[d] and stride >= 1,
                 f"slice [{start}:{limit}:{stride}] invalid for dim {d} of {operand.short()}")
        out.append((limit - start + stride - 1) // stride)
    return Shape(operand.element_type, tuple(out))


@rule("pad")
def _pad(opcode, shapes, attrs, called):
    operand, value = shapes
    require(value.rank == 0 and value.element_type == operand.element_type,
             "pad value must be a scalar of the operand's type")
    out = []
    for d, (lo, hi, interior) in enumerate(attrs["padding"]):
        require(interior >= 0, "pad interior must be non-negative")
        n = operand.dims[d]
        size = lo + hi + n + max(n - 1, 0) * interior
        require(size >= 0, f"pad makes dim {d} negative")
        out.append(size)
    return Shape(operand.element_type, tuple(out))


@rule("concatenate")
def _concatenate(opcode, shapes, attrs, called):
    require(len(shapes) >= 1, "concatenate needs operands")
    (axis,) = attrs["dimensions"]
    first = shapes[0]
    require(0 <= axis < first.rank, f"concatenate dimension {axis} out of range")
    total = 0
    for s in shapes:
        require(s.element_type == first.element_type and s.rank == first.rank,
                 "concatenate operands differ in type or rank")
        require(all(a == b for i, (a, b) in enumerate(zip(s.dims, first.dims)) if i != axis),
                 f"concatenate operands differ outside dimension {axis}: "
                 + ", ".join(x.short() for x in shapes))
        total += s.dims[axis]
    dims = list(first.dims)
    dims[axis] = total
    return Shape(first.element_type, tuple(dims))


@rule("dot")
def _dot(opcode, shapes, attrs, called):
    lhs, rhs = shapes
    lb, rb = tuple(attrs.get("lhs_batch_dims", ())), tuple(attrs.get("rhs_batch_dims", ()))
    lc, rc = tuple(attrs.get("lhs_contracting_dims", ())), tuple(attrs.get("rhs_contracting_dims", ()))
    require(lhs.element_type == rhs.element_type,
             f"dot operand types differ: {lhs.short()} and {rhs.short()}")
    require(len(lb) == len(rb) and len(lc) == len(rc), "dot dimension number counts differ")
    for a, b in zip(lb, rb):
        require(lhs.dims[a] == rhs.dims[b], f"dot batch dims differ: {lhs.short()} . {rhs.short()}")
    for a, b in zip(lc, rc):
        require(lhs.dims[a] == rhs.dims[b],
                 f"dot contracting dims differ: {lhs.short()} . {rhs.short()}")
    used_l, used_r = set(lb) | set(lc), set(rb) | set(rc)
    require(len(used_l) == len(lb) + len(lc) and len(used_r) == len(rb) + len(rc),
             "dot uses a dimension twice")
    dims = [lhs.dims[d] for d in lb]
    dims += [lhs.dims[d] for d in range(lhs.rank) if d not in used_l]
    dims += [rhs.dims[d] for d in range(rhs.rank) if d not in used_r]
    return Shape(lhs.element_type, tuple(dims))


@rule("reduce")
def _reduce(opcode, shapes, attrs, called):
    require(len(shapes) % 2 == 0 and shapes, "reduce takes n inputs and n init values")
    n = len(shapes) // 2
    inputs, inits = shapes[:n], shapes[n:]
    dims = set(attrs["dimensions"])
    for s in inputs:
        require(s.dims == inputs[0].dims, "reduce inputs differ in dimensions")
    for d in dims:
        require(0 <= d < inputs[0].rank, f"reduce dimension {d} out of range")
    for i, init in zip(inputs, inits):
        require(init.rank == 0 and init.element_type == i.element_type,
                 f"reduce init value must be a scalar {i.element_type}")
    kept = tuple(d for k, d in enumerate(inputs[0].dims) if k not in dims)
    results = [Shape(s.element_type, kept) for s in inputs]
    return results[0] if n == 1 else Shape.tuple(results)


@rule("bitcast")
def _bitcast(opcode, shapes, attrs, called):
    (operand,) = shapes
    new = Shape(operand.element_type, tuple(attrs["result_dims"]))
    require(not operand.is_tuple and new.num_elements == operand.num_elements,
             f"bitcast of {operand.short()} to {new.short()} changes the element count")
    return new


@rule("tuple")
def _tuple(opcode, shapes, attrs, called):
    return Shape.tuple(shapes)


@rule("get-tuple-element")
def _gte(opcode, shapes, attrs, called):
    (operand,) = shapes
    require(operand.is_tuple, "get-tuple-element operand must be a tuple")
    index = attrs["index"]
    require(0 <= index < len(operand.tuple_shapes), f"tuple index {index} out of range")
    return operand.tuple_shapes[index]


@rule("call", "fusion")
def _call(opcode, shapes, attrs, called):
    (comp,) = called
    params = comp.parameters
    require(len(params) == len(shapes),
             f"{opcode} passes {len(shapes)} operands to {comp.name} taking {len(params)}")
    for p, s in zip(params, shapes):
        require(p.shape.same_array(s), f"{opcode} operand {s.short()} != parameter {p.shape.short()}")
    return comp.root.shape
