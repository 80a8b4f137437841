"""Evaluator rules for the windowed ops, `convolution` and `reduce-window`.

Both work on a *padded base*: the operand with base dilation applied (holes between
elements) and edge padding added or cropped, so that window position o of a dimension
starts at o * stride and its taps are window_dilation apart. Each rule then loops over
the taps of the window (a few dozen at most) and handles every output position of a tap
at once with NumPy slicing, which keeps it both clear and fast enough for tests.

Registered into `EVALUATORS` on import (the package `aotc.hlo.evaluation` imports this
module).
"""

from __future__ import annotations

import numpy as np

from ..window import dilated_bound
from .interpreter import rule, run_computation
from .reducers import batchable, simple_reducer


def _edges(window) -> list[tuple[int, int, int]]:
    """(padding_low, padding_high, base_dilation) of each window dimension."""
    return [(w.padding_low, w.padding_high, w.base_dilation) for w in window]


def _padded_base(x: np.ndarray, edges, fill) -> np.ndarray:
    """`x` with each dimension's base dilation and (possibly negative) padding applied,
    from `edges` as `_edges` gives them; the new positions hold `fill`."""
    spread = [dilated_bound(n, dilation) for n, (_, _, dilation) in zip(x.shape, edges)]
    inner = np.full(spread, fill, x.dtype)
    inner[tuple(slice(None, None, dilation) for _, _, dilation in edges)] = x
    grown = np.pad(inner, [(max(lo, 0), max(hi, 0)) for lo, hi, _ in edges],
                   constant_values=fill)
    return grown[tuple(slice(max(-lo, 0), n - max(-hi, 0))
                       for n, (lo, hi, _) in zip(grown.shape, edges))]


def _tap_slices(window, tap, out_dims) -> tuple[slice, ...]:
    """For window tap `tap` (one offset per dimension), the slice of the padded base that
    holds the tapped element of every output position."""
    return tuple(slice(k * w.window_dilation, k * w.window_dilation + (n - 1) * w.stride + 1,
                       w.stride)
                 for k, w, n in zip(tap, window, out_dims))


# -- convolution ------------------------------------------------------------------------


@rule("convolution")
def _convolution(inst, ops):
    """out[b, o, spatial] = sum over the group's input features i and the kernel taps k of
    base[b, g*I + i, spatial * stride + k * dilation] * kernel[o, i, k], g = o // (O / G)."""
    lhs, rhs = ops
    dn = inst.attrs["dim_labels"]
    window = inst.attrs["window"]
    groups = inst.attrs.get("feature_group_count", 1)
    # Canonical orders: input (batch, feature, spatial...), kernel (out, in, spatial...).
    x = np.transpose(lhs, [dn.input_batch, dn.input_feature, *dn.input_spatial])
    w = np.transpose(rhs, [dn.kernel_output_feature, dn.kernel_input_feature, *dn.kernel_spatial])
    work = np.float32 if lhs.dtype == np.float16 else lhs.dtype  # f16 accumulates in f32
    x, w = x.astype(work), w.astype(work)
    batch, features = x.shape[:2]
    out_features, group_features = w.shape[:2]
    out_spatial = [inst.shape.dims[d] for d in dn.output_spatial]
    result = np.zeros([batch, groups, out_features // groups, *out_spatial], work)
    if result.size:
        unwindowed = [(0, 0, 1), (0, 0, 1)]  # batch and feature
        base = _padded_base(x, unwindowed + _edges(window), 0)
        base = base.reshape(batch, groups, group_features, *base.shape[2:])
        w = w.reshape(groups, out_features // groups, group_features, *w.shape[2:])
        for tap in np.ndindex(*[d.size for d in window]):
            patch = base[(slice(None),) * 3 + _tap_slices(window, tap, out_spatial)]
            # (batch, group, in, spatial...) x (group, out, in) -> (batch, group, out, spatial...)
            result += np.einsum("bgi...,goi->bgo...", patch, w[(Ellipsis, *tap)])
    result = result.reshape(batch, out_features, *out_spatial)
    # Canonical axis j is output dimension canonical[j]; put each where the labels say.
    canonical = [dn.output_batch, dn.output_feature, *dn.output_spatial]
    return np.transpose(result, np.argsort(canonical)).astype(lhs.dtype)


# -- reduce-window ----------------------------------------------------------------------


@rule("reduce-window")
def _reduce_window(inst, ops):
    """Fold each window's elements into the init value in row-major tap order, skipping
    taps that land in padding or dilation holes (as XLA's evaluator does: padding is not
    filled with the init value, so a non-identity init is counted once per window)."""
    x, init = ops
    window = inst.attrs["window"]
    out_dims = inst.shape.dims
    accumulator = np.full(out_dims, init, x.dtype)
    if accumulator.size == 0:
        return accumulator
    base = _padded_base(x, _edges(window), np.zeros((), x.dtype))
    real = _padded_base(np.ones(x.shape, bool), _edges(window), False)
    combine = _combiner(inst.to_apply(), out_dims)
    for tap in np.ndindex(*[w.size for w in window]):
        where = _tap_slices(window, tap, out_dims)
        accumulator = np.where(real[where], combine(accumulator, base[where]), accumulator)
    return accumulator


def _combiner(reducer, out_dims):
    """fn(accumulators, elements) applying the scalar `reducer` at every output position."""
    ufunc = simple_reducer(reducer)
    if ufunc is not None:
        return ufunc
    if batchable(reducer):
        return lambda acc, elements: np.broadcast_to(
            run_computation(reducer, [acc, elements], check_dims=False), out_dims)

    def one_by_one(acc, elements):
        out = np.empty_like(acc)
        for index in np.ndindex(*out_dims):
            out[index] = run_computation(reducer, [np.asarray(acc[index]), np.asarray(elements[index])],
                              check_dims=True)
        return out

    return one_by_one
