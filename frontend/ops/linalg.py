"""Linear algebra: Cholesky, Qr, MatrixTriangularSolve, MatrixSolve, MatrixInverse and
TridiagonalSolve, each an
HLO while loop over the matrix size (loops.fori_loop) whose body is a few batched dots
and selects (tf2xla builds the same algorithms from XLA's client library loops); TridiagonalMatMul is
elementwise.

Matrices are [..., n, n]; the batch dims are collapsed to one for the loop. Per-batch
choices (pivot rows) are one-hot masks, so every batch element runs the same code.
"""

from __future__ import annotations

import numpy as np

from ...hlo import Shape
from ...hlo.dtypes import S32
from .loops import fori_loop
from .registry import lowering


def _batched(ctx, node, x, what):
    """x [..., m, n] -> ([B, m, n], batch dims)."""
    if x.shape.rank < 2 or not x.shape.element_type.is_float:
        ctx.error(node, f"{what} must be a float tensor of rank >= 2, got {x.shape.short()}")
    batch = x.shape.dims[:-2]
    count = int(np.prod(batch, dtype=np.int64))
    return ctx.b.reshape(x, (count,) + x.shape.dims[-2:]), batch


def _square(ctx, node, x):
    if x.shape.rank < 2 or x.shape.dims[-1] != x.shape.dims[-2]:
        ctx.error(node, f"needs square matrices, got {x.shape.short()}")


def _matvec(b, m, v):
    """[B, n, k] x [B, k] -> [B, n]."""
    return b.dot(m, v, lhs_batch=[0], rhs_batch=[0], lhs_contracting=[2], rhs_contracting=[1])


def _matmul(b, x, y):
    """[B, n, k] x [B, k, m] -> [B, n, m]."""
    return b.dot(x, y, lhs_batch=[0], rhs_batch=[0], lhs_contracting=[2], rhs_contracting=[1])


def _row(b, x, i):
    """Row i (an s32 scalar) of x [B, n, m]: [B, m]."""
    zero = b.constant(0, S32)
    batch, _, m = x.shape.dims
    return b.reshape(b.dynamic_slice(x, [zero, i, zero], [batch, 1, m]), (batch, m))


def _col(b, x, j):
    """Column j of x [B, n, m]: [B, n]."""
    zero = b.constant(0, S32)
    batch, n, _ = x.shape.dims
    return b.reshape(b.dynamic_slice(x, [zero, zero, j], [batch, n, 1]), (batch, n))


def _entry(b, v, i):
    """v[:, i] of v [B, n]: [B]."""
    zero = b.constant(0, S32)
    return b.reshape(b.dynamic_slice(v, [zero, i], [v.shape.dims[0], 1]), (v.shape.dims[0],))


def _index_mask(b, dims, axis, i, direction):
    """iota along `axis` compared with the scalar i: (iota direction i)."""
    return b.compare(b.iota(Shape(S32, dims), axis), b.broadcast(i, dims, ()), direction)


@lowering("Cholesky")
def _cholesky(ctx, node, inputs):
    # Column by column: c = A[:, j] - L L[j, :]^T; L[j, j] = sqrt(c[j]); L[i > j, j] =
    # c[i] / L[j, j]. Only the lower triangle of A is read.
    (a,) = inputs
    _square(ctx, node, a)
    a3, batch = _batched(ctx, node, a, "input")
    n = a3.shape.dims[-1]

    def step(scope, j, state):
        b = scope.b
        low, a_ = state
        col = b.binary("subtract", _col(b, a_, j), _matvec(b, low, _row(b, low, j)))
        diag = b.unary("sqrt", _entry(b, col, j))
        dims = col.shape.dims
        scaled = b.binary("divide", col, b.broadcast(diag, dims, (0,)))
        below = _index_mask(b, dims, 1, j, "GT")
        new_col = b.select(below, scaled, b.select(_index_mask(b, dims, 1, j, "EQ"),
                                                   b.broadcast(diag, dims, (0,)),
                                                   scope.full(0, col.shape.element_type, dims)))
        is_col = _index_mask(b, low.shape.dims, 2, j, "EQ")
        return [b.select(is_col, b.broadcast(new_col, low.shape.dims, (0, 1)), low), a_]

    low = fori_loop(ctx, "cholesky", n, [ctx.full_like(a3, 0), a3], step)[0]
    return ctx.b.reshape(low, a.shape.dims)


@lowering("MatrixTriangularSolve")
def _triangular_solve(ctx, node, inputs):
    # Substitution row by row (forward for lower, backward for upper; the adjoint of a
    # lower matrix is upper): X[i] = (B[i] - A[i, :] X) / A[i, i], with X's rows not yet
    # solved still zero. The other triangle of A is masked off first.
    matrix, rhs = inputs
    _square(ctx, node, matrix)
    lower = ctx.attr(node, "lower", True)
    b = ctx.b
    if ctx.attr(node, "adjoint", False):
        r = matrix.shape.rank
        matrix = b.transpose(matrix, list(range(r - 2)) + [r - 1, r - 2])
        lower = not lower
    try:
        batch = tuple(np.broadcast_shapes(matrix.shape.dims[:-2], rhs.shape.dims[:-2]))
    except ValueError:
        ctx.error(node, f"batch dims of {matrix.shape.short()} and {rhs.shape.short()} do not "
                        "broadcast")
    n, k = matrix.shape.dims[-1], rhs.shape.dims[-1]
    if rhs.shape.dims[-2] != n:
        ctx.error(node, f"rhs {rhs.shape.short()} must have {n} rows")
    a3, _ = _batched(ctx, node, b.broadcast_to(matrix, batch + (n, n)), "matrix")
    b3, _ = _batched(ctx, node, b.broadcast_to(rhs, batch + (n, k)), "rhs")
    dims = a3.shape.dims
    rows, cols = b.iota(Shape(S32, dims), 1), b.iota(Shape(S32, dims), 2)
    keep = b.compare(rows, cols, "GE" if lower else "LE")
    a3 = b.select(keep, a3, ctx.full_like(a3, 0))

    def step(scope, it, state):
        bb = scope.b
        x, a_, rhs_ = state
        i = it if lower else bb.binary("subtract", bb.constant(n - 1, S32), it)
        row = _row(bb, a_, i)  # [B, n]
        done = bb.dot(row, x, lhs_batch=[0], rhs_batch=[0], lhs_contracting=[1],
                      rhs_contracting=[1])  # [B, k]
        diag = _entry(bb, row, i)
        value = bb.binary("divide", bb.binary("subtract", _row(bb, rhs_, i), done),
                          bb.broadcast(diag, done.shape.dims, (0,)))
        at_row = _index_mask(bb, x.shape.dims, 1, i, "EQ")
        return [bb.select(at_row, bb.broadcast(value, x.shape.dims, (0, 2)), x), a_, rhs_]

    x = fori_loop(ctx, "triangular_solve", n, [ctx.full_like(b3, 0), a3, b3], step)[0]
    return b.reshape(x, batch + (n, k))


def gauss_jordan(ctx, node, a3, b3):
    """X with A X = B for A [B, n, n], B [B, n, k]: Gauss-Jordan elimination with partial
    pivoting (the row of largest magnitude at or below the diagonal, first on ties)."""
    n = a3.shape.dims[-1]
    b = ctx.b
    aug = b.concatenate([a3, b3], 2)

    def step(scope, k, state):
        bb = scope.b
        (m,) = state
        t = m.shape.element_type
        batch, rows, width = m.shape.dims
        col = bb.unary("abs", _col(bb, m, k))  # [B, n]
        eligible = _index_mask(bb, col.shape.dims, 1, k, "GE")
        col = bb.select(eligible, col, scope.full(-1, t, col.shape.dims))
        best = scope.reduce(col, "maximum", -np.inf, [1])
        is_best = bb.binary("and", eligible, bb.compare(
            col, bb.broadcast(best, col.shape.dims, (0,)), "EQ"))
        positions = bb.iota(Shape(S32, col.shape.dims), 1)
        pivot = scope.reduce(bb.select(is_best, positions, scope.full(rows, S32,
                                                                      col.shape.dims)),
                             "minimum", rows, [1])  # [B]
        onehot_p = bb.convert(bb.compare(positions, bb.broadcast(pivot, col.shape.dims, (0,)),
                                         "EQ"), t)
        onehot_k = bb.convert(_index_mask(bb, col.shape.dims, 1, k, "EQ"), t)
        row_p = bb.dot(onehot_p, m, lhs_batch=[0], rhs_batch=[0], lhs_contracting=[1],
                       rhs_contracting=[1])  # [B, width]
        row_k = _row(bb, m, k)
        diff = bb.binary("subtract", row_p, row_k)

        def outer(u, v):
            return bb.binary("multiply", bb.broadcast(u, m.shape.dims, (0, 1)),
                             bb.broadcast(v, m.shape.dims, (0, 2)))

        swapped = bb.binary("subtract", bb.binary("add", m, outer(onehot_k, diff)),
                            outer(onehot_p, diff))
        pivot_row = bb.binary("divide", row_p, bb.broadcast(_entry(bb, row_p, k),
                                                            row_p.shape.dims, (0,)))
        factors = _col(bb, swapped, k)  # [B, n]
        eliminated = bb.binary("subtract", swapped, outer(factors, pivot_row))
        is_k = _index_mask(bb, m.shape.dims, 1, k, "EQ")
        return [bb.select(is_k, bb.broadcast(pivot_row, m.shape.dims, (0, 2)), eliminated)]

    (done,) = fori_loop(ctx, "gauss_jordan", n, [aug], step)
    batch, _, width = done.shape.dims
    return b.slice(done, (0, 0, n), (batch, n, width), (1, 1, 1))


@lowering("MatrixSolve")
def _matrix_solve(ctx, node, inputs):
    matrix, rhs = inputs
    _square(ctx, node, matrix)
    b = ctx.b
    if ctx.attr(node, "adjoint", False):
        r = matrix.shape.rank
        matrix = b.transpose(matrix, list(range(r - 2)) + [r - 1, r - 2])
    if rhs.shape.dims[:-1] != matrix.shape.dims[:-1]:
        ctx.error(node, f"rhs {rhs.shape.short()} must match the matrices "
                        f"{matrix.shape.short()} but for the last dim")
    a3, _ = _batched(ctx, node, matrix, "matrix")
    b3, _ = _batched(ctx, node, rhs, "rhs")
    return b.reshape(gauss_jordan(ctx, node, a3, b3), rhs.shape.dims)


@lowering("MatrixInverse")
def _matrix_inverse(ctx, node, inputs):
    (matrix,) = inputs
    _square(ctx, node, matrix)
    b = ctx.b
    if ctx.attr(node, "adjoint", False):
        r = matrix.shape.rank
        matrix = b.transpose(matrix, list(range(r - 2)) + [r - 1, r - 2])
    a3, _ = _batched(ctx, node, matrix, "input")
    batch, n, _ = a3.shape.dims
    eye = b.convert(b.compare(b.iota(Shape(S32, (batch, n, n)), 1),
                              b.iota(Shape(S32, (batch, n, n)), 2), "EQ"),
                    a3.shape.element_type)
    return b.reshape(gauss_jordan(ctx, node, a3, eye), matrix.shape.dims)




def _tridiagonal_parts(ctx, node, diagonals, m):
    """(super, main, sub) [..., M] from the compact [..., 3, M] form."""
    b = ctx.b
    r = diagonals.shape.rank
    if r < 2 or diagonals.shape.dims[-2:] != (3, m):
        ctx.error(node, f"diagonals must have dims [..., 3, {m}], got {diagonals.shape.short()}")
    parts = []
    for k in range(3):
        starts, limits = [0] * r, list(diagonals.shape.dims)
        starts[-2], limits[-2] = k, k + 1
        parts.append(b.reshape(b.slice(diagonals, starts, limits, [1] * r),
                               diagonals.shape.dims[:-2] + (m,)))
    return parts


@lowering("TridiagonalMatMul")
def _tridiagonal_mat_mul(ctx, node, inputs):
    # out[i] = super[i] rhs[i + 1] + main[i] rhs[i] + sub[i] rhs[i - 1] (the last super and
    # first sub entries are ignored).
    upper, main, lower, rhs = inputs
    b = ctx.b
    dims = rhs.shape.dims
    if rhs.shape.rank < 2:
        ctx.error(node, f"rhs must have rank >= 2, got {rhs.shape.short()}")
    m, r = dims[-2], rhs.shape.rank
    for name, d in (("superdiag", upper), ("maindiag", main), ("subdiag", lower)):
        if d.shape.dims != dims[:-2] + (1, m):
            ctx.error(node, f"{name} must have dims {list(dims[:-2]) + [1, m]}, got "
                            f"{d.shape.short()}")
    zero = b.constant(0, rhs.shape.element_type)

    def shifted(x, up):
        # x[i + 1] (up) or x[i - 1] along the rows, zero-filled.
        pad = [(0, 0, 0)] * r
        pad[-2] = (-1, 1, 0) if up else (1, -1, 0)
        return b.pad(x, zero, pad)

    def scale(d, x):
        return b.binary("multiply", b.broadcast(b.reshape(d, dims[:-2] + (m,)), dims,
                                                tuple(range(r - 1))), x)

    return b.binary("add", b.binary("add", scale(upper, shifted(rhs, True)), scale(main, rhs)),
                    scale(lower, shifted(rhs, False)))


@lowering("TridiagonalSolve")
def _tridiagonal_solve(ctx, node, inputs):
    # The dense matrix, solved by gauss_jordan (partial pivoting, as TF's default).
    diagonals, rhs = inputs
    if ctx.attr(node, "perturb_singular", False):
        ctx.error(node, "perturb_singular is not supported")
    b = ctx.b
    m = rhs.shape.dims[-2] if rhs.shape.rank >= 2 else 0
    upper, main, lower = _tridiagonal_parts(ctx, node, diagonals, m)
    dims = diagonals.shape.dims[:-2] + (m, m)
    r = len(dims)
    rows, cols = b.iota(Shape(S32, dims), r - 2), b.iota(Shape(S32, dims), r - 1)
    t = rhs.shape.element_type

    def band(values, offset, index_dim):
        # values[..., index] placed where col - row == offset; the index is the row.
        on = b.compare(b.binary("subtract", cols, rows), ctx.full(offset, S32, dims), "EQ")
        placed = b.broadcast(values, dims, tuple(range(r - 2)) + (index_dim,))
        return b.select(on, placed, ctx.full(0, t, dims))

    dense = b.binary("add", b.binary("add", band(upper, 1, r - 2), band(main, 0, r - 2)),
                     band(lower, -1, r - 2))
    if rhs.shape.dims[:-1] != dims[:-1]:
        ctx.error(node, f"rhs {rhs.shape.short()} must have dims {list(dims[:-1])} + [k]")
    a3, _ = _batched(ctx, node, dense, "diagonals")
    b3, _ = _batched(ctx, node, rhs, "rhs")
    return b.reshape(gauss_jordan(ctx, node, a3, b3), rhs.shape.dims)


@lowering("Qr")
def _qr(ctx, node, inputs):
    # Householder reflections, one per column j < min(m, n), with Eigen's conventions (what
    # TF's CPU kernel uses): R[j, j] = -sign(x_j) |x| for the column x below the diagonal,
    # and no reflection where the column is already zero below the diagonal.
    (a,) = inputs
    a3, batch = _batched(ctx, node, a, "input")
    _, m, n = a3.shape.dims
    steps = min(m, n)
    b = ctx.b
    t = a3.shape.element_type
    count = a3.shape.dims[0]
    eye = b.convert(b.compare(b.iota(Shape(S32, (count, m, m)), 1),
                              b.iota(Shape(S32, (count, m, m)), 2), "EQ"), t)

    def step(scope, j, state):
        bb = scope.b
        q, r = state
        col = _col(bb, r, j)  # [B, m]
        dims = col.shape.dims
        at_or_below = _index_mask(bb, dims, 1, j, "GE")
        below = _index_mask(bb, dims, 1, j, "GT")
        zero = scope.full(0, t, dims)
        x = bb.select(at_or_below, col, zero)
        tail = scope.reduce(bb.binary("multiply", bb.select(below, col, zero),
                                      bb.select(below, col, zero)), "add", 0.0, [1])
        head = _entry(bb, col, j)
        norm = bb.unary("sqrt", bb.binary("add", tail, bb.binary("multiply", head, head)))
        alpha = bb.select(bb.compare(head, scope.full(0, t, head.shape.dims), "GE"),
                          bb.unary("negate", norm), norm)
        is_j = _index_mask(bb, dims, 1, j, "EQ")
        v = bb.binary("subtract", x, bb.select(is_j, bb.broadcast(alpha, dims, (0,)), zero))
        vv = scope.reduce(bb.binary("multiply", v, v), "add", 0.0, [1])
        reflect = bb.compare(tail, scope.full(0, t, tail.shape.dims), "GT")
        safe = bb.select(reflect, vv, scope.full(1, t, vv.shape.dims))
        tau = bb.select(reflect, bb.binary("divide", scope.full(2, t, vv.shape.dims), safe),
                        scope.full(0, t, vv.shape.dims))

        def outer(u, w, shape):
            return bb.binary("multiply", bb.broadcast(u, shape, (0, 1)),
                             bb.broadcast(w, shape, (0, 2)))

        scaled_v = bb.binary("multiply", v, bb.broadcast(tau, dims, (0,)))
        w = bb.dot(v, r, lhs_batch=[0], rhs_batch=[0], lhs_contracting=[1],
                   rhs_contracting=[1])  # v^T R: [B, n]
        r = bb.binary("subtract", r, outer(scaled_v, w, r.shape.dims))
        qv = _matvec(bb, q, v)  # Q v: [B, m]
        q = bb.binary("subtract", q, outer(qv, scaled_v, q.shape.dims))
        return [q, r]

    q, r = fori_loop(ctx, "qr", steps, [eye, a3], step)
    full = ctx.attr(node, "full_matrices", False)
    rows = m if full else steps
    q = b.slice(q, (0, 0, 0), (count, m, rows), (1, 1, 1))
    r = b.slice(r, (0, 0, 0), (count, rows, n), (1, 1, 1))
    # Exact zeros below the diagonal, as TF returns.
    keep = b.compare(b.iota(Shape(S32, r.shape.dims), 1), b.iota(Shape(S32, r.shape.dims), 2),
                     "LE")
    r = b.select(keep, r, ctx.full_like(r, 0))
    return [b.reshape(q, batch + (m, rows)), b.reshape(r, batch + (rows, n))]
