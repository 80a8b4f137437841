"""Tests of the graph side of the frontend: proto schemas, loading, attrs/tensors, pruning.

Graphs are built with TensorFlow at test time and read back through aotc's own schemas;
TensorFlow's generated classes are the reference for the wire and text formats.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.compiler.tf2xla import tf2xla_pb2 as tf_tf2xla_pb2
from tensorflow.core.framework import (
    attr_value_pb2 as tf_attr_value_pb2,
    function_pb2 as tf_function_pb2,
    graph_pb2 as tf_graph_pb2,
    node_def_pb2 as tf_node_def_pb2,
    tensor_pb2 as tf_tensor_pb2,
    tensor_shape_pb2 as tf_tensor_shape_pb2,
    types_pb2 as tf_types_pb2,
)

from aotc.frontend import proto
from aotc.frontend.errors import (
    ConfigError,
    FrontendError,
    GraphError,
    GraphFileError,
    UnsupportedOpsError,
)
from aotc.frontend.graph import (
    attr_value,
    load_config,
    load_graph,
    numpy_dtype,
    parse_config,
    parse_graph,
    tensor_to_numpy,
    to_config,
    to_graph_def,
)
from aotc.frontend.prune import TensorRef, parse_input, prune

# The example from the tfcompile guide: x_y_prod = x_hold [2,3] @ y_hold [3,2].
MATMUL_GRAPH = """
node {
  name: "x_hold"
  op: "Placeholder"
  attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "shape" value { shape { dim { size: 2 } dim { size: 3 } } } }
}
node {
  name: "y_hold"
  op: "Placeholder"
  attr { key: "dtype" value { type: DT_FLOAT } }
  attr { key: "shape" value { shape { dim { size: 3 } dim { size: 2 } } } }
}
node {
  name: "x_y_prod"
  op: "MatMul"
  input: "x_hold"
  input: "y_hold"
  attr { key: "T" value { type: DT_FLOAT } }
  attr { key: "transpose_a" value { b: false } }
  attr { key: "transpose_b" value { b: false } }
}
versions { producer: 1700 }
"""

MATMUL_CONFIG = """
# Each feed is a positional input argument of the generated function.
feed {
  id { node_name: "x_hold" }
  shape { dim { size: 2 } dim { size: 3 } }
  name: "x"
}
feed {
  id { node_name: "y_hold" }
  shape { dim { size: 3 } dim { size: 2 } }
  name: "y"
}
fetch {
  id { node_name: "x_y_prod" }
  name: "x_y_prod"
}
"""


def graph_from_text(text: str):
    return parse_graph(text, text=True, source="test.pbtxt")


def config_from_text(text: str):
    return parse_config(text, text=True, source="test.config.pbtxt")


def from_tf_graph(graph: tf.Graph):
    return parse_graph(graph.as_graph_def().SerializeToString(), text=False)


def write(path, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)
    return str(path)


def placeholder_node(name, dtype="DT_FLOAT", shape="dim { size: 2 }"):
    shape_attr = f'attr {{ key: "shape" value {{ shape {{ {shape} }} }} }}' if shape else ""
    return (
        f'node {{ name: "{name}" op: "Placeholder" '
        f'attr {{ key: "dtype" value {{ type: {dtype} }} }} {shape_attr} }}\n'
    )


def op_node(name, op, *inputs):
    ins = " ".join(f'input: "{i}"' for i in inputs)
    t_attr = 'attr { key: "T" value { type: DT_FLOAT } }'
    return f'node {{ name: "{name}" op: "{op}" {ins} {t_attr} }}\n'


def feed(node, shape="dim { size: 2 }", name="", index=0, extra=""):
    name_field = f'name: "{name}"' if name else ""
    return (
        f'feed {{ id {{ node_name: "{node}" output_index: {index} }} '
        f"shape {{ {shape} }} {name_field} {extra} }}\n"
    )


def fetch(node, name="", index=0):
    name_field = f'name: "{name}"' if name else ""
    return f'fetch {{ id {{ node_name: "{node}" output_index: {index} }} {name_field} }}\n'


def names(subgraph):
    return [n.name for n in subgraph.nodes]


# ---------------------------------------------------------------------------------------
# Schemas: our .proto files must describe TensorFlow's messages field for field.

SCHEMA_PAIRS = [
    (proto.GraphDef, tf_graph_pb2.GraphDef),
    (proto.NodeDef, tf_node_def_pb2.NodeDef),
    (proto.AttrValue, tf_attr_value_pb2.AttrValue),
    (proto.NameAttrList, tf_attr_value_pb2.NameAttrList),
    (proto.TensorProto, tf_tensor_pb2.TensorProto),
    (proto.TensorShapeProto, tf_tensor_shape_pb2.TensorShapeProto),
    (proto.FunctionDefLibrary, tf_function_pb2.FunctionDefLibrary),
    (proto.Config, tf_tf2xla_pb2.Config),
]


def _field_signature(field):
    kind = field.message_type or field.enum_type
    return (
        field.number,
        field.type,
        field.is_repeated,
        kind.name if kind else None,
        field.containing_oneof.name if field.containing_oneof else None,
    )


def _compare_messages(ours, theirs, seen):
    if theirs.full_name in seen:
        return
    seen.add(theirs.full_name)
    assert ours.name == theirs.name
    their_fields = {f.name: f for f in theirs.fields}
    our_fields = {f.name: f for f in ours.fields}
    assert set(our_fields) == set(their_fields), theirs.full_name
    for name, field in their_fields.items():
        mine = our_fields[name]
        assert _field_signature(mine) == _field_signature(field), f"{theirs.full_name}.{name}"
        if field.message_type:
            _compare_messages(mine.message_type, field.message_type, seen)
        if field.enum_type:
            assert {v.name: v.number for v in mine.enum_type.values} == {
                v.name: v.number for v in field.enum_type.values
            }, field.enum_type.full_name


@pytest.mark.parametrize("ours,theirs", SCHEMA_PAIRS, ids=lambda c: getattr(c, "__name__", ""))
def test_schema_matches_tensorflow(ours, theirs):
    _compare_messages(ours.DESCRIPTOR, theirs.DESCRIPTOR, set())


def test_datatype_enum_matches_tensorflow():
    ours = {v.name: v.number for v in proto.DataType.DESCRIPTOR.values}
    theirs = {v.name: v.number for v in tf_types_pb2.DataType.DESCRIPTOR.values}
    assert ours == theirs


def test_package_does_not_collide_with_tensorflow():
    assert proto.GraphDef.DESCRIPTOR.full_name == "aotc.tf.GraphDef"
    assert proto.Config.DESCRIPTOR.full_name == "aotc.tf.Config"


# ---------------------------------------------------------------------------------------
# Loading


def _tf_sample_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, 3], name="x")
        w = tf.constant(np.arange(6, dtype=np.float32).reshape(3, 2), name="w")
        y = tf.matmul(x, w, name="y")
        tf.nn.relu(y, name="out")
    return g


def test_load_binary_and_text(tmp_path):
    g = _tf_sample_graph()
    gd = g.as_graph_def()
    binary = load_graph(write(tmp_path / "g.pb", gd.SerializeToString()))
    text = load_graph(write(tmp_path / "g.pbtxt", text_format.MessageToString(gd)))
    assert [n.name for n in binary.node] == ["x", "w", "y", "out"]
    assert binary == text
    config = load_config(write(tmp_path / "c.pbtxt", MATMUL_CONFIG))
    assert [f.name for f in config.feed] == ["x", "y"]
    config_bin = load_config(write(tmp_path / "c.pb", config.SerializeToString()))
    assert config_bin == config


def test_round_trip_bytes_match_tensorflow():
    gd = _tf_sample_graph().as_graph_def()
    ours = parse_graph(gd.SerializeToString(), text=False)
    assert ours.SerializeToString(deterministic=True) == gd.SerializeToString(
        deterministic=True
    )
    # Text format too: our printer must produce what TensorFlow's parser accepts.
    back = text_format.Parse(text_format.MessageToString(ours), tf_graph_pb2.GraphDef())
    assert back == gd


def test_tf2xla_config_round_trip():
    tf_config = text_format.Parse(MATMUL_CONFIG, tf_tf2xla_pb2.Config())
    ours = to_config(tf_config)
    assert ours.SerializeToString() == tf_config.SerializeToString()
    assert ours.feed[1].shape.dim[0].size == 3


def test_to_graph_def_accepts_messages_and_paths(tmp_path):
    gd = _tf_sample_graph().as_graph_def()
    from_message = to_graph_def(gd)
    from_path = to_graph_def(write(tmp_path / "g.pb", gd.SerializeToString()))
    assert from_message == from_path
    assert to_graph_def(from_message) is from_message
    with pytest.raises(FrontendError, match="expected a GraphDef message, got a Config"):
        to_graph_def(to_config(text_format.Parse(MATMUL_CONFIG, tf_tf2xla_pb2.Config())))
    with pytest.raises(FrontendError, match="got int"):
        to_graph_def(3)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(GraphFileError, match=r"graph file '.*nope\.pb' does not exist"):
        load_graph(tmp_path / "nope.pb")
    with pytest.raises(GraphFileError, match="Config file '.*' is a directory"):
        load_config(tmp_path)


def test_garbage_bytes_as_graph(tmp_path):
    path = write(tmp_path / "junk.pb", b"\xff\xfe\x00garbage\x12")
    with pytest.raises(GraphFileError) as e:
        load_graph(path)
    message = str(e.value)
    assert "junk.pb" in message and "not a valid binary GraphDef" in message
    assert "aotc.tf" not in message


def test_text_graph_without_pbtxt_name(tmp_path):
    with pytest.raises(GraphFileError, match=r"binary.*looks like text format.*\*\.pbtxt"):
        load_graph(write(tmp_path / "graph.txt", MATMUL_GRAPH))


def test_config_passed_as_graph(tmp_path):
    config = config_from_text(MATMUL_CONFIG)
    hint = r"looks like a tf2xla Config: the graph comes first"
    with pytest.raises(GraphFileError, match=r"config\.pb'.*GraphDef.*" + hint):
        load_graph(write(tmp_path / "config.pb", config.SerializeToString()))
    with pytest.raises(GraphFileError, match=r"config\.pbtxt'.*GraphDef: \d+:\d+.*feed.*" + hint):
        load_graph(write(tmp_path / "config.pbtxt", MATMUL_CONFIG))


def test_graph_passed_as_config(tmp_path):
    gd = _tf_sample_graph().as_graph_def()
    hint = "looks like a GraphDef: the graph comes first"
    with pytest.raises(GraphFileError, match=r"graph\.pb'.*tf2xla Config.*" + hint):
        load_config(write(tmp_path / "graph.pb", gd.SerializeToString()))
    with pytest.raises(GraphFileError, match=r"text-format tf2xla Config: \d+:\d+.*" + hint):
        load_config(write(tmp_path / "graph.pbtxt", MATMUL_GRAPH))


def test_empty_graph(tmp_path):
    with pytest.raises(GraphFileError, match="no nodes") as e:
        load_graph(write(tmp_path / "empty.pb", b""))
    assert "looks like" not in str(e.value)


def test_text_parse_error_has_line_and_column(tmp_path):
    path = write(tmp_path / "bad.pbtxt", 'node {\n  name: "a"\n  op: "Const"\n  bogus: 1\n}\n')
    with pytest.raises(GraphFileError) as e:
        load_graph(path)
    message = str(e.value)
    assert "bad.pbtxt" in message and "4:3" in message and "bogus" in message
    assert "aotc.tf" not in message  # users know the type as GraphDef


def test_binary_file_named_pbtxt(tmp_path):
    gd = _tf_sample_graph().as_graph_def()
    path = write(tmp_path / "g.pbtxt", b"\x80\x81" + gd.SerializeToString())
    with pytest.raises(GraphFileError, match="not UTF-8 text.*rename"):
        load_graph(path)


# ---------------------------------------------------------------------------------------
# Tensors and attrs

TENSOR_DTYPES = [
    np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64,
    np.uint8, np.uint16, np.uint32, np.uint64, np.bool_, np.complex64, np.complex128,
]


def _ours(tf_tensor_proto):
    return proto.TensorProto.FromString(tf_tensor_proto.SerializeToString())


def _sample(dtype, shape):
    values = np.arange(np.prod(shape)).reshape(shape) % 7 - 2
    if np.dtype(dtype).kind == "u":
        values = np.abs(values)
    if np.dtype(dtype).kind == "c":
        return (values + 0.5j * values).astype(dtype)
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", TENSOR_DTYPES, ids=lambda d: np.dtype(d).name)
def test_tensor_to_numpy_matches_tensorflow(dtype):
    cases = [
        tf.make_tensor_proto(_sample(dtype, (2, 3))),  # tensor_content
        tf.make_tensor_proto(_sample(dtype, ())),  # a scalar in *_val
        tf.make_tensor_proto(_sample(dtype, (1,))[0], shape=[2, 2]),  # splat
        tf.make_tensor_proto(np.zeros((0, 3), dtype)),  # empty
    ]
    for tf_proto in cases:
        expected = tf.make_ndarray(tf_proto)
        got = tensor_to_numpy(_ours(tf_proto))
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "field,dtype,values",
    [
        ("float_val", "DT_FLOAT", [1.5, -2.0]),
        ("int_val", "DT_INT32", [7, 8]),
        ("int_val", "DT_UINT8", [200, 3]),
        ("int64_val", "DT_INT64", [2**40, -1]),
        ("bool_val", "DT_BOOL", ["true", "false"]),
        ("half_val", "DT_HALF", [15360, 16384]),  # 1.0, 2.0
        ("scomplex_val", "DT_COMPLEX64", [1.0, 2.0, 3.0, 4.0]),
        ("uint64_val", "DT_UINT64", [2**64 - 1, 5]),
    ],
)
def test_typed_values_pad_with_last_value(field, dtype, values):
    text = f"dtype: {dtype} tensor_shape {{ dim {{ size: 5 }} }} " + " ".join(
        f"{field}: {v}" for v in values
    )
    ours = text_format.Parse(text, proto.TensorProto())
    theirs = text_format.Parse(text, tf_tensor_pb2.TensorProto())
    got = tensor_to_numpy(ours)
    np.testing.assert_array_equal(got, tf.make_ndarray(theirs))
    assert got.dtype == tf.make_ndarray(theirs).dtype


def test_tensor_errors():
    too_many = text_format.Parse(
        "dtype: DT_FLOAT tensor_shape { dim { size: 1 } } float_val: 1 float_val: 2",
        proto.TensorProto(),
    )
    with pytest.raises(FrontendError, match="value of w: holds 2 values.*only 1"):
        tensor_to_numpy(too_many, "value of w")
    bad_content = text_format.Parse(
        r'dtype: DT_INT32 tensor_shape { dim { size: 2 } } tensor_content: "\001\000"',
        proto.TensorProto(),
    )
    with pytest.raises(FrontendError, match="tensor_content has 2 bytes, expected 8"):
        tensor_to_numpy(bad_content)
    strings = _ours(tf.make_tensor_proto([b"a", b"b"]))
    with pytest.raises(FrontendError, match="DT_STRING is not supported"):
        tensor_to_numpy(strings)
    bf16 = _ours(tf.make_tensor_proto(np.ones(2), dtype=tf.bfloat16))
    with pytest.raises(FrontendError, match="DT_BFLOAT16.*bfloat16"):
        tensor_to_numpy(bf16)


def test_numpy_dtype_maps_ref_types():
    assert numpy_dtype(proto.DataType.Value("DT_FLOAT_REF")) == np.float32
    with pytest.raises(FrontendError, match="not set"):
        numpy_dtype(0)


def test_attr_values():
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3], name="x")
        tf.compat.v1.placeholder(tf.int32, None, name="anything")
        tf.compat.v1.placeholder(tf.int32, [None, 4], name="partial")
        k = tf.constant(np.ones((3, 3, 3, 4), np.float32), name="k")
        tf.nn.conv2d(x, k, strides=[1, 2, 2, 1], padding="SAME", name="conv")
        tf.matmul(tf.ones((2, 2)), tf.ones((2, 2)), transpose_b=True, name="mm")
    gd = from_tf_graph(g)
    node = {n.name: n for n in gd.node}
    assert attr_value(node["x"], "dtype") == np.float32
    assert attr_value(node["x"], "shape") == (1, 8, 8, 3)
    assert attr_value(node["anything"], "shape") is None
    assert attr_value(node["partial"], "shape") == (-1, 4)
    assert attr_value(node["conv"], "strides") == [1, 2, 2, 1]
    assert attr_value(node["conv"], "padding") == "SAME"
    assert attr_value(node["conv"], "use_cudnn_on_gpu") is True
    assert attr_value(node["mm"], "transpose_b") is True
    np.testing.assert_array_equal(attr_value(node["k"], "value"), np.ones((3, 3, 3, 4)))
    assert attr_value(node["mm"], "missing", 42) == 42
    with pytest.raises(FrontendError, match=r"node 'mm' \(MatMul\) has no attr 'missing'"):
        attr_value(node["mm"], "missing")


def test_list_attrs():
    node = text_format.Parse(
        'name: "n" op: "Foo" '
        'attr { key: "types" value { list { type: DT_FLOAT type: DT_INT64 } } } '
        'attr { key: "shapes" value { list { shape { dim { size: 2 } } '
        'shape { unknown_rank: true } } } } '
        'attr { key: "floats" value { list { f: 0.5 f: 2 } } } '
        'attr { key: "empty" value { list { } } }',
        proto.NodeDef(),
    )
    assert attr_value(node, "types") == [np.float32, np.int64]
    assert attr_value(node, "shapes") == [(2,), None]
    assert attr_value(node, "floats") == [0.5, 2.0]
    assert attr_value(node, "empty") == []


# ---------------------------------------------------------------------------------------
# Pruning


def test_prune_matmul_example():
    sub = prune(graph_from_text(MATMUL_GRAPH), config_from_text(MATMUL_CONFIG))
    assert names(sub) == ["x_y_prod"]  # fed Placeholders are arguments, not nodes
    assert [(f.name, f.tensor, f.dtype, f.shape) for f in sub.feeds] == [
        ("x", TensorRef("x_hold", 0), np.float32, (2, 3)),
        ("y", TensorRef("y_hold", 0), np.float32, (3, 2)),
    ]
    assert [(f.name, f.tensor) for f in sub.fetches] == [("x_y_prod", TensorRef("x_y_prod"))]
    assert sub.node("x_y_prod").op == "MatMul"
    assert sub.feed_for(TensorRef("x_hold")).name == "x"
    assert sub.feed_for(TensorRef("x_y_prod")) is None
    assert "x_hold" not in sub


def test_parse_input():
    assert parse_input("a") == (TensorRef("a", 0), False)
    assert parse_input("a/b:2") == (TensorRef("a/b", 2), False)
    assert parse_input("^a/b") == (TensorRef("a/b", 0), True)
    assert str(TensorRef("a", 1)) == "a:1"


def _split_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [4, 6], name="x")
        a, b = tf.split(x, 2, axis=1, name="split")
        tf.identity(a, name="first")
        tf.negative(b, name="second")
        tf.compat.v1.placeholder(tf.float32, [3], name="unused")
    return from_tf_graph(g)


def test_prune_with_output_index():
    gd = _split_graph()
    config = config_from_text(feed("x", "dim { size: 4 } dim { size: 6 }") + fetch("second"))
    sub = prune(gd, config)
    # The split's axis constant is needed too; "first" and "unused" are not.
    assert set(names(sub)) == {"split/split_dim", "split", "second"}
    assert names(sub)[-1] == "second"
    config = config_from_text(feed("x", "dim { size: 4 } dim { size: 6 }") + fetch("split", index=1))
    sub = prune(gd, config)
    assert sub.fetches[0].tensor == TensorRef("split", 1)
    assert "second" not in sub


def test_feed_non_placeholder_tensor_cuts_graph():
    gd = _split_graph()
    # Feeding split:1 directly makes x (and the split) unnecessary for "second".
    config = config_from_text(feed("split", "dim { size: 4 } dim { size: 3 }", index=1,
                                   extra="type: DT_FLOAT") + fetch("second"))
    sub = prune(gd, config)
    assert names(sub) == ["second"]
    assert sub.feeds[0].tensor == TensorRef("split", 1)
    # Without a type we cannot know a Split output's dtype: the error says what to add.
    config = config_from_text(feed("split", "dim { size: 4 } dim { size: 3 }", index=1)
                              + fetch("second"))
    with pytest.raises(ConfigError, match=r"feed 'split:1' feeds a Split output.*type: DT_FLOAT"):
        prune(gd, config)


def test_feed_tensor_still_needed_elsewhere():
    gd = _split_graph()
    config = config_from_text(
        feed("x", "dim { size: 4 } dim { size: 6 }")
        + feed("split", "dim { size: 4 } dim { size: 3 }", index=1, extra="type: DT_FLOAT")
        + fetch("first") + fetch("second")
    )
    sub = prune(gd, config)
    # split:0 is still computed for "first"; "second" reads the fed split:1.
    assert set(names(sub)) == {"split/split_dim", "split", "first", "second"}


def test_fetch_of_fed_tensor_needs_nothing():
    config = config_from_text(feed("x_hold", "dim { size: 2 } dim { size: 3 }") + fetch("x_hold"))
    sub = prune(graph_from_text(MATMUL_GRAPH), config)
    assert names(sub) == []


def test_control_edges_are_followed():
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2], name="x")
        check = tf.raw_ops.Assert(condition=tf.reduce_all(x > 0), data=[x], name="check")
        side = tf.square(x, name="side")
        with tf.control_dependencies([check, side, tf.no_op(name="noop")]):
            tf.identity(x, name="out")
        tf.negative(x, name="unrelated")
    gd = from_tf_graph(g)
    sub = prune(gd, config_from_text(feed("x") + fetch("out")))
    got = names(sub)
    assert {"check", "side", "noop", "out"} <= set(got)
    assert "unrelated" not in got
    # Producers come before consumers, control edges included.
    position = {name: i for i, name in enumerate(got)}
    for node in sub.nodes:
        for text in node.input:
            producer = parse_input(text)[0].node_name
            if producer in position:
                assert position[producer] < position[node.name]


def test_control_edge_to_fed_node_is_satisfied():
    text = (
        placeholder_node("x") + placeholder_node("gate")
        + 'node { name: "out" op: "Identity" input: "x" input: "^gate" }\n'
    )
    sub = prune(graph_from_text(text), config_from_text(feed("x") + feed("gate") + fetch("out")))
    assert names(sub) == ["out"]


def test_function_library_is_passed_through():
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2], name="x")
        tf.debugging.assert_positive(x, name="check")  # an If with branch functions
        guard = g.get_operation_by_name("check/assert_less/Assert/AssertGuard")
        with tf.control_dependencies([guard]):
            tf.identity(x, name="out")
    sub = prune(from_tf_graph(g), config_from_text(feed("x") + fetch("out")))
    assert any(n.op == "If" for n in sub.nodes)
    assert len(sub.library.function) >= 2


def test_unknown_feed_and_fetch_suggest_names():
    gd = graph_from_text(MATMUL_GRAPH)
    with pytest.raises(ConfigError, match=r"feed 'x' \(x_hld:0\) names node 'x_hld'.*'x_hold'"):
        prune(gd, config_from_text(feed("x_hld", name="x") + fetch("x_y_prod")))
    expected = r"fetch 'x_y_prd:0' names node 'x_y_prd', which is not in the graph.*'x_y_prod'"
    with pytest.raises(ConfigError, match=expected):
        prune(gd, config_from_text(fetch("x_y_prd")))
    with pytest.raises(ConfigError) as e:
        prune(gd, config_from_text(fetch("zzzzzz")))
    assert "Did you mean" not in str(e.value)


def test_placeholder_output_index_out_of_range():
    gd = graph_from_text(MATMUL_GRAPH)
    config = config_from_text(feed("x_hold", "dim { size: 2 } dim { size: 3 }", index=1)
                              + fetch("x_y_prod"))
    with pytest.raises(ConfigError, match=r"uses output 1 of node 'x_hold' \(Placeholder\).*0\.\.0"):
        prune(gd, config)


def test_unfed_placeholder_names_fetch_and_path():
    gd = graph_from_text(MATMUL_GRAPH)
    config = config_from_text(feed("x_hold", "dim { size: 2 } dim { size: 3 }")
                              + fetch("x_y_prod", name="prod"))
    with pytest.raises(ConfigError) as e:
        prune(gd, config)
    message = str(e.value)
    assert "node 'y_hold' (Placeholder) is needed by fetch 'prod'" in message
    assert "'x_y_prod' <- 'y_hold'" in message
    assert "add it to the Config's feeds" in message


def test_variable_not_in_config():
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2], name="x")
        v = tf.compat.v1.get_variable("v", [2], use_resource=True)
        tf.add(x, v.read_value(), name="out")
    gd = from_tf_graph(g)
    with pytest.raises(ConfigError, match=r"'v' \(VarHandleOp\).*does not list.*variable \{"):
        prune(gd, config_from_text(feed("x") + fetch("out")))
    config = config_from_text(
        feed("x") + fetch("out")
        + 'variable { node_name: "v" name: "weights" type: DT_FLOAT shape { dim { size: 2 } } }'
    )
    sub = prune(gd, config)
    assert "v" in sub
    var = sub.variables[0]
    assert (var.node_name, var.name, var.dtype, var.shape, var.readonly) == (
        "v", "weights", np.float32, (2,), False,
    )


def test_variable_type_and_shape_fall_back_to_node():
    g = tf.Graph()
    with g.as_default():
        v = tf.compat.v1.get_variable("v", [3, 1], use_resource=True)
        tf.identity(v.read_value(), name="out")
    config = config_from_text(fetch("out") + 'variable { node_name: "v" readonly: true }')
    var = prune(from_tf_graph(g), config).variables[0]
    assert (var.name, var.dtype, var.shape, var.readonly) == ("v", np.float32, (3, 1), True)


def test_cycle_is_reported():
    text = (
        placeholder_node("x")
        + op_node("a", "Add", "x", "c") + op_node("b", "Neg", "a") + op_node("c", "Neg", "b")
    )
    with pytest.raises(GraphError, match=r"cycle.*'a' \(Add\) -> 'b' \(Neg\) -> 'c' \(Neg\) -> 'a'"):
        prune(graph_from_text(text), config_from_text(feed("x") + fetch("c")))


def test_v1_control_flow_outside_a_loop_is_an_error():
    # Prune accepts TF1 control flow; functionalizing it (in lower) finds no loop here.
    from aotc.frontend.lower import lower

    text = placeholder_node("x") + 'node { name: "while/Enter" op: "Enter" input: "x" }\n'
    subgraph = prune(graph_from_text(text), config_from_text(feed("x") + fetch("while/Enter")))
    with pytest.raises(GraphError, match=r"'while/Enter' \(Enter\) has no frame_name"):
        lower(subgraph)


def test_no_fetches():
    with pytest.raises(ConfigError, match="no fetches"):
        prune(graph_from_text(MATMUL_GRAPH), config_from_text(""))


def test_dangling_input():
    text = placeholder_node("x") + op_node("y", "Add", "x", "x_missing:1")
    with pytest.raises(GraphError, match=r"node 'y' \(Add\) has input 'x_missing:1'.*no node 'x_missing'"):
        prune(graph_from_text(text), config_from_text(feed("x") + fetch("y")))


def test_duplicate_node_names():
    text = placeholder_node("x") + op_node("x", "Neg", "x")
    with pytest.raises(GraphError, match="two nodes named 'x'"):
        prune(graph_from_text(text), config_from_text(fetch("x")))


@pytest.mark.parametrize("bad", ["2x", "my-input", "int", "class", "a b"])
def test_feed_and_fetch_names_must_be_identifiers(bad):
    gd = graph_from_text(MATMUL_GRAPH)
    shape = "dim { size: 2 } dim { size: 3 }"
    config = config_from_text(
        feed("x_hold", shape, name=bad)
        + feed("y_hold", "dim { size: 3 } dim { size: 2 }")
        + fetch("x_y_prod")
    )
    with pytest.raises(ConfigError, match=f"feed name '{bad}'.*not a valid C/C\\+\\+ identifier"):
        prune(gd, config)
    config = config_from_text(MATMUL_CONFIG.replace('\n  name: "x_y_prod"', f'\n  name: "{bad}"'))
    with pytest.raises(ConfigError, match=f"fetch name '{bad}'"):
        prune(gd, config)


def test_duplicate_names():
    gd = graph_from_text(MATMUL_GRAPH)
    config = config_from_text(MATMUL_CONFIG.replace('name: "y"', 'name: "x"'))
    with pytest.raises(ConfigError, match=r"two feeds are named 'x' \(x_hold:0 and y_hold:0\)"):
        prune(gd, config)
    config = config_from_text(MATMUL_CONFIG + fetch("x_y_prod", name="x_y_prod"))
    with pytest.raises(ConfigError, match="two fetches are named 'x_y_prod'"):
        prune(gd, config)
    config = config_from_text(MATMUL_CONFIG + feed("x_hold", "dim { size: 2 } dim { size: 3 }"))
    with pytest.raises(ConfigError, match="x_hold:0 is fed twice"):
        prune(gd, config)


def test_feed_shape_falls_back_to_placeholder():
    text = placeholder_node("x", shape="dim { size: 4 } dim { size: 5 }") + op_node("y", "Neg", "x")
    config = config_from_text('feed { id { node_name: "x" } type: DT_INVALID }' + fetch("y"))
    info = prune(graph_from_text(text), config).feeds[0]
    assert (info.dtype, info.shape, info.name, info.label) == (np.float32, (4, 5), "", "x:0")


def test_feed_config_type_overrides_placeholder():
    text = placeholder_node("x") + op_node("y", "Neg", "x")
    config = config_from_text(feed("x", extra="type: DT_INT32") + fetch("y"))
    assert prune(graph_from_text(text), config).feeds[0].dtype == np.int32


@pytest.mark.parametrize(
    "placeholder_shape,shown",
    [("dim { size: -1 } dim { size: 3 }", r"\[\?, 3\]"), (None, "<unknown rank>"),
     ("unknown_rank: true", "<unknown rank>")],
)
def test_feed_shape_not_fully_defined(placeholder_shape, shown):
    text = placeholder_node("x", shape=placeholder_shape) + op_node("y", "Neg", "x")
    config = config_from_text('feed { id { node_name: "x" } name: "inp" }' + fetch("y"))
    with pytest.raises(ConfigError) as e:
        prune(graph_from_text(text), config)
    message = str(e.value)
    assert "feed 'inp' (x:0)" in message
    assert "give it a fully defined shape in the Config, e.g. shape { dim { size: 1 }" in message
    assert re.search(shown, message)


def test_feed_shape_contradicts_placeholder():
    text = placeholder_node("x", shape="dim { size: 2 } dim { size: 3 }") + op_node("y", "Neg", "x")
    for shape in ["dim { size: 2 } dim { size: 4 }", "dim { size: 6 }"]:
        config = config_from_text(feed("x", shape) + fetch("y"))
        expected = r"in the Config, but node 'x' \(Placeholder\) declares shape \[2, 3\]"
        with pytest.raises(ConfigError, match=r"shape \[.*\] " + expected):
            prune(graph_from_text(text), config)
    # A Config shape may refine an unknown dimension.
    text = placeholder_node("x", shape="dim { size: -1 } dim { size: 3 }") + op_node("y", "Neg", "x")
    config = config_from_text(feed("x", "dim { size: 7 } dim { size: 3 }") + fetch("y"))
    assert prune(graph_from_text(text), config).feeds[0].shape == (7, 3)


def test_topological_order_independent_of_file_order():
    text = (
        op_node("c", "Neg", "b") + op_node("b", "Neg", "a") + op_node("a", "Neg", "x")
        + placeholder_node("x")
    )
    sub = prune(graph_from_text(text), config_from_text(feed("x") + fetch("c")))
    assert names(sub) == ["a", "b", "c"]


def test_fetch_info_carries_declared_type_and_shape():
    config = config_from_text(
        MATMUL_CONFIG.replace(
            '\n  name: "x_y_prod"',
            '\n  name: "x_y_prod" type: DT_FLOAT shape { dim { size: 2 } dim { size: 2 } }',
        )
    )
    out = prune(graph_from_text(MATMUL_GRAPH), config).fetches[0]
    assert (out.dtype, out.shape, out.label) == (np.float32, (2, 2), "x_y_prod")


# ---------------------------------------------------------------------------------------
# Errors


def test_unsupported_ops_error_lists_every_op():
    nodes = {"Bar": ["b2", "b1"], "Foo": [f"f{i}" for i in range(8)]}
    error = UnsupportedOpsError(nodes, reasons={"Bar": "string tensors"})
    lines = str(error).splitlines()
    assert lines[0] == "the graph uses 2 op types that aotc cannot compile:"
    assert lines[1] == "  Bar (string tensors): 'b1', 'b2'"
    assert lines[2] == "  Foo: 'f0', 'f1', 'f2', 'f3', 'f4' and 3 more"
    assert error.ops["Bar"] == ["b1", "b2"]
    assert isinstance(error, FrontendError)

