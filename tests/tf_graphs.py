"""Build small TensorFlow graphs at test time, run them with TensorFlow, and run the same
graph through aotc's frontend (prune + lower) and the HLO evaluator.

    case = run_tf(lambda x, y: tf.matmul(x, y), [rand((2, 3)), rand((3, 4))])
    got = run_aotc(case)          # list of arrays, one per fetch
    # case.expected is what TensorFlow computed

Graphs are tf.compat.v1 graphs with one Placeholder (fixed shape and dtype) per input;
everything else (shape/axis inputs) is built as constants by the callable.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from aotc.frontend.lower import lower  # noqa: E402
from aotc.frontend.proto import aotc_graph_pb2, aotc_tf2xla_pb2  # noqa: E402
from aotc.frontend.prune import prune  # noqa: E402
from aotc.hlo.evaluation import evaluate  # noqa: E402
from aotc.hlo.verifier import verify  # noqa: E402

_RNG = np.random.default_rng(0)


def rand(shape, dtype=np.float32, low=-2.0, high=2.0, rng=None) -> np.ndarray:
    """Seeded random values: uniform floats (complex: both parts), integers in [low, high],
    or random bools."""
    rng = rng or _RNG
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(int(low), int(high), size=shape, endpoint=True).astype(dtype)
    if dtype.kind == "c":  # both parts uniform in [low, high)
        parts = rng.uniform(low, high, size=(2, *shape))
        return (parts[0] + 1j * parts[1]).astype(dtype)
    return rng.uniform(low, high, size=shape).astype(dtype)


@dataclass
class TFCase:
    """A graph, its inputs, and what TensorFlow computed for them."""

    graph_def: bytes
    feeds: list[str]  # placeholder node names, in argument order
    fetches: list[tuple[str, int]]  # (node name, output index), in result order
    inputs: list[np.ndarray]
    expected: list[np.ndarray]
    op_types: set[str]


def run_tf(build, inputs, names=None) -> TFCase:
    """Build `build(*placeholders)` (a tensor or list of tensors) in a fresh graph and run it.

    One placeholder per array of `inputs`, with that array's shape and dtype.
    """
    graph = tf.Graph()
    with graph.as_default():
        names = names or [f"in{i}" for i in range(len(inputs))]
        placeholders = [tf.compat.v1.placeholder(tf.as_dtype(a.dtype), a.shape, name=n)
                        for a, n in zip(inputs, names)]
        outputs = build(*placeholders)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        with tf.compat.v1.Session(graph=graph) as sess:
            expected = sess.run(list(outputs), dict(zip(placeholders, inputs)))
    return TFCase(
        graph_def=graph.as_graph_def().SerializeToString(),
        feeds=list(names),
        fetches=[(t.op.name, t.value_index) for t in outputs],
        inputs=list(inputs),
        expected=[np.asarray(e) for e in expected],
        op_types={op.type for op in graph.get_operations()},
    )


def run_tf_nchw(build_nchw, build_nhwc, x: np.ndarray) -> TFCase:
    """A graph with an NCHW op for aotc, and TensorFlow's answer from the NHWC op between
    transposes (TF's CPU kernels do not all run NCHW)."""
    reference = run_tf(lambda t: tf.transpose(build_nhwc(tf.transpose(t, [0, 2, 3, 1])),
                                              [0, 3, 1, 2]), [x])
    graph = tf.Graph()
    with graph.as_default():
        placeholder = tf.compat.v1.placeholder(tf.as_dtype(x.dtype), x.shape, name="in0")
        out = build_nchw(placeholder)
    return TFCase(graph.as_graph_def().SerializeToString(), ["in0"], [(out.op.name, 0)], [x],
                  reference.expected, {op.type for op in graph.get_operations()})


@contextlib.contextmanager
def control_flow_v1():
    """Build graphs with TF1 control flow inside: tf.cond and tf.while_loop make
    Switch/Merge/Enter/Exit frames and tf.TensorArray the V3 ops, as TF 1.x did."""
    from tensorflow.python.ops import control_flow_util

    saved = control_flow_util.ENABLE_CONTROL_FLOW_V2
    control_flow_util.ENABLE_CONTROL_FLOW_V2 = False
    try:
        yield
    finally:
        control_flow_util.ENABLE_CONTROL_FLOW_V2 = saved


def run_tf1(build, inputs, names=None) -> TFCase:
    """`run_tf` for a TF1 graph: control flow v1, variables initialized and then frozen
    into constants (convert_variables_to_constants, as freeze_graph.py does)."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), control_flow_v1():
        names = names or [f"in{i}" for i in range(len(inputs))]
        placeholders = [v1.placeholder(tf.as_dtype(a.dtype), a.shape, name=n)
                        for a, n in zip(inputs, names)]
        outputs = build(*placeholders)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        outputs = [tf.identity(t, name=f"out{k}") for k, t in enumerate(outputs)]
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            expected = sess.run(list(outputs), dict(zip(placeholders, inputs)))
            frozen = v1.graph_util.convert_variables_to_constants(
                sess, graph.as_graph_def(), [t.op.name for t in outputs])
    return TFCase(
        graph_def=frozen.SerializeToString(),
        feeds=list(names),
        fetches=[(t.op.name, 0) for t in outputs],
        inputs=list(inputs),
        expected=[np.asarray(e) for e in expected],
        op_types={n.op for n in frozen.node} | {n.op for f in frozen.library.function
                                                for n in f.node_def},
    )


def make_config(feeds, fetches) -> aotc_tf2xla_pb2.Config:
    """A tf2xla Config feeding node outputs 0 of `feeds` and fetching `fetches`."""
    config = aotc_tf2xla_pb2.Config()
    for name in feeds:
        config.feed.add().id.node_name = name
    for name, index in fetches:
        fetch = config.fetch.add()
        fetch.id.node_name = name
        fetch.id.output_index = index
    return config


def parse_graph_def(data: bytes) -> aotc_graph_pb2.GraphDef:
    return aotc_graph_pb2.GraphDef.FromString(data)


def lower_case(case: TFCase):
    """Prune and lower `case`'s graph with aotc; returns the (verified) HLO module."""
    module = lower(prune(parse_graph_def(case.graph_def), make_config(case.feeds, case.fetches)))
    verify(module)
    return module


def run_aotc(case: TFCase) -> list[np.ndarray]:
    """Lower `case` with aotc and evaluate it on the case's inputs."""
    result = evaluate(lower_case(case), *case.inputs)
    return [np.asarray(r) for r in result]


# -- cases: one op, one configuration, one tolerance --------------------------------------

EXACT, ELEMENTWISE, ACCUMULATE = 0.0, 1e-6, 1e-5


@dataclass
class Case:
    """One TF op configuration compared with TensorFlow."""

    id: str
    op: str  # the op type under test; must appear in the graph
    build: Callable
    inputs: Callable[[], list]  # called lazily, so each case draws its own values
    tol: float = ELEMENTWISE
    xla: bool = False  # the op has only an XLA kernel: TensorFlow runs it with jit_compile


def c(op, id, build, *inputs, tol=ELEMENTWISE, xla=False):
    """A Case named `op-id`; `inputs` are arrays or lazily drawn `R(...)` inputs. `xla`
    cases are computed by TensorFlow's XLA (tf.function(jit_compile=True)), for ops that
    have no CPU kernel."""
    return Case(f"{op}-{id}", op, build, lambda: [i() if callable(i) else i for i in inputs], tol,
                xla)


def R(*shape, dtype=np.float32, low=-2.0, high=2.0):
    """A lazily drawn random input."""
    return lambda: rand(shape, dtype, low, high)


def assert_matches(got, want, tol, what=""):
    """Equal dtype and shape; values exact when `tol` is EXACT, else within rtol=atol=tol."""
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != TensorFlow's {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != TensorFlow's {want.shape}"
    if tol == EXACT:
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=what)




def run_tf_xla(build, inputs) -> TFCase:
    """run_tf for ops without a CPU kernel: the graph is built as run_tf builds it, and
    the expected values come from TensorFlow's XLA compiling the same function."""
    graph = tf.Graph()
    with graph.as_default():
        names = [f"in{i}" for i in range(len(inputs))]
        placeholders = [tf.compat.v1.placeholder(tf.as_dtype(a.dtype), a.shape, name=n)
                        for a, n in zip(inputs, names)]
        outputs = build(*placeholders)
        outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    expected = tf.function(build, jit_compile=True)(*[tf.constant(a) for a in inputs])
    expected = list(expected) if isinstance(expected, (list, tuple)) else [expected]
    return TFCase(
        graph_def=graph.as_graph_def().SerializeToString(),
        feeds=names,
        fetches=[(t.op.name, t.value_index) for t in outputs],
        inputs=list(inputs),
        expected=[np.asarray(e) for e in expected],
        op_types={op.type for op in graph.get_operations()},
    )


def check_case(case: Case) -> None:
    """Run `case` with TensorFlow and through aotc's lowering; compare every result."""
    tf_case = (run_tf_xla if case.xla else run_tf)(case.build, case.inputs())
    assert case.op in tf_case.op_types, f"graph has no {case.op} node: {tf_case.op_types}"
    got = run_aotc(tf_case)
    assert len(got) == len(tf_case.expected)
    for k, (g, w) in enumerate(zip(got, tf_case.expected)):
        assert_matches(g, w, case.tol, f"{case.id} result {k}")


def run_batch_in_tf(cases):
    """One graph holding every case (op-coverage `Case`s); returns (graph_def, feeds, fetches, inputs, expected,
    per-case fetch ranges)."""
    graph = tf.Graph()
    feeds, inputs, outputs, ranges = [], [], [], []
    with graph.as_default():
        for k, case in enumerate(cases):
            values = case.inputs()
            names = [f"case{k}_in{i}" for i in range(len(values))]
            placeholders = [tf.compat.v1.placeholder(tf.as_dtype(v.dtype), v.shape, name=n)
                            for v, n in zip(values, names)]
            with tf.name_scope(f"case{k}"):
                result = case.build(*placeholders)
            result = list(result) if isinstance(result, (list, tuple)) else [result]
            ranges.append(range(len(outputs), len(outputs) + len(result)))
            feeds += names
            inputs += values
            outputs += result
        with tf.compat.v1.Session(graph=graph) as sess:
            expected = sess.run(outputs, dict(zip(
                [graph.get_tensor_by_name(f"{n}:0") for n in feeds], inputs)))
    fetches = [(t.op.name, t.value_index) for t in outputs]
    return graph.as_graph_def().SerializeToString(), feeds, fetches, inputs, expected, ranges


def optimized_batch(cases):
    """The cases of `run_batch_in_tf` as one HLO module through the default pipeline;
    returns (module, inputs, TensorFlow's outputs, per-case fetch ranges)."""
    from aotc.passes.pipeline import default_pipeline

    graph_def, feeds, fetches, inputs, expected, ranges = run_batch_in_tf(cases)
    module = lower(prune(parse_graph_def(graph_def), make_config(feeds, fetches)))
    verify(module)
    default_pipeline().run(module)
    return module, inputs, expected, ranges
