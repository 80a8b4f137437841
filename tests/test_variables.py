"""Variable lowering (frontend/ops/variables.py) against TensorFlow.

Each case builds a TF1-style graph with variables, runs it in a TensorFlow session from a
known initial value, and compares the fetches and the variables' final values with
aotc's lowering evaluated on the same initial value (args: feeds then variables; results:
fetches then the non-readonly variables).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from google.protobuf import text_format  # noqa: E402

from aotc.frontend.errors import FrontendError  # noqa: E402
from aotc.frontend.lower import lower  # noqa: E402
from aotc.frontend.proto import aotc_graph_pb2, aotc_tf2xla_pb2  # noqa: E402
from aotc.frontend.prune import prune  # noqa: E402
from aotc.hlo.evaluation import evaluate  # noqa: E402
from aotc.hlo.verifier import verify  # noqa: E402

import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)
v1 = tf.compat.v1


def _config(feeds, fetches, variables) -> aotc_tf2xla_pb2.Config:
    """feeds: [(node, shape)], fetches: [node], variables: [(node, shape, readonly)]."""
    def dims(shape):
        return " ".join(f"dim {{ size: {d} }}" for d in shape)

    text = "".join(f'feed {{ id {{ node_name: "{n}" }} shape {{ {dims(s)} }} }}\n' for n, s in feeds)
    text += "".join(f'fetch {{ id {{ node_name: "{n}" }} }}\n' for n in fetches)
    text += "".join(f'variable {{ node_name: "{n}" shape {{ {dims(s)} }} type: DT_FLOAT '
                    f'readonly: {str(r).lower()} }}\n' for n, s, r in variables)
    return text_format.Parse(text, aotc_tf2xla_pb2.Config())


def _lower(graph_def: bytes, config):
    module = lower(prune(aotc_graph_pb2.GraphDef.FromString(graph_def), config))
    verify(module)
    return module


def check_against_tf(build, feeds, variables, *, readonly=()):
    """`build(placeholders, variables)` returns the fetched tensors. `feeds` and
    `variables` are {name: initial array}; returns nothing, asserts equality."""
    graph = tf.Graph()
    with graph.as_default():
        holders = {n: v1.placeholder(tf.float32, a.shape, name=n) for n, a in feeds.items()}
        tf_vars = {n: v1.Variable(a, name=n) for n, a in variables.items()}
        fetches = build(holders, tf_vars)
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            expected = sess.run(fetches, {holders[n]: a for n, a in feeds.items()})
            final = sess.run(list(tf_vars.values()))
    config = _config([(n, a.shape) for n, a in feeds.items()], [t.op.name for t in fetches],
                     [(n, a.shape, n in readonly) for n, a in variables.items()])
    module = _lower(graph.as_graph_def().SerializeToString(), config)
    got = evaluate(module, *feeds.values(), *variables.values())
    updated = [f for n, f in zip(variables, final) if n not in readonly]
    assert len(got) == len(expected) + len(updated)
    for g, e in zip(got, list(expected) + updated):
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-6)
    for n, f in zip(variables, final):
        if n in readonly:
            np.testing.assert_array_equal(f, variables[n])  # TF did not change it either


F = np.float32


def test_assign_add_sub_in_control_order():
    # Every read is ordered against every assignment (TensorFlow itself may run an
    # unordered read before or after an assignment).
    def build(p, v):
        x, w = p["x"], v["w"]
        first = w.read_value()
        with tf.control_dependencies([first]):
            up = tf.identity(w.assign_add(x))
        with tf.control_dependencies([up]):
            down = tf.identity(w.assign_sub(2 * w.read_value()))
        with tf.control_dependencies([down]):
            mid = w.read_value() * 3
        with tf.control_dependencies([mid]):
            last = w.assign(x + 1.0)
        return [first, up, down, mid, tf.identity(last)]

    check_against_tf(build, {"x": F([1, 2, 3])}, {"w": F([10, 20, 30])})


def test_readonly_and_updated_variables_side_by_side():
    def build(p, v):
        with tf.control_dependencies([v["bias"].read_value()]):
            step = v["acc"].assign_add(v["bias"].read_value() * p["x"])
        return [tf.identity(step)]

    check_against_tf(build, {"x": F([[1, 2], [3, 4]])},
                     {"bias": F([[0.5, 1], [2, 4]]), "acc": F([[1, 1], [1, 1]])},
                     readonly=("bias",))


def test_resource_gather():
    graph = tf.Graph()
    with graph.as_default():
        table = v1.Variable(np.arange(12, dtype=F).reshape(4, 3), name="table")
        ids = v1.placeholder(tf.int32, [2, 2], name="ids")
        out = tf.identity(tf.gather(table, ids), name="out")
        assert "ResourceGather" in {op.type for op in graph.get_operations()}
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            ids_value = np.array([[3, 0], [1, 1]], np.int32)
            expected = sess.run(out, {ids: ids_value})
    config = text_format.Parse(
        'feed { id { node_name: "ids" } shape { dim { size: 2 } dim { size: 2 } } type: DT_INT32 }'
        ' fetch { id { node_name: "out" } }'
        ' variable { node_name: "table" shape { dim { size: 4 } dim { size: 3 } } type: DT_FLOAT'
        ' readonly: true }', aotc_tf2xla_pb2.Config())
    module = _lower(graph.as_graph_def().SerializeToString(), config)
    (got,) = evaluate(module, ids_value, np.arange(12, dtype=F).reshape(4, 3))
    np.testing.assert_array_equal(got, expected)


def test_reference_variables():
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [2], name="x")
        ref = v1.Variable(F([1, 2]), name="ref", use_resource=False)
        # An op consuming the ref reads it (not Identity: TF forwards the ref's buffer,
        # so a fetched Identity shows the variable's final value).
        before = tf.add(ref, 0.0, name="before")
        with tf.control_dependencies([before]):
            added = v1.assign_add(ref, x)
        with tf.control_dependencies([added]):
            doubled = v1.assign(ref, ref * 2.0)
        after = tf.identity(doubled, name="after")
        assert {"VariableV2", "AssignAdd", "Assign"} <= {op.type for op in graph.get_operations()}
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            expected = sess.run([before, after], {x: F([10, 20])})
            final = sess.run(ref)
    config = _config([("x", (2,))], ["before", "after"], [("ref", (2,), False)])
    module = _lower(graph.as_graph_def().SerializeToString(), config)
    got = evaluate(module, F([10, 20]), F([1, 2]))
    for g, e in zip(got, [*expected, final]):
        np.testing.assert_array_equal(np.asarray(g), e)


# ---------------------------------------------------------------------------------------
# Errors name the node and the variable

_FLOAT = 'attr { key: "dtype" value { type: DT_FLOAT } }'
_SCALAR = 'attr { key: "shape" value { shape { } } }'


def _graph_text(*nodes: str) -> bytes:
    return text_format.Parse("\n".join(nodes), aotc_graph_pb2.GraphDef()).SerializeToString()


def _variable_config(fetch: str, readonly: bool) -> aotc_tf2xla_pb2.Config:
    return _config([], [fetch], [("v", (), readonly)])


def test_assigning_a_readonly_variable_is_an_error():
    graph = _graph_text(
        f'node {{ name: "v" op: "VarHandleOp" {_FLOAT} {_SCALAR} }}',
        'node { name: "one" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } } '
        'attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { } float_val: 1 } } } }',
        f'node {{ name: "bump" op: "AssignAddVariableOp" input: "v" input: "one" {_FLOAT} }}',
        f'node {{ name: "out" op: "ReadVariableOp" input: "v" input: "^bump" {_FLOAT} }}')
    with pytest.raises(FrontendError, match=r"node 'bump' \(AssignAddVariableOp\): assigns to "
                                            r"variable 'v', which the Config marks readonly"):
        _lower(graph, _variable_config("out", readonly=True))
    _lower(graph, _variable_config("out", readonly=False))  # fine when not readonly


def test_assigning_a_wrong_shape_is_an_error():
    graph = _graph_text(
        f'node {{ name: "v" op: "VarHandleOp" {_FLOAT} {_SCALAR} }}',
        'node { name: "two" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } } '
        'attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 2 } } '
        'float_val: 1 } } } }',
        f'node {{ name: "set" op: "AssignVariableOp" input: "v" input: "two" {_FLOAT} }}',
        f'node {{ name: "out" op: "ReadVariableOp" input: "v" input: "^set" {_FLOAT} }}')
    with pytest.raises(FrontendError, match=r"node 'set' \(AssignVariableOp\): assigns f32\[2\] "
                                            r"to variable 'v' of f32\[\]"):
        _lower(graph, _variable_config("out", readonly=False))


def test_fetching_or_computing_on_a_resource_handle_is_an_error():
    handle = f'node {{ name: "v" op: "VarHandleOp" {_FLOAT} {_SCALAR} }}'
    with pytest.raises(FrontendError, match="fetch 'v:0' is the resource handle of variable 'v'"):
        _lower(_graph_text(handle), _variable_config("v", readonly=True))
    graph = _graph_text(handle, 'node { name: "neg" op: "Neg" input: "v" '
                                'attr { key: "T" value { type: DT_FLOAT } } }')
    with pytest.raises(FrontendError, match=r"node 'neg' \(Neg\) takes resource variable 'v'"):
        _lower(graph, _variable_config("neg", readonly=True))


# -- scatters, slice assignments and shapes of resource variables ------------------------------

raw = tf.raw_ops
_IDS = [np.int32([0, 2, 0]), np.int64([[1], [1]]), np.int32(3)]
_UPDATES_FOR_IDS = [(3, 2), (2, 1, 2), (2,)]
_SCATTER_OPS = ["ResourceScatterAdd", "ResourceScatterSub", "ResourceScatterMul",
                "ResourceScatterDiv", "ResourceScatterMax", "ResourceScatterMin",
                "ResourceScatterUpdate"]


def _after(update, variable):
    """The variable's value read after `update` ran."""
    with tf.control_dependencies([update]):
        return tf.identity(variable.read_value())


@pytest.mark.parametrize("config", range(3))
@pytest.mark.parametrize("op", _SCATTER_OPS)
def test_resource_scatter(op, config):
    # Duplicate ids (config 0), a rank-2 id tensor (1) and a scalar id (2); the updates are
    # positive so that Div is defined.
    ids = _IDS[config]

    def build(p, v):
        return [_after(getattr(raw, op)(resource=v["w"].handle, indices=tf.constant(ids),
                                        updates=p["u"]), v["w"])]

    rng = np.random.default_rng(config)
    check_against_tf(build, {"u": F(rng.uniform(0.5, 2, _UPDATES_FOR_IDS[config]))},
                     {"w": F(rng.uniform(-2, 2, (4, 2)))})


@pytest.mark.parametrize("op, ids, updates", [
    ("ResourceScatterNdAdd", [[0, 1], [2, 0], [0, 1]], (3,)),
    ("ResourceScatterNdAdd", [[3], [1]], (2, 2)),
    ("ResourceScatterNdAdd", [[[1, 1]]], (1, 1)),
    ("ResourceScatterNdSub", [[0, 1], [2, 0]], (2,)),
    ("ResourceScatterNdSub", [[3], [3]], (2, 2)),
    ("ResourceScatterNdSub", [[[0, 0], [1, 1]]], (1, 2)),
    ("ResourceScatterNdUpdate", [[0, 1], [2, 0]], (2,)),
    ("ResourceScatterNdUpdate", [[1]], (1, 2)),
    ("ResourceScatterNdUpdate", [[[3, 1]], [[0, 0]]], (2, 1)),
])
def test_resource_scatter_nd(op, ids, updates):
    def build(p, v):
        return [_after(getattr(raw, op)(ref=v["w"].handle, indices=tf.constant(ids),
                                        updates=p["u"]), v["w"])]

    rng = np.random.default_rng(len(ids))
    check_against_tf(build, {"u": F(rng.uniform(-1, 1, updates))},
                     {"w": F(rng.uniform(-2, 2, (4, 2)))})


@pytest.mark.parametrize("spec, value", [
    (lambda w: w[1:3], (2, 3)),
    (lambda w: w[::-2, 1], (2,)),
    (lambda w: w[..., tf.newaxis, 0:1], (4, 1, 1)),
    (lambda w: w[2], ()),  # a scalar value broadcasts over the slice
])
def test_resource_strided_slice_assign(spec, value):
    def build(p, v):
        return [_after(spec(v["w"]).assign(tf.broadcast_to(p["x"], spec(v["w"]).shape)
                                           if value == () else p["x"]), v["w"])]

    rng = np.random.default_rng(len(value))
    check_against_tf(build, {"x": F(rng.uniform(-1, 1, value))},
                     {"w": F(rng.uniform(-2, 2, (4, 3)))})


def test_variable_shape():
    def build(p, v):
        shape = raw.VariableShape(input=v["w"].handle)
        shape64 = raw.VariableShape(input=v["w"].handle, out_type=tf.int64)
        return [p["x"] * tf.cast(shape[0] * 10 + shape[1], tf.float32),
                p["x"] + tf.cast(shape64[1], tf.float32),
                tf.reshape(p["x"], raw.VariableShape(input=v["w"].handle))]

    check_against_tf(build, {"x": F([[1, 2, 3], [4, 5, 6]])},
                     {"w": F(np.zeros((2, 3)))}, readonly=("w",))
