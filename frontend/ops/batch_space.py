"""SpaceToBatch and BatchToSpace (ND and the 2-D V1 ops): pads or crops around a
reshape-transpose-reshape that moves block offsets between the spatial dims and the batch
(how TF builds dilated convolutions: Keras Conv1D with dilation, atrous Conv2D in TF1)."""

from __future__ import annotations

import numpy as np

from .registry import lowering


def _block_and_pairs(ctx, node, x, block_input, pairs_input, what):
    block = ctx.static_ints(node, block_input, "block_shape")
    pairs = ctx.static_value(pairs_input)
    if pairs is None:
        ctx.error(node, f"{what} input must be a constant")
    m = len(block)
    if pairs.shape != (m, 2) or (pairs < 0).any():
        ctx.error(node, f"{what} must be a non-negative [{m}, 2] tensor, got "
                        f"{pairs.tolist()}")
    if any(s < 1 for s in block) or x.shape.rank < m + 1:
        ctx.error(node, f"block_shape {block} needs positive sizes and an input of rank > {m}, "
                        f"got {x.shape.short()}")
    return block, [(int(lo), int(hi)) for lo, hi in pairs]


def space_to_batch(ctx, node, x, block, paddings):
    """[B, S1..Sm, R...] -> [B * prod(block), (S1 + pads) / b1, ..., R...]."""
    b = ctx.b
    m, dims = len(block), x.shape.dims
    pad = [(0, 0, 0)] + [(lo, hi, 0) for lo, hi in paddings] + [(0, 0, 0)] * (len(dims) - m - 1)
    x = b.pad(x, b.constant(0, x.shape.element_type), pad)
    padded = x.shape.dims
    split = [padded[0]]
    for k, s in enumerate(block):
        if padded[k + 1] % s:
            ctx.error(node, f"padded spatial dim {k} of size {padded[k + 1]} is not divisible "
                            f"by its block size {s}")
        split += [padded[k + 1] // s, s]
    rest = list(padded[m + 1:])
    x = b.reshape(x, split + rest)
    perm = ([2 + 2 * k for k in range(m)] + [0] + [1 + 2 * k for k in range(m)]
            + list(range(1 + 2 * m, 1 + 2 * m + len(rest))))
    x = b.transpose(x, perm)
    batch = padded[0] * int(np.prod(block, dtype=np.int64))
    return b.reshape(x, [batch] + [split[1 + 2 * k] for k in range(m)] + rest)


def batch_to_space(ctx, node, x, block, crops):
    """[B * prod(block), S1..Sm, R...] -> [B, S1 * b1 - crops, ..., R...]."""
    b = ctx.b
    m, dims = len(block), x.shape.dims
    total = int(np.prod(block, dtype=np.int64))
    if dims[0] % total:
        ctx.error(node, f"batch {dims[0]} is not divisible by the block size {total}")
    rest = list(dims[m + 1:])
    x = b.reshape(x, list(block) + [dims[0] // total] + list(dims[1:]))
    perm = [m] + [p for k in range(m) for p in (m + 1 + k, k)] + list(
        range(2 * m + 1, 2 * m + 1 + len(rest)))
    x = b.transpose(x, perm)
    spatial = [dims[k + 1] * block[k] for k in range(m)]
    x = b.reshape(x, [dims[0] // total] + spatial + rest)
    for k, (lo, hi) in enumerate(crops):
        if lo + hi > spatial[k]:
            ctx.error(node, f"crops {lo} + {hi} exceed spatial dim {k} of size {spatial[k]}")
    starts = [0] + [lo for lo, _ in crops] + [0] * len(rest)
    limits = [x.shape.dims[0]] + [spatial[k] - hi for k, (_, hi) in enumerate(crops)] + rest
    if starts == [0] * len(starts) and limits == list(x.shape.dims):
        return x
    return b.slice(x, starts, limits, [1] * len(starts))


@lowering("SpaceToBatchND")
def _space_to_batch_nd(ctx, node, inputs):
    x, block_input, paddings_input = inputs
    block, paddings = _block_and_pairs(ctx, node, x, block_input, paddings_input, "paddings")
    return space_to_batch(ctx, node, x, block, paddings)


@lowering("BatchToSpaceND")
def _batch_to_space_nd(ctx, node, inputs):
    x, block_input, crops_input = inputs
    block, crops = _block_and_pairs(ctx, node, x, block_input, crops_input, "crops")
    return batch_to_space(ctx, node, x, block, crops)


def _v1_args(ctx, node, x, pairs_input, what):
    size = ctx.attr(node, "block_size")
    if x.shape.rank != 4 or size < 2:
        ctx.error(node, f"needs a 4-D input and block_size >= 2, got {x.shape.short()} and "
                        f"{size}")
    pairs = ctx.static_value(pairs_input)
    if pairs is None or pairs.shape != (2, 2) or (pairs < 0).any():
        ctx.error(node, f"{what} must be a constant non-negative [2, 2] tensor")
    return [size, size], [(int(lo), int(hi)) for lo, hi in pairs]


@lowering("SpaceToBatch")
def _space_to_batch_v1(ctx, node, inputs):
    x, paddings_input = inputs
    return space_to_batch(ctx, node, x, *_v1_args(ctx, node, x, paddings_input, "paddings"))


@lowering("BatchToSpace")
def _batch_to_space_v1(ctx, node, inputs):
    x, crops_input = inputs
    return batch_to_space(ctx, node, x, *_v1_args(ctx, node, x, crops_input, "crops"))
