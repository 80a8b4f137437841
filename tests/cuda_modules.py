"""Modules and harness for the CUDA backend's tests: modules are compiled once by the host
grid runner (the kernels emulated on the CPU) and once to PTX."""

from __future__ import annotations

from aotc.hlo import Instruction, Module
from aotc.backends.cuda.grid_runner import compile_grid_module

from compiled import Compiled


def flat_results(module: Module) -> Module:
    """`module` with each tuple-shaped result replaced by its elements (the test harness
    reads array results)."""
    entry = module.entry
    outs = []
    for op in entry.root.operands:
        if not op.shape.is_tuple:
            outs.append(op)
            continue
        for k, shape in enumerate(op.shape.tuple_shapes):
            outs.append(entry.add(Instruction("get-tuple-element", shape, [op], {"index": k})))
    root = Instruction("tuple", type(entry.root.shape).tuple([o.shape for o in outs]), outs)
    entry.root = entry.add(root)
    return module


def grid_compiled(module: Module) -> Compiled:
    """`module` compiled by the host grid runner, callable on NumPy arrays."""
    return Compiled(module, compile=compile_grid_module)


# -- modules ------------------------------------------------------------------------------

import numpy as np  # noqa: E402

from aotc.hlo import OPCODES, Builder, Shape, scalar_computation  # noqa: E402
from aotc.hlo.builder import sort_comparator  # noqa: E402
from aotc.hlo.window import make_window  # noqa: E402

#: Ops whose float operand must be positive (or not too large) in the tests.
POSITIVE = {"log", "log-plus-one", "sqrt", "rsqrt", "power"}
_INT_EXCLUDED = {"exponential", "exponential-minus-one", "log", "log-plus-one", "tanh",
                 "logistic", "sqrt", "rsqrt", "cbrt", "floor", "ceil", "round-nearest-afz",
                 "round-nearest-even", "sine", "cosine", "tan", "erf", "erfc", "is-finite",
                 "atan2", "real", "imag"}


def elementwise_module(dtype: str, dims) -> Module:
    """Every unary and binary opcode (those defined on `dtype`) and every comparison."""
    b = Builder(f"elementwise_{dtype}")
    x = b.parameter(Shape.array(dtype, dims), "x")
    y = b.parameter(Shape.array(dtype, dims), "y")
    pos = b.parameter(Shape.array(dtype, dims), "pos")
    is_float = Shape.array(dtype).element_type.is_float
    outs = []
    for info in OPCODES.values():
        if info.category not in ("unary", "binary"):
            continue
        bitwise = info.name in ("and", "or", "xor", "not") or info.name.startswith("shift")
        if (is_float and bitwise) or (not is_float and info.name in _INT_EXCLUDED):
            continue
        operand = pos if is_float and info.name in POSITIVE else x
        outs.append(b.unary(info.name, operand) if info.category == "unary"
                    else b.binary(info.name, operand, y))
    for direction in ("EQ", "NE", "LT", "LE", "GT", "GE"):
        outs.append(b.compare(x, y, direction))
    outs.append(b.select(b.compare(x, y, "LT"), x, y))
    outs.append(b.clamp(y, x, pos))
    return b.module(b.tuple(outs))


def kernels_module() -> Module:
    """Every kernel shape the backend has, on shapes that exercise its thread mapping:
    row reductions over several warps (sum, max, integer, a non-identity init, variadic),
    column and full reductions, tiled dots (ragged tiles, batched, transposed operands,
    matrix-vector, f64, f16, integer), convolution, reduce-window, gather, scatter with
    colliding indices, sort, dynamic slices, while and conditional, and empty and
    degenerate shapes."""
    b = Builder("kernels")
    rows = b.parameter(Shape.array("f32", [5, 700]), "rows")
    cols = b.parameter(Shape.array("f32", [70, 9]), "cols")
    ints = b.parameter(Shape.array("s32", [4, 100]), "ints")
    lhs = b.parameter(Shape.array("f32", [37, 45]), "lhs")
    rhs = b.parameter(Shape.array("f32", [45, 29]), "rhs")
    blhs = b.parameter(Shape.array("f32", [3, 17, 20]), "blhs")
    brhs = b.parameter(Shape.array("f32", [3, 19, 20]), "brhs")
    image = b.parameter(Shape.array("f32", [2, 9, 9, 3]), "image")
    add = scalar_computation("add", "f32")
    outs = [
        b.reduce(rows, b.scalar(0.0, "f32"), [1], add),
        b.reduce(rows, b.scalar(-np.inf, "f32"), [1], scalar_computation("maximum", "f32")),
        b.reduce(rows, b.scalar(1.5, "f32"), [1], add),  # init is not the identity
        b.reduce(ints, b.scalar(0, "s32"), [1], scalar_computation("add", "s32")),
        b.reduce(b.convert(rows, "f64"), b.scalar(0.0, "f64"), [1], scalar_computation("add", "f64")),
        b.reduce(b.slice(rows, [0, 0], [5, 20]), b.scalar(0.0, "f32"), [1], add),  # one warp
        b.reduce(cols, b.scalar(0.0, "f32"), [0], add),
        b.reduce(cols, b.scalar(0.0, "f32"), [0, 1], add),
        b.reduce(b.transpose(cols, [1, 0]), b.scalar(0.0, "f32"), [1], add),
        b.dot(lhs, rhs, lhs_contracting=[1], rhs_contracting=[0]),
        b.dot(rhs, lhs, lhs_contracting=[0], rhs_contracting=[1]),
        b.dot(blhs, brhs, lhs_batch=[0], rhs_batch=[0], lhs_contracting=[2], rhs_contracting=[2]),
        b.dot(lhs, b.slice(rhs, [0, 0], [45, 1]), lhs_contracting=[1], rhs_contracting=[0]),
        b.dot(b.convert(lhs, "f64"), b.convert(rhs, "f64"), lhs_contracting=[1], rhs_contracting=[0]),
        b.dot(b.convert(lhs, "f16"), b.convert(rhs, "f16"), lhs_contracting=[1], rhs_contracting=[0]),
        b.dot(ints, b.transpose(ints, [1, 0]), lhs_contracting=[1], rhs_contracting=[0]),
        b.convolution(image, b.constant(np.linspace(-1, 1, 3 * 3 * 3 * 4, dtype=np.float32).reshape(3, 3, 3, 4)),
                      make_window([3, 3], [2, 1], [(1, 1), (0, 1)], None, [1, 2]), "b01f_01io->b01f"),
        b.reduce_window(image, b.scalar(-np.inf, "f32"), make_window([1, 3, 3, 1], [1, 2, 2, 1],
                                                                     [(0, 0), (1, 1), (1, 1), (0, 0)]),
                        scalar_computation("maximum", "f32")),
    ]
    # argmax: a variadic row reduction.
    iota = b.iota(Shape.array("s32", [5, 700]), 1)
    pair = b.add("reduce", [rows, iota, b.scalar(-np.inf, "f32"), b.scalar(0, "s32")],
                 {"dimensions": (1,)}, called=[_argmax_reducer()])
    outs.append(b.get_tuple_element(pair, 1))
    picks = b.constant(np.array([[3], [0], [3], [69], [3]], np.int32))
    outs.append(b.gather(cols, picks, offset_dims=[1], collapsed_slice_dims=[0],
                         start_index_map=[0], index_vector_dim=1, slice_sizes=[1, 9]))
    outs.append(b.scatter(cols, picks, b.slice(cols, [0, 0], [5, 9]), add,
                          update_window_dims=[1], inserted_window_dims=[0],
                          scatter_dims_to_operand_dims=[0], index_vector_dim=1))
    outs.append(b.scatter(ints, b.constant(np.array([[1], [1], [2]], np.int32)),
                          b.slice(ints, [0, 0], [3, 100]), scalar_computation("maximum", "s32"),
                          update_window_dims=[1], inserted_window_dims=[0],
                          scatter_dims_to_operand_dims=[0], index_vector_dim=1))
    sorted_ = b.sort([rows, iota], 1, sort_comparator(["f32", "s32"]), is_stable=True)
    outs += [b.get_tuple_element(sorted_, 0), b.get_tuple_element(sorted_, 1)]
    start = b.constant(np.int32(2))
    window = b.dynamic_slice(rows, [start, b.constant(np.int32(650))], [2, 80])  # clamped
    outs.append(window)
    outs.append(b.dynamic_update_slice(rows, b.binary("multiply", window, window),
                                       [start, b.constant(np.int32(7))]))
    # Edge cases: empty rows (the init value), an empty contraction (zeros), degenerate
    # dimensions around the reduced one.
    empty = b.slice(rows, [0, 0], [5, 0])
    outs.append(b.reduce(empty, b.scalar(2.5, "f32"), [1], add))
    outs.append(b.dot(empty, b.slice(rhs, [0, 0], [0, 29]), lhs_contracting=[1], rhs_contracting=[0]))
    outs.append(b.reduce(b.reshape(b.slice(rows, [0, 0], [1, 300]), [1, 1, 300]), b.scalar(0.0, "f32"),
                         [2], add))
    outs.append(_counting_while(b, cols))
    branches = [_branch(op, cols.shape) for op in ("negate", "exponential", "floor")]
    outs.append(b.conditional(b.constant(np.int32(1)), [cols, cols, cols], branches))
    return b.module(b.tuple(outs))


def _argmax_reducer():
    b = Builder("argmax")
    av, ai = b.parameter(Shape.array("f32", []), "av"), b.parameter(Shape.array("s32", []), "ai")
    v, i = b.parameter(Shape.array("f32", []), "v"), b.parameter(Shape.array("s32", []), "i")
    greater = b.compare(v, av, "GT")
    tie = b.binary("and", b.compare(v, av, "EQ"), b.compare(i, ai, "LT"))
    take = b.binary("or", greater, tie)
    b.tuple([b.select(take, v, av), b.select(take, i, ai)])
    return b.build()


def _counting_while(b: Builder, value):
    state = b.tuple([b.constant(np.int32(0)), value])
    cb = Builder("cuda_condition")
    p = cb.parameter(state.shape, "cstate")
    cb.compare(cb.get_tuple_element(p, 0), cb.constant(np.int32(3)), "LT")
    bb = Builder("cuda_body")
    p = bb.parameter(state.shape, "bstate")
    v = bb.get_tuple_element(p, 1)
    bb.tuple([bb.binary("add", bb.get_tuple_element(p, 0), bb.constant(np.int32(1))),
              bb.binary("add", v, bb.unary("sine", v))])
    loop = b.while_loop(cb.build(), bb.build(), state)
    return b.get_tuple_element(loop, 1)


def _branch(opcode: str, shape: Shape):
    b = Builder(f"cuda_branch_{opcode}")
    b.unary(opcode, b.parameter(shape, f"cuda_{opcode}_operand"))
    return b.build()


def random_args(module: Module, seed: int = 0) -> list:
    """Arguments for `module`'s parameters: floats in [-2, 2] (positive where POSITIVE ops
    read them: parameters named "pos"), small integers, random predicates."""
    rng = np.random.default_rng(seed)
    args = []
    for p in module.entry.parameters:
        t = p.shape.element_type.np_dtype
        dims = p.shape.dims
        if t == np.bool_:
            args.append(rng.random(dims) < 0.5)
        elif np.issubdtype(t, np.integer):
            args.append(rng.integers(-50, 50, dims).astype(t))
        elif p.name == "pos":
            args.append(rng.uniform(0.1, 3, dims).astype(t))
        else:
            args.append(rng.uniform(-2, 2, dims).astype(t))
    return args


#: Every fusion kind at sizes that span several blocks and warps: dense layers with
#: epilogues (kOutput: f32 tiled, s32 and f16), a batched dot, softmax and layer norm rows
#: over several warps (kInput), a column reduction with an epilogue, a convolution with
#: bias and relu6, and loop fusions with data movement.
FUSED = """HloModule fused
add_f32 {
  ra = f32[] parameter(0)
  rb = f32[] parameter(1)
  ROOT rs = f32[] add(ra, rb)
}
max_f32 {
  ma = f32[] parameter(0)
  mb = f32[] parameter(1)
  ROOT mm = f32[] maximum(ma, mb)
}
ENTRY main {
  x = f32[40,70]{1,0} parameter(0)
  w = f32[70,50]{1,0} parameter(1)
  b = f32[50]{0} parameter(2)
  r = f32[6,300]{1,0} parameter(3)
  xi = s32[40,70]{1,0} parameter(4)
  xh = f16[40,70]{1,0} parameter(5)
  xb = f32[3,6,70]{2,1,0} parameter(6)
  img = f32[2,7,7,3]{3,2,1,0} parameter(7)
  k = f32[3,3,3,8]{3,2,1,0} parameter(8)
  kb = f32[8]{0} parameter(9)

  d = f32[40,50]{1,0} dot(x, w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  bb = f32[40,50]{1,0} broadcast(b), dimensions={1}
  z = f32[40,50]{1,0} add(d, bb)
  zero = f32[] constant(0)
  bz = f32[40,50]{1,0} broadcast(zero), dimensions={}
  relu = f32[40,50]{1,0} maximum(z, bz)

  wi = s32[70,50]{1,0} convert(w)
  di = s32[40,50]{1,0} dot(xi, wi), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  three = s32[] constant(3)
  b3 = s32[40,50]{1,0} broadcast(three), dimensions={}
  dint = s32[40,50]{1,0} multiply(di, b3)

  wh = f16[70,50]{1,0} convert(w)
  dh = f16[40,50]{1,0} dot(xh, wh), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  dhalf = f16[40,50]{1,0} tanh(dh)

  wb = f32[3,70,50]{2,1,0} broadcast(w), dimensions={1,2}
  db = f32[3,6,50]{2,1,0} dot(xb, wb), lhs_batch_dims={0}, rhs_batch_dims={0}, lhs_contracting_dims={2}, rhs_contracting_dims={1}
  dbatch = f32[3,6,50]{2,1,0} logistic(db)

  ninf = f32[] constant(-inf)
  mx = f32[6]{0} reduce(r, ninf), dimensions={1}, to_apply=max_f32
  bmx = f32[6,300]{1,0} broadcast(mx), dimensions={0}
  sh = f32[6,300]{1,0} subtract(r, bmx)
  e = f32[6,300]{1,0} exponential(sh)
  sm = f32[6]{0} reduce(e, zero), dimensions={1}, to_apply=add_f32
  bsm = f32[6,300]{1,0} broadcast(sm), dimensions={0}
  softmax = f32[6,300]{1,0} divide(e, bsm)

  n = f32[] constant(300)
  mean = f32[6]{0} reduce(r, zero), dimensions={1}, to_apply=add_f32
  bn = f32[6]{0} broadcast(n), dimensions={}
  mu = f32[6]{0} divide(mean, bn)
  bmu = f32[6,300]{1,0} broadcast(mu), dimensions={0}
  centered = f32[6,300]{1,0} subtract(r, bmu)
  sq = f32[6,300]{1,0} multiply(centered, centered)
  var = f32[6]{0} reduce(sq, zero), dimensions={1}, to_apply=add_f32
  v = f32[6]{0} divide(var, bn)
  eps = f32[] constant(1e-5)
  beps = f32[6]{0} broadcast(eps), dimensions={}
  ve = f32[6]{0} add(v, beps)
  inv = f32[6]{0} rsqrt(ve)
  binv = f32[6,300]{1,0} broadcast(inv), dimensions={0}
  norm = f32[6,300]{1,0} multiply(centered, binv)

  xx = f32[40,70]{1,0} multiply(x, x)
  colsum = f32[70]{0} reduce(xx, zero), dimensions={0}, to_apply=add_f32
  rms = f32[70]{0} sqrt(colsum)

  c = f32[2,5,5,8]{3,2,1,0} convolution(img, k), window={size=3x3}, dim_labels=b01f_01io->b01f
  bk = f32[2,5,5,8]{3,2,1,0} broadcast(kb), dimensions={3}
  cz = f32[2,5,5,8]{3,2,1,0} add(c, bk)
  six = f32[] constant(6)
  cz0 = f32[2,5,5,8]{3,2,1,0} broadcast(zero), dimensions={}
  c6 = f32[2,5,5,8]{3,2,1,0} broadcast(six), dimensions={}
  relu6 = f32[2,5,5,8]{3,2,1,0} clamp(cz0, cz, c6)

  xt = f32[70,40]{1,0} transpose(x), dimensions={1,0}
  sl = f32[35,40]{1,0} slice(xt), slice={[0:70:2], [0:40]}
  pd = f32[37,43]{1,0} pad(sl, zero), padding=1_1x0_3
  rv = f32[37,43]{1,0} reverse(pd), dimensions={0}
  loop = f32[37,43]{1,0} tanh(rv)

  ROOT t = (f32[40,50]{1,0}, s32[40,50]{1,0}, f16[40,50]{1,0}, f32[3,6,50]{2,1,0}, f32[6,300]{1,0}, f32[6,300]{1,0}, f32[70]{0}, f32[2,5,5,8]{3,2,1,0}, f32[37,43]{1,0}) tuple(relu, dint, dhalf, dbatch, softmax, norm, rms, relu6, loop)
}
"""


def _softmax(n: int, rows: int = 3, log: bool = False) -> str:
    """HLO lines of a (log-)softmax over rows of n elements: input p{n}, output out{n}."""
    s = f"f32[{rows},{n}]{{1,0}}"
    r = f"f32[{rows}]{{0}}"
    tail = (f"  l{n} = {r} log(t{n})\n  lb{n} = {s} broadcast(l{n}), dimensions={{0}}\n"
            f"  out{n} = {s} subtract(c{n}, lb{n})\n" if log else
            f"  tb{n} = {s} broadcast(t{n}), dimensions={{0}}\n"
            f"  out{n} = {s} divide(e{n}, tb{n})\n")
    return (f"  m{n} = {r} reduce(p{n}, ninf), dimensions={{1}}, to_apply=max_f32\n"
            f"  mb{n} = {s} broadcast(m{n}), dimensions={{0}}\n"
            f"  c{n} = {s} subtract(p{n}, mb{n})\n"
            f"  e{n} = {s} exponential(c{n})\n"
            f"  t{n} = {r} reduce(e{n}, zero), dimensions={{1}}, to_apply=add_f32\n" + tail)


def row_groups_module() -> Module:
    """Softmax over rows of 1, 7, 32, 33 and 1000 elements, a log-softmax, a layer norm
    (mean, variance, normalize, scale and shift) and a softmax whose max is also a result:
    the rows CudaBackend's RowFusion makes one kernel each (or, for the last, keeps the
    max's kernel)."""
    sizes = (1, 7, 32, 33, 1000)
    params = [f"  p{n} = f32[3,{n}]{{1,0}} parameter({k})" for k, n in enumerate(sizes)]
    k = len(sizes)
    params += [f"  p70 = f32[3,70]{{1,0}} parameter({k})",
               f"  x = f32[5,40]{{1,0}} parameter({k + 1})",
               f"  g = f32[40]{{0}} parameter({k + 2})",
               f"  bt = f32[40]{{0}} parameter({k + 3})",
               f"  p9 = f32[4,9]{{1,0}} parameter({k + 4})"]
    body = "".join(_softmax(n) for n in sizes) + _softmax(70, log=True) + _softmax(9, rows=4)
    ln = """  sx = f32[5]{0} reduce(x, zero), dimensions={1}, to_apply=add_f32
  n40 = f32[] constant(40)
  nb = f32[5]{0} broadcast(n40), dimensions={}
  mean = f32[5]{0} divide(sx, nb)
  meanb = f32[5,40]{1,0} broadcast(mean), dimensions={0}
  xc = f32[5,40]{1,0} subtract(x, meanb)
  sq = f32[5,40]{1,0} multiply(xc, xc)
  ss = f32[5]{0} reduce(sq, zero), dimensions={1}, to_apply=add_f32
  var = f32[5]{0} divide(ss, nb)
  eps = f32[] constant(0.001)
  epsb = f32[5]{0} broadcast(eps), dimensions={}
  ve = f32[5]{0} add(var, epsb)
  inv = f32[5]{0} rsqrt(ve)
  invb = f32[5,40]{1,0} broadcast(inv), dimensions={0}
  nrm = f32[5,40]{1,0} multiply(xc, invb)
  gb = f32[5,40]{1,0} broadcast(g), dimensions={1}
  btb = f32[5,40]{1,0} broadcast(bt), dimensions={1}
  scaled = f32[5,40]{1,0} multiply(nrm, gb)
  ln = f32[5,40]{1,0} add(scaled, btb)
"""
    outs = [f"out{n}" for n in (*sizes, 70, 9)] + ["ln", "m9"]
    shapes = [f"f32[3,{n}]{{1,0}}" for n in (*sizes, 70)] + ["f32[4,9]{1,0}", "f32[5,40]{1,0}",
                                                            "f32[4]{0}"]
    text = f"""HloModule rows
add_f32 {{
  ra = f32[] parameter(0)
  rb = f32[] parameter(1)
  ROOT rs = f32[] add(ra, rb)
}}
max_f32 {{
  ma = f32[] parameter(0)
  mb = f32[] parameter(1)
  ROOT mm = f32[] maximum(ma, mb)
}}
ENTRY main {{
{chr(10).join(params)}
  ninf = f32[] constant(-inf)
  zero = f32[] constant(0)
{body}{ln}  ROOT r = ({", ".join(shapes)}) tuple({", ".join(outs)})
}}
"""
    from aotc.hlo.parser import parse_module
    return parse_module(text)


VECTOR = """HloModule vector
ENTRY main {
  a = f32[6,36]{1,0} parameter(0)
  b = f32[6,36]{1,0} parameter(1)
  t = f32[36,6]{1,0} parameter(2)
  r = f32[36]{0} parameter(3)
  h = f16[2,8]{1,0} parameter(4)
  i = s8[4,4]{1,0} parameter(5)
  d = f64[3,4]{1,0} parameter(6)
  odd = f32[3,70]{1,0} parameter(7)
  c = f32[6,36]{1,0} add(a, b)
  tt = f32[6,36]{1,0} transpose(t), dimensions={1,0}
  rb = f32[6,36]{1,0} broadcast(r), dimensions={1}
  e = f32[6,36]{1,0} multiply(c, tt)
  out = f32[6,36]{1,0} subtract(e, rb)
  h2 = f16[2,8]{1,0} multiply(h, h)
  i2 = s8[4,4]{1,0} add(i, i)
  d2 = f64[3,4]{1,0} exponential(d)
  odd2 = f32[3,70]{1,0} negate(odd)
  ROOT o = (f32[6,36]{1,0}, f16[2,8]{1,0}, s8[4,4]{1,0}, f64[3,4]{1,0}, f32[3,70]{1,0}) tuple(out, h2, i2, d2, odd2)
}
"""
