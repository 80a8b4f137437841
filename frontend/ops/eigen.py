"""SelfAdjointEigV2 and Svd by Jacobi rotations, as XLA builds them: an HLO while loop of
rotations over every index pair (p, q), p < q, for a fixed number of sweeps.

- Eigen (two-sided): each rotation J zeroes A[p, q] of the symmetric A <- J^T A J
  (Golub & Van Loan's symmetric Schur step) and accumulates V <- V J. The eigenvalues are
  A's diagonal, sorted ascending with V's columns, as TensorFlow returns them.
- Svd (one-sided, Hestenes): each rotation makes columns p and q of U (A at first)
  orthogonal and accumulates V <- V J; then s_j = |u_j|, u_j /= s_j, sorted descending. A
  wide matrix is decomposed through its transpose. full_matrices completes U (or V) to
  a square orthogonal matrix with a Householder QR of the thin one.

Quadratic convergence makes a handful of sweeps enough for float precision at the
matrix sizes this is for: _SWEEPS per type. Singular vectors of zero singular values are
not completed (their columns are zero). Each rotation is two or three batched dots, n^3
work, which suits small matrices.
"""

from __future__ import annotations

import numpy as np

from ...hlo import Shape
from ...hlo.builder import sort_comparator
from ...hlo.dtypes import S32
from .loops import fori_loop
from .registry import lowering

#: Sweeps over all pairs, by float width.
_SWEEPS = {16: 8, 32: 10, 64: 14}


def _batched(ctx, node, x):
    """x [..., m, n] -> ([B, m, n], batch dims)."""
    if x.shape.rank < 2 or not x.shape.element_type.is_float:
        ctx.error(node, f"input must be a float tensor of rank >= 2, got {x.shape.short()}")
    batch = x.shape.dims[:-2]
    count = int(np.prod(batch, dtype=np.int64))
    return ctx.b.reshape(x, (count,) + x.shape.dims[-2:]), batch


def _eye(ctx, count, n, t):
    b = ctx.b
    dims = (count, n, n)
    return b.convert(b.compare(b.iota(Shape(S32, dims), 1), b.iota(Shape(S32, dims), 2), "EQ"), t)


def _matmul(b, x, y, transpose_x=False):
    """[B, n, k] x [B, k, m] -> [B, n, m] (x^T y with transpose_x)."""
    return b.dot(x, y, lhs_batch=[0], rhs_batch=[0], lhs_contracting=[1 if transpose_x else 2],
                 rhs_contracting=[1])


def _pair_loop(ctx, name, n, t, values, rotation):
    """Run rotation(scope, p, q, values) -> values for every pair p < q, _SWEEPS times."""
    pairs = [(p, q) for p in range(n) for q in range(p + 1, n)]
    if not pairs:
        return values
    table = np.array(pairs, np.int32)

    def step(scope, i, state):
        sb = scope.b
        k = sb.binary("remainder", i, sb.constant(len(pairs), S32))
        row = sb.dynamic_slice(sb.constant(table), [k, sb.constant(0, S32)], [1, 2])
        p, q = (sb.reshape(sb.slice(row, (0, j), (1, j + 1), (1, 1)), ()) for j in (0, 1))
        return rotation(scope, p, q, state)

    return fori_loop(ctx, name, _SWEEPS[t.bits] * len(pairs), values, step)


def _rotation_matrix(scope, like, p, q, c, s):
    """The Jacobi rotation J [B, n, n]: identity but J[p,p] = J[q,q] = c, J[p,q] = s,
    J[q,p] = -s; c and s are [B]."""
    sb = scope.b
    dims = like.shape.dims
    rows, cols = sb.iota(Shape(S32, dims), 1), sb.iota(Shape(S32, dims), 2)

    def at(i, j):
        return sb.binary("and", sb.compare(rows, sb.broadcast(i, dims, ()), "EQ"),
                         sb.compare(cols, sb.broadcast(j, dims, ()), "EQ"))

    cb, sb_ = (sb.broadcast(v, dims, (0,)) for v in (c, s))
    eye = sb.convert(sb.compare(rows, cols, "EQ"), like.shape.element_type)
    j = sb.select(at(q, p), sb.unary("negate", sb_), eye)
    j = sb.select(at(p, q), sb_, j)
    return sb.select(sb.binary("or", at(p, p), at(q, q)), cb, j)


def _rotation(scope, alpha, beta, gamma):
    """(c, s) of the rotation that zeroes gamma between diagonal entries alpha and beta:
    tau = (beta - alpha) / 2 gamma, t = sign(tau) / (|tau| + sqrt(1 + tau^2)); none
    (c = 1, s = 0) where gamma is 0."""
    sb = scope.b
    dims = gamma.shape.dims
    t = gamma.shape.element_type

    def c_(v):
        return scope.full(v, t, dims)

    zero = sb.compare(gamma, c_(0), "EQ")
    safe = sb.select(zero, c_(1), gamma)
    tau = sb.binary("divide", sb.binary("subtract", beta, alpha), sb.binary("multiply", c_(2), safe))
    root = sb.unary("sqrt", sb.binary("add", c_(1), sb.binary("multiply", tau, tau)))
    sign = sb.select(sb.compare(tau, c_(0), "GE"), c_(1), c_(-1))
    tan = sb.binary("divide", sign, sb.binary("add", sb.unary("abs", tau), root))
    tan = sb.select(zero, c_(0), tan)
    cos = sb.unary("rsqrt", sb.binary("add", c_(1), sb.binary("multiply", tan, tan)))
    return cos, sb.binary("multiply", tan, cos)


def _entry(sb, x, i, j):
    """x[:, i, j] of [B, n, m] for s32 scalars i, j: [B]."""
    count = x.shape.dims[0]
    return sb.reshape(sb.dynamic_slice(x, [sb.constant(0, S32), i, j], [count, 1, 1]), (count,))


def _sorted(ctx, keys, vectors, direction):
    """keys [B, n] sorted (LT ascending, GT descending) with the columns of vectors [B, m, n]
    moved along (through a permutation matrix)."""
    b = ctx.b
    count, n = keys.shape.dims
    index = b.iota(Shape(S32, (count, n)), 1)
    keys, order = (b.get_tuple_element(
        b.sort([keys, index], 1, sort_comparator([keys.shape.element_type, S32], direction),
               is_stable=True), k) for k in (0, 1))
    if vectors is None:
        return keys, None
    dims = (count, n, n)
    permutation = b.convert(b.compare(b.iota(Shape(S32, dims), 1),
                                      b.broadcast(order, dims, (0, 2)), "EQ"),
                            vectors.shape.element_type)
    return keys, _matmul(b, vectors, permutation)


@lowering("SelfAdjointEigV2")
def _self_adjoint_eig(ctx, node, inputs):
    (a,) = inputs
    a3, batch = _batched(ctx, node, a)
    count, n, m = a3.shape.dims
    if n != m:
        ctx.error(node, f"needs square matrices, got {a.shape.short()}")
    t = a3.shape.element_type
    b = ctx.b

    def rotate(scope, p, q, state):
        sb = scope.b
        x, v = state
        c, s = _rotation(scope, _entry(sb, x, p, p), _entry(sb, x, q, q), _entry(sb, x, p, q))
        j = _rotation_matrix(scope, x, p, q, c, s)
        return [_matmul(sb, j, _matmul(sb, x, j), transpose_x=True), _matmul(sb, v, j)]

    x, v = _pair_loop(ctx, "eigh_jacobi", n, t, [a3, _eye(ctx, count, n, t)], rotate)
    diagonal = ctx.reduce(b.select(b.convert(_eye(ctx, count, n, t), "pred"), x,
                                   ctx.full_like(x, 0)), "add", 0.0, [2])
    compute_v = ctx.attr(node, "compute_v", True)
    e, v = _sorted(ctx, diagonal, v if compute_v else None, "LT")
    e = b.reshape(e, batch + (n,))
    return [e, b.reshape(v, batch + (n, n)) if compute_v else ctx.full(0, t, (0,))]


def _column_norms(ctx, u):
    """|u_j| of u [B, m, n]: [B, n]."""
    b = ctx.b
    return b.unary("sqrt", ctx.reduce(b.binary("multiply", u, u), "add", 0.0, [1]))


def _one_sided(ctx, a3):
    """Thin SVD of a tall [B, m, n] (m >= n): (s [B, n] descending, U [B, m, n], V [B, n, n])."""
    count, m, n = a3.shape.dims
    t = a3.shape.element_type
    b = ctx.b

    def rotate(scope, p, q, state):
        sb = scope.b
        u, v = state
        gram = _matmul(sb, u, u, transpose_x=True)  # U^T U: [B, n, n]
        c, s = _rotation(scope, _entry(sb, gram, p, p), _entry(sb, gram, q, q),
                         _entry(sb, gram, p, q))
        j = _rotation_matrix(scope, v, p, q, c, s)
        return [_matmul(sb, u, j), _matmul(sb, v, j)]

    u, v = _pair_loop(ctx, "svd_jacobi", n, t, [a3, _eye(ctx, count, n, t)], rotate)
    s = _column_norms(ctx, u)
    nonzero = b.compare(s, ctx.full_like(s, 0), "GT")
    scale = b.select(nonzero, b.binary("divide", ctx.full_like(s, 1), s), ctx.full_like(s, 0))
    u = b.binary("multiply", u, b.broadcast(scale, u.shape.dims, (0, 2)))
    s, both = _sorted(ctx, s, b.concatenate([u, v], 1), "GT")
    return (s, b.slice(both, (0, 0, 0), (count, m, n), (1, 1, 1)),
            b.slice(both, (0, m, 0), (count, m + n, n), (1, 1, 1)))


def _completed(ctx, thin):
    """A square orthogonal [B, m, m] whose first n columns are thin [B, m, n]'s
    (orthonormal): Householder QR of thin, its Q's columns signed to match."""
    count, m, n = thin.shape.dims
    if m == n:
        return thin
    b = ctx.b
    t = thin.shape.element_type

    def reflect(scope, j, state):
        sb = scope.b
        q, r = state
        dims = (count, m)
        rows = sb.iota(Shape(S32, dims), 1)
        col = sb.reshape(sb.dynamic_slice(r, [sb.constant(0, S32), sb.constant(0, S32), j],
                                          [count, m, 1]), dims)
        x = sb.select(sb.compare(rows, sb.broadcast(j, dims, ()), "GE"), col,
                      scope.full(0, t, dims))
        head = sb.reshape(sb.dynamic_slice(col, [sb.constant(0, S32), j], [count, 1]), (count,))
        norm = sb.unary("sqrt", scope.reduce(sb.binary("multiply", x, x), "add", 0.0, [1]))
        alpha = sb.select(sb.compare(head, scope.full(0, t, (count,)), "GE"),
                          sb.unary("negate", norm), norm)
        at_j = sb.compare(rows, sb.broadcast(j, dims, ()), "EQ")
        w = sb.binary("subtract", x, sb.select(at_j, sb.broadcast(alpha, dims, (0,)),
                                               scope.full(0, t, dims)))
        ww = scope.reduce(sb.binary("multiply", w, w), "add", 0.0, [1])
        tau = sb.binary("divide", scope.full(2, t, (count,)),
                        sb.binary("maximum", ww, scope.full(np.finfo(t.np_dtype).tiny, t,
                                                            (count,))))
        h = sb.binary("multiply", w, sb.broadcast(tau, dims, (0,)))

        def update(matrix, left):
            shape = matrix.shape.dims
            if left:  # matrix - h (w^T matrix)
                wt = sb.dot(w, matrix, lhs_batch=[0], rhs_batch=[0], lhs_contracting=[1],
                            rhs_contracting=[1])
                return sb.binary("subtract", matrix, sb.binary(
                    "multiply", sb.broadcast(h, shape, (0, 1)), sb.broadcast(wt, shape, (0, 2))))
            mw = sb.dot(matrix, w, lhs_batch=[0], rhs_batch=[0], lhs_contracting=[2],
                        rhs_contracting=[1])  # (matrix w) h^T
            return sb.binary("subtract", matrix, sb.binary(
                "multiply", sb.broadcast(mw, shape, (0, 1)), sb.broadcast(h, shape, (0, 2))))

        return [update(q, False), update(r, True)]

    q, r = fori_loop(ctx, "svd_complete", n, [_eye(ctx, count, m, t), thin], reflect)
    # thin = Q R with R's top block diagonal (+-1): flip Q's first columns to thin's.
    diagonal = ctx.reduce(b.select(b.compare(b.iota(Shape(S32, r.shape.dims), 1),
                                             b.iota(Shape(S32, r.shape.dims), 2), "EQ"),
                                   r, ctx.full_like(r, 0)), "add", 0.0, [1])  # [B, n]
    signs = b.select(b.compare(diagonal, ctx.full_like(diagonal, 0), "LT"),
                     ctx.full_like(diagonal, -1), ctx.full_like(diagonal, 1))
    signs = b.concatenate([signs, ctx.full(1, t, (count, m - n))], 1)
    return b.binary("multiply", q, b.broadcast(signs, q.shape.dims, (0, 2)))


@lowering("Svd")
def _svd(ctx, node, inputs):
    (a,) = inputs
    a3, batch = _batched(ctx, node, a)
    count, m, n = a3.shape.dims
    b = ctx.b
    wide = m < n
    if wide:
        a3 = b.transpose(a3, [0, 2, 1])
    s, u, v = _one_sided(ctx, a3)
    if wide:
        u, v = v, u
    k = min(m, n)
    s = b.reshape(s, batch + (k,))
    if not ctx.attr(node, "compute_uv", True):
        empty = ctx.full(0, a3.shape.element_type, (0,))
        return [s, empty, empty]
    if ctx.attr(node, "full_matrices", False):
        u, v = _completed(ctx, u), _completed(ctx, v)
    return [s, b.reshape(u, batch + u.shape.dims[1:]), b.reshape(v, batch + v.shape.dims[1:])]

