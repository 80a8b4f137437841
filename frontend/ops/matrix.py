"""Matrix structure ops: band parts, diagonals (MatrixDiag/DiagPart/SetDiag V1-V3, Diag,
DiagPart) and Cross.

Diagonal ops move elements between fixed positions that depend only on static sizes and
the static diagonal range `k`, so each is one gather with a constant index map over the
innermost dims flattened (tf2xla builds the same data movement from masks and
reductions). Padding values are appended as one extra element the map points at.
"""

from __future__ import annotations

import numpy as np

from ...hlo import Shape
from ...hlo.dtypes import S64
from .indexing import gather_along_axis
from .registry import lowering, single

#: The alignment of MatrixDiag*V2 (V3 has an attr, default RIGHT_LEFT).
_V2_ALIGN = "LEFT_LEFT"


@lowering("MatrixBandPart")
def _matrix_band_part(ctx, node, inputs):
    # Keep x[..., i, j] where (lower < 0 or i - j <= lower) and (upper < 0 or j - i <=
    # upper); the bounds may be run-time scalars.
    x, lower, upper = inputs
    if x.shape.rank < 2:
        ctx.error(node, f"input must have rank >= 2, got {x.shape.short()}")
    b = ctx.b
    m, n = x.shape.dims[-2:]
    t = lower.shape.element_type
    rows, cols = b.iota(Shape(t, (m, n)), 0), b.iota(Shape(t, (m, n)), 1)

    def within(bound, diff):
        bound = b.broadcast(bound, (m, n), ())
        zero = ctx.full(0, t, (m, n))
        return b.binary("or", b.compare(bound, zero, "LT"), b.compare(diff, bound, "LE"))

    keep = b.binary("and", within(lower, b.binary("subtract", rows, cols)),
                    within(upper, b.binary("subtract", cols, rows)))
    keep = b.broadcast(keep, x.shape.dims, (x.shape.rank - 2, x.shape.rank - 1))
    return b.select(keep, x, ctx.full_like(x, 0))


# -- diagonals: constant index maps -----------------------------------------------------


def _diag_range(ctx, node, k_input) -> tuple[int, int]:
    k = ctx.static_ints(node, k_input, "k")
    if len(k) not in (1, 2) or k[0] > k[-1]:
        ctx.error(node, f"k must be one diagonal index or a pair low <= high, got {k}")
    return k[0], k[-1]


def _align(ctx, node) -> tuple[bool, bool]:
    """(left-align superdiagonals, left-align subdiagonals) from the `align` attr."""
    align = _V2_ALIGN if node.op.endswith("V2") else ctx.attr(node, "align", "RIGHT_LEFT")
    align = align.decode() if isinstance(align, bytes) else align
    if align not in ("LEFT_LEFT", "LEFT_RIGHT", "RIGHT_LEFT", "RIGHT_RIGHT"):
        ctx.error(node, f"unknown align {align!r}")
    sup, sub = align.split("_")
    return sup == "LEFT", sub == "LEFT"


def diagonal_positions(m: int, n: int, k_lo: int, k_hi: int, align=(True, True)):
    """Every (row d, slot t) of the packed diagonals of an m x n matrix, with the matrix
    element (i, j) stored there: diagonal k_hi - d is row d, left- or right-aligned to
    max_len slots. Returns (max_len, [(d, t, i, j), ...])."""
    max_len = max(min(m + min(k_hi, 0), n - max(k_lo, 0)), 0)
    entries = []
    for diag in range(k_hi, k_lo - 1, -1):
        length = max(min(m + min(0, diag), n - max(0, diag)), 0)
        left = align[0] if diag >= 0 else align[1]
        if diag == 0:
            left = align[0] or align[1]
        offset = 0 if left else max_len - length
        for s in range(length):
            i, j = s + max(0, -diag), s + max(0, diag)
            entries.append((k_hi - diag, s + offset, i, j))
    return max_len, entries


def _flatten_batch(ctx, x, inner: int):
    """x with its last `inner` dims flattened and the others collapsed to one: [B, K]."""
    dims = x.shape.dims
    batch = int(np.prod(dims[:len(dims) - inner], dtype=np.int64))
    return ctx.b.reshape(x, (batch, int(np.prod(dims[len(dims) - inner:], dtype=np.int64))))


def _gather_map(ctx, node, table, index_map, out_dims):
    """out[b, p] = table[b, index_map[p]] reshaped to out_dims."""
    picked = gather_along_axis(ctx, node, table, ctx.b.constant(np.asarray(index_map, np.int64)),
                               1, 0)
    return ctx.b.reshape(picked, out_dims)


def _with_padding(ctx, flat, padding):
    """[B, K] -> [B, K + 1]: the padding scalar appended to every row."""
    b = ctx.b
    column = b.broadcast(b.reshape(padding, ()), (flat.shape.dims[0], 1), ())
    return b.concatenate([flat, column], 1)


def _matrix_diag(ctx, node, diagonal, k_lo, k_hi, rows, cols, padding, align):
    """[..., (D,) L] diagonals -> [..., rows, cols] matrices (MatrixDiag V1-V3)."""
    single_diag = k_lo == k_hi
    inner = 1 if single_diag else 2
    if diagonal.shape.rank < inner:
        ctx.error(node, f"diagonal {diagonal.shape.short()} needs rank >= {inner}")
    length = diagonal.shape.dims[-1]
    if not single_diag and diagonal.shape.dims[-2] != k_hi - k_lo + 1:
        ctx.error(node, f"diagonal {diagonal.shape.short()} must hold {k_hi - k_lo + 1} "
                        f"diagonals (k = [{k_lo}, {k_hi}])")
    min_rows, min_cols = length - min(k_hi, 0), length + max(k_lo, 0)
    if rows == -1 and cols == -1:
        rows = cols = max(min_rows, min_cols)
    rows = min_rows if rows == -1 else rows
    cols = min_cols if cols == -1 else cols
    max_len, entries = diagonal_positions(rows, cols, k_lo, k_hi, align)
    if max_len != length:
        ctx.error(node, f"diagonals of length {length} do not fit a {rows}x{cols} matrix "
                        f"with k = [{k_lo}, {k_hi}] (they would have length {max_len})")
    flat = _flatten_batch(ctx, diagonal, inner)
    pad_index = flat.shape.dims[1]
    index_map = np.full(rows * cols, pad_index, np.int64)
    for d, t, i, j in entries:
        index_map[i * cols + j] = d * length + t
    out_dims = diagonal.shape.dims[:diagonal.shape.rank - inner] + (rows, cols)
    return _gather_map(ctx, node, _with_padding(ctx, flat, padding), index_map, out_dims)


def _matrix_diag_part(ctx, node, x, k_lo, k_hi, padding, align):
    """[..., M, N] -> [..., (D,) L] packed diagonals (MatrixDiagPart V1-V3)."""
    if x.shape.rank < 2:
        ctx.error(node, f"input must have rank >= 2, got {x.shape.short()}")
    m, n = x.shape.dims[-2:]
    if not (-m < k_lo or m == 0) or not (k_hi < n or n == 0):
        ctx.error(node, f"k = [{k_lo}, {k_hi}] is out of range for {m}x{n} matrices")
    max_len, entries = diagonal_positions(m, n, k_lo, k_hi, align)
    num = k_hi - k_lo + 1
    flat = _flatten_batch(ctx, x, 2)
    index_map = np.full(num * max_len, m * n, np.int64)
    for d, t, i, j in entries:
        index_map[d * max_len + t] = i * n + j
    out_dims = x.shape.dims[:-2] + ((max_len,) if num == 1 else (num, max_len))
    return _gather_map(ctx, node, _with_padding(ctx, flat, padding), index_map, out_dims)


def _matrix_set_diag(ctx, node, x, diagonal, k_lo, k_hi, align):
    """x with its diagonals k_lo..k_hi replaced (MatrixSetDiag V1-V3)."""
    if x.shape.rank < 2:
        ctx.error(node, f"input must have rank >= 2, got {x.shape.short()}")
    m, n = x.shape.dims[-2:]
    max_len, entries = diagonal_positions(m, n, k_lo, k_hi, align)
    num = k_hi - k_lo + 1
    want = x.shape.dims[:-2] + ((max_len,) if num == 1 else (num, max_len))
    if diagonal.shape.dims != want:
        ctx.error(node, f"diagonal {diagonal.shape.short()} must have dims {list(want)}")
    table = ctx.b.concatenate([_flatten_batch(ctx, x, 2),
                               _flatten_batch(ctx, diagonal, 1 if num == 1 else 2)], 1)
    index_map = np.arange(m * n, dtype=np.int64)
    for d, t, i, j in entries:
        index_map[i * n + j] = m * n + d * max_len + t
    return _gather_map(ctx, node, table, index_map, x.shape.dims)


def _zero(ctx, like):
    return ctx.b.constant(0, like.shape.element_type)


@lowering("MatrixDiag")
def _matrix_diag_v1(ctx, node, inputs):
    diagonal = single(inputs)
    n = diagonal.shape.dims[-1] if diagonal.shape.rank else 0
    return _matrix_diag(ctx, node, diagonal, 0, 0, n, n, _zero(ctx, diagonal), (True, True))


@lowering("MatrixDiagV2", "MatrixDiagV3")
def _matrix_diag_v2(ctx, node, inputs):
    diagonal, k, rows, cols, padding = inputs
    k_lo, k_hi = _diag_range(ctx, node, k)
    rows = ctx.static_int(node, rows, "num_rows")
    cols = ctx.static_int(node, cols, "num_cols")
    return _matrix_diag(ctx, node, diagonal, k_lo, k_hi, rows, cols, padding,
                        _align(ctx, node))


@lowering("MatrixDiagPart")
def _matrix_diag_part_v1(ctx, node, inputs):
    x = single(inputs)
    return _matrix_diag_part(ctx, node, x, 0, 0, _zero(ctx, x), (True, True))


@lowering("MatrixDiagPartV2", "MatrixDiagPartV3")
def _matrix_diag_part_v2(ctx, node, inputs):
    x, k, padding = inputs
    k_lo, k_hi = _diag_range(ctx, node, k)
    return _matrix_diag_part(ctx, node, x, k_lo, k_hi, padding, _align(ctx, node))


@lowering("MatrixSetDiag")
def _matrix_set_diag_v1(ctx, node, inputs):
    x, diagonal = inputs
    return _matrix_set_diag(ctx, node, x, diagonal, 0, 0, (True, True))


@lowering("MatrixSetDiagV2", "MatrixSetDiagV3")
def _matrix_set_diag_v2(ctx, node, inputs):
    x, diagonal, k = inputs
    k_lo, k_hi = _diag_range(ctx, node, k)
    return _matrix_set_diag(ctx, node, x, diagonal, k_lo, k_hi, _align(ctx, node))


@lowering("Diag")
def _diag(ctx, node, inputs):
    # [D1..Dk] -> [D1..Dk, D1..Dk], zero off the diagonal.
    x = single(inputs)
    b = ctx.b
    count = x.shape.num_elements
    flat = b.reshape(x, (count,))
    on = b.compare(b.iota(Shape(S64, (count, count)), 0), b.iota(Shape(S64, (count, count)), 1),
                   "EQ")
    square = b.select(on, b.broadcast(flat, (count, count), (0,)), ctx.full(
        0, x.shape.element_type, (count, count)))
    return b.reshape(square, x.shape.dims + x.shape.dims)


@lowering("DiagPart")
def _diag_part(ctx, node, inputs):
    # [D1..Dk, D1..Dk] -> [D1..Dk]: the elements at flat positions i * (n + 1).
    x = single(inputs)
    half = x.shape.rank // 2
    if x.shape.rank % 2 or x.shape.dims[:half] != x.shape.dims[half:]:
        ctx.error(node, f"input must have dims [D1..Dk, D1..Dk], got {x.shape.short()}")
    count = int(np.prod(x.shape.dims[:half], dtype=np.int64))
    flat = ctx.b.reshape(x, (1, count * count))
    return _gather_map(ctx, node, flat, np.arange(count) * (count + 1), x.shape.dims[:half])


@lowering("Cross")
def _cross(ctx, node, inputs):
    # The cross product of the 3-vectors along the last dim.
    a, c = inputs
    if a.shape.dims != c.shape.dims or not a.shape.rank or a.shape.dims[-1] != 3:
        ctx.error(node, f"operands must have equal shapes ending in 3, got {a.shape.short()} "
                        f"and {c.shape.short()}")
    b = ctx.b
    r = a.shape.rank

    def part(x, k):
        starts, limits = [0] * r, list(x.shape.dims)
        starts[-1], limits[-1] = k, k + 1
        return b.slice(x, starts, limits, [1] * r)

    def term(i, j):
        return b.binary("subtract", b.binary("multiply", part(a, i), part(c, j)),
                        b.binary("multiply", part(a, j), part(c, i)))

    return b.concatenate([term(1, 2), term(2, 0), term(0, 1)], r - 1)


