"""A module that uses every opcode of the IR (and the helpers it is built from): the
text round-trip tests and the verifier tests both start from it, so an opcode added to
hlo/opcodes.py must be added here too."""

import numpy as np

from aotc.hlo import OPCODES, Builder, Computation, Module, Shape, scalar_computation
from aotc.hlo.builder import sort_comparator
from aotc.hlo.opcodes import COMPLEX_OPCODES
from aotc.hlo.window import make_window


def fused_add_computation() -> Computation:
    b = Builder("fused_computation")
    p0 = b.parameter(Shape.array("f32", [2, 3]), "fp0")
    p1 = b.parameter(Shape.array("f32", [2, 3]), "fp1")
    b.binary("multiply", p0, p1)
    return b.build()


def tuple_reducer() -> Computation:
    """(max value, its index) reducer: params acc_v, acc_i, v, i."""
    b = Builder("argmax_reducer")
    av = b.parameter(Shape.array("f32", []), "acc_v")
    ai = b.parameter(Shape.array("s32", []), "acc_i")
    v = b.parameter(Shape.array("f32", []), "v")
    i = b.parameter(Shape.array("s32", []), "i")
    keep = b.compare(av, v, "GE")
    b.tuple([b.select(keep, av, v), b.select(keep, ai, i)])
    return b.build()


def counting_loop(state: Shape) -> tuple[Computation, Computation]:
    """(condition, body) of a while over (s32 counter, value): three doublings."""
    cb = Builder("loop_condition")
    p = cb.parameter(state, "loop_state")
    cb.compare(cb.get_tuple_element(p, 0), cb.constant(np.int32(3)), "LT")
    bb = Builder("loop_body")
    p = bb.parameter(state, "loop_next")
    value = bb.get_tuple_element(p, 1)
    bb.tuple([bb.binary("add", bb.get_tuple_element(p, 0), bb.constant(np.int32(1))),
              bb.binary("add", value, value)])
    return cb.build(), bb.build()


def unary_branch(opcode: str, shape: Shape) -> Computation:
    b = Builder(f"branch_{opcode}")
    b.unary(opcode, b.parameter(shape, f"{opcode}_operand"))
    return b.build()


def every_opcode_module(complex_ops: bool = True) -> Module:
    """One module using every opcode of the table at least once; without `complex_ops`,
    every opcode a backend emits (complex values are expanded into real ones before a
    backend runs: passes/complex_expansion.py)."""
    b = Builder("everything")
    f = b.parameter(Shape.array("f32", [2, 3]), "f")
    g = b.parameter(Shape.array("f32", [2, 3]), "g")
    n = b.parameter(Shape.array("s32", [2, 3]), "n")
    outs = []
    for info in OPCODES.values():
        if info.category == "unary":
            outs.append(b.unary(info.name, n if info.name == "not" else f))
        elif info.category == "binary":
            bitwise = info.name in ("and", "or", "xor") or info.name.startswith("shift")
            outs.append(b.binary(info.name, n, n) if bitwise else b.binary(info.name, f, g))
    cmp = b.compare(f, g, "LT")
    outs += [cmp, b.select(cmp, f, g), b.clamp(g, f, g), b.convert(f, "s32"),
             b.unary("is-finite", f)]
    zero = b.constant(np.float32(0))
    outs.append(b.iota(Shape.array("s32", [4, 2]), 1))
    outs.append(b.broadcast(b.constant(np.array([1, 2], np.float32)), [3, 2], [1]))
    outs.append(b.reshape(f, [3, 2]))
    outs.append(b.add("bitcast", [f], shape=Shape.array("f32", [6])))
    outs.append(b.bitcast_convert(f, "u16"))
    outs.append(b.bitcast_convert(b.bitcast_convert(f, "u8"), "f32"))
    outs.append(b.transpose(f, [1, 0]))
    outs.append(b.slice(f, [0, 1], [2, 3], [2, 1]))
    outs.append(b.unary("copy", b.reverse(f, [0, 1])))
    outs.append(b.pad(f, zero, [(1, -1, 0), (0, 2, 1)]))
    outs.append(b.concatenate([f, g, f], 0))
    outs.append(b.dot(f, b.transpose(g, [1, 0]), lhs_contracting=[1], rhs_contracting=[0]))
    batch = b.reshape(f, [1, 2, 3])
    outs.append(b.dot(batch, batch, lhs_batch=[0], rhs_batch=[0], lhs_contracting=[2],
                      rhs_contracting=[2]))
    outs.append(b.reduce(f, zero, [0, 1], scalar_computation("add", "f32")))
    iota = b.iota(Shape.array("s32", [2, 3]), 1)
    pair = b.add("reduce", [f, iota, zero, b.constant(np.int32(0))], {"dimensions": (1,)},
                 called=[tuple_reducer()])
    outs.append(b.get_tuple_element(pair, 1))
    outs.append(b.call(scalar_computation("maximum", "f32"), [zero, zero]))
    outs.append(b.add("fusion", [f, g], {"kind": "kLoop"}, called=[fused_add_computation()]))
    state = b.tuple([b.constant(np.int32(0)), f])
    outs.append(b.get_tuple_element(b.while_loop(*counting_loop(state.shape), state), 1))
    branches = [unary_branch(op, f.shape) for op in ("negate", "abs", "floor")]
    outs.append(b.conditional(b.compare(zero, zero, "EQ"), [f, g], branches[:2]))
    outs.append(b.conditional(b.constant(np.int32(5)), [f, g, f], branches))
    rows = b.constant(np.array([[1], [0]], np.int32))
    outs.append(b.gather(f, rows, offset_dims=[1], collapsed_slice_dims=[0],
                         start_index_map=[0], index_vector_dim=1, slice_sizes=[1, 3]))
    outs.append(b.scatter(f, rows, g, scalar_computation("add", "f32"), update_window_dims=[1],
                          inserted_window_dims=[0], scatter_dims_to_operand_dims=[0],
                          index_vector_dim=1))
    one = b.constant(np.int32(1))
    window = b.dynamic_slice(f, [one, one], [1, 2])
    outs.append(b.dynamic_update_slice(g, window, [one, one]))
    outs.append(b.sort([f, n], 1, sort_comparator(["f32", "s32"]), is_stable=True))
    image = b.reshape(f, [1, 2, 3, 1])
    outs.append(b.convolution(image, b.constant(np.ones((2, 2, 1, 2), np.float32)),
                              make_window([2, 2], [1, 2], [(0, 1), (1, 0)], None, [1, 2]),
                              "b01f_01io->b01f"))
    outs.append(b.reduce_window(f, zero, make_window([2, 2], [1, 1], [(1, 0), (0, 1)]),
                                scalar_computation("add", "f32")))
    if complex_ops:
        z = b.add("complex", [f, g])
        outs += [b.add("real", [z]), b.add("imag", [z]),
                 b.add("fft", [z], {"fft_type": "FFT", "fft_length": (3,)})]
    module = b.module(b.tuple(outs))
    used = {i.opcode for c in module.computations for i in c.instructions}
    assert used == set(OPCODES) - (set() if complex_ops else COMPLEX_OPCODES), set(OPCODES) - used
    return module
