"""Evaluator rules for the core ops: leaves (parameter, constant, iota), data movement
(broadcast, reshape, transpose, reverse, slice, pad, concatenate), `dot`, `reduce`,
`bitcast`, `bitcast-convert`, tuples and calls.
"""

from __future__ import annotations

import numpy as np

from ..ir import Computation
from ..layout_util import from_physical, to_physical
from .interpreter import EvaluationError, evaluate_computation, rule, run_computation
from .reducers import batchable, simple_reducer


# ---------------------------------------------------------------------------------------
# Leaves and data movement
# ---------------------------------------------------------------------------------------


@rule("parameter")
def _parameter(inst, ops):
    raise EvaluationError(f"{inst.name}: a parameter's value comes from the arguments of "
                          "evaluate_computation, not from evaluate_instruction")


@rule("constant")
def _constant(inst, ops):
    return inst.attrs["literal"].copy()  # callers may mutate results; literals stay intact


@rule("iota")
def _iota(inst, ops):
    dims = inst.shape.dims
    d = inst.attrs["iota_dimension"]
    line = np.arange(dims[d]).astype(inst.shape.element_type.np_dtype)
    shape = [1] * len(dims)
    shape[d] = dims[d]
    return np.broadcast_to(line.reshape(shape), dims)


@rule("broadcast")
def _broadcast(inst, ops):
    (x,) = ops
    dims = list(inst.attrs["dimensions"])
    order = sorted(range(len(dims)), key=lambda i: dims[i])  # tolerate unsorted dimensions
    x = np.transpose(x, order)
    shape = [1] * inst.shape.rank
    for i, d in enumerate(sorted(dims)):
        shape[d] = x.shape[i]
    return np.broadcast_to(x.reshape(shape), inst.shape.dims)


@rule("reshape")
def _reshape(inst, ops):
    # Logical row-major order: layouts are physical and never change values.
    return np.reshape(ops[0], inst.shape.dims)


@rule("transpose")
def _transpose(inst, ops):
    return np.transpose(ops[0], inst.attrs["dimensions"])


@rule("reverse")
def _reverse(inst, ops):
    return np.flip(ops[0], axis=tuple(inst.attrs["dimensions"]))


@rule("slice")
def _slice(inst, ops):
    return ops[0][tuple(slice(a, b, c) for a, b, c in inst.attrs["slice"])]


@rule("pad")
def _pad(inst, ops):
    x, value = ops
    padding = inst.attrs["padding"]
    # Interior padding first: scatter x into a value-filled array with stride interior + 1.
    spread = [n + max(n - 1, 0) * interior for n, (_, _, interior) in zip(x.shape, padding)]
    inner = np.full(spread, value, x.dtype)
    inner[tuple(slice(None, None, interior + 1) for _, _, interior in padding)] = x
    # Then edges: grow by the positive amounts, crop by the negative ones.
    grown = np.pad(inner, [(max(lo, 0), max(hi, 0)) for lo, hi, _ in padding],
                   constant_values=value)
    return grown[tuple(slice(max(-lo, 0), n - max(-hi, 0))
                       for n, (lo, hi, _) in zip(grown.shape, padding))]


@rule("concatenate")
def _concatenate(inst, ops):
    return np.concatenate(ops, axis=inst.attrs["dimensions"][0])


# ---------------------------------------------------------------------------------------
# Contractions and reductions
# ---------------------------------------------------------------------------------------


@rule("dot")
def _dot(inst, ops):
    """dot_general: (batch, lhs free, rhs free) = sum over contracting dims, via one matmul."""
    lhs, rhs = ops
    lb, rb = list(inst.attrs.get("lhs_batch_dims", ())), list(inst.attrs.get("rhs_batch_dims", ()))
    lc = list(inst.attrs.get("lhs_contracting_dims", ()))
    rc = list(inst.attrs.get("rhs_contracting_dims", ()))
    lf = [d for d in range(lhs.ndim) if d not in lb + lc]
    rf = [d for d in range(rhs.ndim) if d not in rb + rc]

    def size(x, dims):
        return int(np.prod([x.shape[d] for d in dims], dtype=np.int64))

    b, m, k, n = size(lhs, lb), size(lhs, lf), size(lhs, lc), size(rhs, rf)
    a = np.transpose(lhs, lb + lf + lc).reshape(b, m, k)
    c = np.transpose(rhs, rb + rc + rf).reshape(b, k, n)
    if lhs.dtype == np.float16:  # accumulate in f32, round once
        out = np.matmul(a.astype(np.float32), c.astype(np.float32)).astype(np.float16)
    else:
        out = np.matmul(a, c)  # f32 stays f32 (sgemm); integers wrap
    return out.reshape(inst.shape.dims)


@rule("reduce")
def _reduce(inst, ops):
    n = len(ops) // 2
    inputs, inits = ops[:n], ops[n:]
    dims = tuple(inst.attrs["dimensions"])
    reducer = inst.to_apply()
    ufunc = simple_reducer(reducer) if n == 1 else None
    if ufunc is not None:
        x, init = inputs[0], inits[0]
        work = np.float32 if x.dtype == np.float16 else x.dtype  # f16 accumulates in f32
        out = ufunc.reduce(x.astype(work), axis=dims, dtype=work, initial=init.astype(work)[()])
        return np.asarray(out).astype(x.dtype)
    return _reduce_general(inputs, inits, dims, reducer)


def _reduce_general(inputs, inits, dims, reducer: Computation):
    """Reduce with any reducer (variadic ones included: its parameters are
    (accumulators..., elements...)), folding the reduced elements in row-major order."""
    n = len(inputs)
    rank = inputs[0].ndim
    kept = [d for d in range(rank) if d not in dims]
    out_shape = tuple(inputs[0].shape[d] for d in kept)
    count = int(np.prod([inputs[0].shape[d] for d in dims], dtype=np.int64))
    # Reduced dims last and flattened: element k of every output is [..., k].
    flat = [np.transpose(x, kept + list(dims)).reshape(out_shape + (count,)) for x in inputs]
    accs = [np.array(np.broadcast_to(init, out_shape)) for init in inits]

    def step(accumulators, elements, check_dims):
        result = run_computation(reducer, list(accumulators) + list(elements), check_dims)
        shape = np.shape(accumulators[0])
        # A reducer returning a constant gives a 0-d value: spread it over the batch.
        return [np.broadcast_to(r, shape) for r in (result if n > 1 else [result])]

    if batchable(reducer):
        # One reducer evaluation per reduced position, on all outputs at once. Sequential in
        # row-major order like XLA's own evaluator, so non-associative reducers agree too.
        for k in range(count):
            accs = step(accs, [x[..., k] for x in flat], check_dims=False)
        accs = [np.array(a) for a in accs]
    else:
        for index in np.ndindex(*out_shape):
            acc = [np.asarray(a[index]) for a in accs]
            for k in range(count):
                acc = step(acc, [np.asarray(x[index + (k,)]) for x in flat], check_dims=True)
            for a, v in zip(accs, acc):
                a[index] = v
    return tuple(accs) if n > 1 else accs[0]


# ---------------------------------------------------------------------------------------
# Tuples and calls
# ---------------------------------------------------------------------------------------


@rule("bitcast")
def _bitcast(inst, ops):
    # The operand's memory image, read back under the result's dims and layout.
    operand = inst.operands[0].shape
    return from_physical(to_physical(ops[0], operand), inst.shape)


@rule("bitcast-convert")
def _bitcast_convert(inst, ops):
    # The elements' bytes in row-major memory order, read back as the new type (the host
    # is little-endian, like every target).
    flat = np.ascontiguousarray(ops[0]).reshape(-1)
    return flat.view(inst.shape.element_type.np_dtype).reshape(inst.shape.dims)


@rule("tuple")
def _tuple(inst, ops):
    return tuple(ops)


@rule("get-tuple-element")
def _get_tuple_element(inst, ops):
    return ops[0][inst.attrs["index"]]


@rule("call", "fusion")
def _call(inst, ops):
    # A fusion is semantically a call of its fused computation on its operands.
    return evaluate_computation(inst.to_apply(), ops)
