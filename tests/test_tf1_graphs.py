"""TensorFlow 1 graphs: V1 control flow, TensorArray V3 ops and Defun calls, against TF.

Every graph is built at test time with TF1 control flow (`tf_graphs.control_flow_v1`:
tf.while_loop and tf.cond make Enter/Merge/Switch/Exit/NextIteration/LoopCond, and
tf.TensorArray the V3 ops), its variables frozen into constants as freeze_graph.py
does, and run with a TF1 Session. aotc must functionalize the control flow into While
and If (frontend/functionalize.py) and compute the same values:

- on the HLO evaluator, one case at a time (tf.case, tf.scan and map_fn included);
- through the CPU backend, all cases batched into one graph and one compiled module.

Tolerances: EXACT where results only move data or add and multiply elementwise (TF's
kernels and aotc's code round the same operations the same way); 1e-6 where they pass
through exp, a reduction or the LSTM's gates (measured: at most 1.4e-7, the LSTM over 4
steps).
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)
from tensorflow.python.framework import function  # noqa: E402  (TF1's Defun)

from aotc.frontend.errors import FrontendError, GraphError, UnsupportedOpsError  # noqa: E402
from aotc.frontend.lower import lower  # noqa: E402
from aotc.frontend.prune import prune  # noqa: E402
from aotc.hlo.verifier import verify  # noqa: E402
from aotc.passes.pipeline import default_pipeline  # noqa: E402
from compiled import Compiled  # noqa: E402
from tf_graphs import (  # noqa: E402
    ELEMENTWISE, EXACT, Case, R, assert_matches, c, control_flow_v1,
    lower_case, make_config, parse_graph_def, run_aotc, run_tf1,
)

v1 = tf.compat.v1
f32, i32 = np.float32, np.int32


# -- graph builders -----------------------------------------------------------------------


def nested_loops(x):
    def outer(i, acc):
        def inner(j, a):
            return j + 1, a + x * tf.cast(i * j + 1, tf.float32)
        _, acc = tf.while_loop(lambda j, a: j < i, inner, [0, acc])
        return i + 1, acc
    return tf.while_loop(lambda i, a: i < 4, outer, [0, tf.zeros_like(x)])


def cond_in_loop(x):
    def body(i, acc):
        acc = tf.cond(i < 2, lambda: acc + x, lambda: acc * 0.5 - x)
        return i + 1, acc
    return tf.while_loop(lambda i, a: i < 5, body, [tf.constant(0), tf.zeros_like(x)])


def loop_in_cond(x):
    # One predicate true and one false, so both kinds of branch run.
    def looped():
        return tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * 1.5 + x), [0, x])[1]
    s = tf.reduce_sum(x)
    return [tf.cond(s > -100.0, looped, lambda: x - 1.0),
            tf.cond(s < -100.0, looped, lambda: x - 1.0)]


def nested_conds(x, y):
    s = tf.reduce_sum(x)
    def outer_true():
        return tf.cond(s > 1.0, lambda: (x * 2.0, y), lambda: (x - 1.0, -y))
    def outer_false():
        return tf.cond(s > -1.0, lambda: (tf.exp(x), y + 1), lambda: (x, y))
    a = tf.cond(s > 0.0, outer_true, outer_false)
    b = tf.cond(s <= 0.0, outer_true, outer_false)
    return [a[0], a[1], b[0], b[1]]


def case_and_constant_branches(x):
    # tf.case (nested conds), and branches returning a constant or an input unchanged.
    s = tf.reduce_sum(x)
    picked = tf.case([(s > 10.0, lambda: x * 2.0), (s > -10.0, lambda: x + 1.0)],
                     default=lambda: -x, exclusive=False)
    three = tf.constant([1.0, 2.0, 3.0])
    return [picked, tf.cond(s > -10.0, lambda: three, lambda: x),
            tf.cond(s < -10.0, lambda: three, lambda: x)]


def tensor_array_in_cond_in_loop(x):
    def body(i, ta):
        ta = tf.cond(tf.equal(i % 2, 0), lambda: ta.write(i, x[i] * 2.0),
                     lambda: ta.write(i, -x[i]))
        return i + 1, ta
    # No element_shape: the writes inside the branches say what it is.
    ta = tf.TensorArray(tf.float32, size=4)
    return tf.while_loop(lambda i, _: i < 4, body, [0, ta])[1].stack()


def shared_predicate(x, p):
    # One fed predicate tested by several conds, one feeding the next (TF1 models test
    # is_training in every layer).
    a = tf.cond(p, lambda: x + 1.0, lambda: x - 1.0)
    b = tf.cond(p, lambda: a * 2.0, lambda: a * 3.0)
    c = tf.cond(p, lambda: x * 5.0, lambda: -x)
    return [b, c, a]


def loop_gathering_from_a_feed(x, idx):
    # The feeds enter the loop as invariants; the body indexes them with the counter.
    def body(i, acc):
        return i + 1, acc + tf.gather(x, idx[i]) + x[i] * x[-1 - i]
    return tf.while_loop(lambda i, a: i < 3, body, [0, tf.zeros([4])])[1]


def loop_with_maximum_iterations(x, n):
    # The trip count is fed (n), and capped at 3 by maximum_iterations.
    return tf.while_loop(lambda i, a: i < n[0], lambda i, a: [i + 1, a * 2.0 - x],
                         [0, x], maximum_iterations=3)


def map_fn(x):
    return tf.map_fn(lambda row: tf.reduce_sum(row * row) + row[0], x)


def scan(x):
    return tf.scan(lambda acc, row: acc * 0.5 + row, x)


def tensor_arrays(x):
    # Every V3 op: unstack (Scatter), Read, Write in a loop, stack (Gather), gather,
    # concat, split, size and close.
    source = tf.TensorArray(tf.float32, size=4).unstack(x)
    def body(i, ta):
        return i + 1, ta.write(i, source.read(3 - i) * tf.cast(i + 1, tf.float32))
    ta = tf.TensorArray(tf.float32, size=4, clear_after_read=False)  # read four times
    _, ta = tf.while_loop(lambda i, _: i < 4, body, [0, ta])
    reads = [ta.stack(), ta.gather([2, 0]), ta.concat(), ta.size()]
    with tf.control_dependencies(reads):
        close = ta.close()
    with tf.control_dependencies([close]):
        reads = [tf.identity(t) for t in reads]
    split = tf.TensorArray(tf.float32, size=2).split(tf.reshape(x, [12]), [6, 6])
    scattered = tf.TensorArray(tf.float32, size=4, element_shape=[3]).scatter([3, 1, 0, 2], x)
    return reads + [split.read(1), scattered.stack()]


class _LSTMCell:
    """tf.compat.v1.nn.rnn_cell.LSTMCell's math (one matmul for the four gates, forget
    bias 1), duck-typed for dynamic_rnn: Keras 3 no longer provides the TF1 cells."""

    def __init__(self, inputs: int, units: int):
        self.units = units
        init = v1.random_normal_initializer(stddev=0.4, seed=7)
        self.kernel = v1.get_variable("lstm_kernel", [inputs + units, 4 * units], initializer=init)
        self.bias = v1.get_variable("lstm_bias", [4 * units], initializer=init)

    state_size = property(lambda self: (self.units, self.units))
    output_size = property(lambda self: self.units)

    def zero_state(self, batch, dtype):
        return (tf.zeros([batch, self.units], dtype), tf.zeros([batch, self.units], dtype))

    def __call__(self, x, state, scope=None):
        c, h = state
        gates = tf.nn.bias_add(tf.matmul(tf.concat([x, h], 1), self.kernel), self.bias)
        i, j, f, o = tf.split(gates, 4, axis=1)
        c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j)
        h = tf.sigmoid(o) * tf.tanh(c)
        return h, (c, h)


def dynamic_rnn(x):
    with v1.variable_scope("plain"):
        cell = _LSTMCell(x.shape[-1], 5)
        outputs, (c, h) = v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    return [outputs, c, h]


def dynamic_rnn_with_lengths(x, lengths):
    # sequence_length puts a tf.cond and Selects inside the loop.
    with v1.variable_scope("lengths"):
        cell = _LSTMCell(x.shape[-1], 4)
        outputs, (c, h) = v1.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
    return [outputs, h]


@function.Defun(tf.float32, tf.float32)
def product_and_difference(a, b):
    return a * b, a - b


@function.Defun(tf.float32, tf.float32)
def combined(a, b):
    p, q = product_and_difference(a, b)  # a Defun calling a Defun, two outputs
    return p + 2.0 * q


@function.Defun(tf.float32, tf.float32)
def cond_then_loop(a, b):
    # TF1 control flow inside a function body: functionalized there too.
    c = tf.cond(tf.reduce_sum(a) > 0.0, lambda: a * b, lambda: a - b)
    return tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 0.5 + b), [0, c])[1]


def defun_calls(x, y):
    p, q = product_and_difference(x, y)
    looped = tf.while_loop(lambda i, a: i < 2, lambda i, a: (i + 1, combined(a, y)), [0, x],
                           shape_invariants=[tf.TensorShape([]), tf.TensorShape(None)])
    return [combined(x, y), p, q, looped[1], cond_then_loop(x, y), cond_then_loop(-x, y)]


CASES: list[Case] = [
    c("LoopCond", "nested-loops", nested_loops, R(3), tol=EXACT),
    c("Switch", "cond-in-loop", cond_in_loop, R(2, 3), tol=EXACT),
    c("LoopCond", "loop-in-cond", loop_in_cond, R(4), tol=EXACT),
    c("Merge", "nested-conds", nested_conds, R(3), R(2, dtype=i32), tol=ELEMENTWISE),
    c("Enter", "gather-from-feed", loop_gathering_from_a_feed, R(6, 4),
      np.array([1, 5, 2], i32), tol=EXACT),
    c("LoopCond", "maximum-iterations", loop_with_maximum_iterations, R(3),
      np.array([7], i32), tol=EXACT),
    c("Merge", "case-constant-branches", case_and_constant_branches, R(3), tol=EXACT),
    c("Switch", "shared-predicate-true", shared_predicate, R(3), np.array(True), tol=EXACT),
    c("Switch", "shared-predicate-false", shared_predicate, R(3), np.array(False), tol=EXACT),
    c("TensorArrayWriteV3", "tensor-array-in-cond-in-loop", tensor_array_in_cond_in_loop,
      R(4, 3), tol=EXACT),
    c("TensorArrayReadV3", "map-fn", map_fn, R(5, 3), tol=ELEMENTWISE),
    c("TensorArrayReadV3", "scan", scan, R(4, 3), tol=EXACT),
    c("TensorArrayWriteV3", "tensor-arrays", tensor_arrays, R(4, 3), tol=EXACT),
    c("TensorArrayGatherV3", "dynamic-rnn-lstm", dynamic_rnn, R(2, 4, 3), tol=ELEMENTWISE),
    c("TensorArrayScatterV3", "dynamic-rnn-lengths", dynamic_rnn_with_lengths, R(3, 4, 2),
      np.array([4, 2, 0], i32), tol=ELEMENTWISE),
    c("PartitionedCall", "defun", defun_calls, R(3), R(3), tol=EXACT),
]

#: Op types each case's graph must contain (besides its `op`, which lowering must not see:
#: TF1 ops are functionalized away, and Defun calls have no fixed op type).
EXPECTED_TF1_OPS = {"Enter", "Exit", "Merge", "Switch", "NextIteration", "LoopCond"}


def _check_graph_ops(case: Case, op_types: set[str]) -> None:
    if case.op == "PartitionedCall":  # a Defun call's op type is the function's name
        assert any(op.startswith("combined") for op in op_types), op_types
    else:
        assert case.op in op_types, f"graph has no {case.op} node: {op_types}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_tf1_graph_matches_tensorflow(case):
    tf_case = run_tf1(case.build, case.inputs())
    _check_graph_ops(case, tf_case.op_types)
    got = run_aotc(tf_case)
    assert len(got) == len(tf_case.expected)
    for k, (g, w) in enumerate(zip(got, tf_case.expected)):
        assert_matches(g, w, case.tol, f"{case.id} result {k}")


def test_functionalized_graph_has_no_v1_control_flow():
    module = lower_case(run_tf1(cond_in_loop, [np.ones((2, 3), f32)]))
    opcodes = {i.opcode for comp in module.computations for i in comp.instructions}
    assert {"while", "conditional"} <= opcodes, opcodes


# -- the CPU backend: every case in one compiled module ----------------------------------


def _batch_in_tf(cases):
    """One frozen TF1 graph holding every case with its own placeholders and fetches."""
    graph = tf.Graph()
    feeds, inputs, outputs, ranges = [], [], [], []
    with graph.as_default(), control_flow_v1():
        for k, case in enumerate(cases):
            values = case.inputs()
            names = [f"case{k}_in{i}" for i in range(len(values))]
            placeholders = [v1.placeholder(tf.as_dtype(v.dtype), v.shape, name=n)
                            for v, n in zip(values, names)]
            with tf.name_scope(f"case{k}"):
                result = case.build(*placeholders)
            result = list(result) if isinstance(result, (list, tuple)) else [result]
            result = [tf.identity(t, name=f"case{k}_out{i}") for i, t in enumerate(result)]
            ranges.append(range(len(outputs), len(outputs) + len(result)))
            feeds += names
            inputs += values
            outputs += result
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            expected = sess.run(outputs, dict(zip(
                [graph.get_tensor_by_name(f"{n}:0") for n in feeds], inputs)))
            frozen = v1.graph_util.convert_variables_to_constants(
                sess, graph.as_graph_def(), [t.op.name for t in outputs])
    fetches = [(t.op.name, 0) for t in outputs]
    return frozen, feeds, fetches, inputs, expected, ranges


@pytest.fixture(scope="module")
def compiled_batch():
    graph_def, feeds, fetches, inputs, expected, ranges = _batch_in_tf(CASES)
    module = lower(prune(parse_graph_def(graph_def.SerializeToString()),
                         make_config(feeds, fetches)))
    verify(module)
    default_pipeline().run(module)
    return Compiled(module)(*inputs), expected, ranges


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.id for c in CASES])
def test_cpu_backend_matches_tensorflow(compiled_batch, index):
    got, expected, ranges = compiled_batch
    case = CASES[index]
    for k in ranges[index]:
        assert_matches(got[k], np.asarray(expected[k]), case.tol, f"{case.id} result {k}")


# -- errors ---------------------------------------------------------------------------------


def _rename_ops(graph_def: bytes, renames: dict[str, str]) -> bytes:
    graph = parse_graph_def(graph_def)
    for node in graph.node:
        node.op = renames.get(node.name, node.op)
    return graph.SerializeToString()


def test_unsupported_ops_name_the_loop_body_function():
    # Ops nobody lowers, one in a loop body, one in a cond branch inside it, one at the
    # top level: all are listed at once, each with the function it ended up in.
    case = run_tf1(cond_in_loop, [np.ones((2, 3), f32)])
    case.graph_def = _rename_ops(case.graph_def, {"while/add": "NotAnOpA",
                                                  "while/cond/sub": "NotAnOpB",
                                                  "out0": "NotAnOpA"})
    with pytest.raises(UnsupportedOpsError) as info:
        lower_case(case)
    assert info.value.ops == {"NotAnOpA": ["out0", ("while_body", "while/add")],
                              "NotAnOpB": [("while_cond_false", "while/cond/sub")]}
    assert ("NotAnOpA: 'out0', 'while/add' in function 'while_body'"
            in str(info.value)), str(info.value)


def test_dynamic_size_tensor_array_is_an_error():
    def growing(x):
        ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        _, ta = tf.while_loop(lambda i, _: i < 3, lambda i, t: (i + 1, t.write(i, x)), [0, ta])
        return ta.stack()
    case = run_tf1(growing, [np.ones(2, f32)])
    with pytest.raises(FrontendError, match=r"\(TensorArrayV3\): dynamic_size=True"):
        lower_case(case)


def test_fetch_inside_a_loop_is_an_error():
    # A hand-made edge from a loop body node to the fetched node (TensorFlow rejects
    # these at run time): the error names the fetch and the loop.
    case = run_tf1(cond_in_loop, [np.ones((2, 3), f32)])
    graph = parse_graph_def(case.graph_def)
    next(n for n in graph.node if n.name == "out0").input[0] = "while/add"
    case.graph_def = graph.SerializeToString()
    with pytest.raises(GraphError, match=r"fetch 'out0:0' is computed inside the loop with "
                                         r"frame 'while/while_context'"):
        lower_case(case)


def test_malformed_v1_node_is_an_error():
    case = run_tf1(cond_in_loop, [np.ones((2, 3), f32)])
    graph = parse_graph_def(case.graph_def)
    switch = next(n for n in graph.node if n.name == "while/cond/Switch")
    del switch.input[1:]
    case.graph_def = graph.SerializeToString()
    with pytest.raises(GraphError, match=r"node 'while/cond/Switch' \(Switch\) has 1 data "
                                         r"inputs; TensorFlow 1 control flow gives it 2"):
        lower_case(case)
