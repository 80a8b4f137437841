"""Op contracts and impossible values: each is one clear error naming the node, exit 1.

Graphs are built from aotc's protos and compiled in-process through `main(argv)`
(tests/robustness.py), so each case costs milliseconds.
"""

from __future__ import annotations

import pytest

from aotc.frontend.contracts import signature
from robustness import DT, compile_protos, config, const, new_graph, node, placeholder


def _error(tmp_path, graph, cfg) -> str:
    outcome = compile_protos(tmp_path, graph, cfg)
    outcome.check_clean()
    assert outcome.status == 1, outcome.stderr
    return outcome.stderr


def _int64(graph, name, values, shape=None):
    return const(graph, name, values, DT.DT_INT64, shape=shape)


# ---------------------------------------------------------------------------------------
# Op contracts


def test_every_problem_is_reported_at_once(tmp_path):
    g = new_graph()
    placeholder(g, "a", [2, 2])
    node(g, "b", "Relu", ["a", "a"])
    node(g, "m", "MatMul", ["a", "a"], transpose_a="yes")
    node(g, "s", "Softmax", ["a"], T=DT.DT_INT32)
    stderr = _error(tmp_path, g, config([("a", [2, 2])], ["b", "m", "s"]))
    assert "3 nodes do not match their op's signature" in stderr
    assert "node 'b' (Relu) takes 1 input, got 2" in stderr
    assert "attr 'transpose_a' of node 'm' (MatMul) must be a bool, got a string" in stderr
    assert ("attr 'T' of node 's' (Softmax) must be one of half, bfloat16, float, double, "
            "got int32") in stderr


def test_input_dtype_must_match_the_type_attr(tmp_path):
    g = new_graph()
    placeholder(g, "a", [2])
    placeholder(g, "i", [2], DT.DT_INT32)
    node(g, "add", "AddV2", ["a", "i"])
    stderr = _error(tmp_path, g, config([("a", [2]), ("i", [2])], ["add"]))
    assert "node 'add' (AddV2): input 1 ('y') must be float (attr 'T' says float), got int32" \
        in stderr


def test_variadic_input_counts_come_from_the_count_attr(tmp_path):
    g = new_graph()
    placeholder(g, "a", [2])
    const(g, "axis", [0], shape=[])
    node(g, "c", "ConcatV2", ["a", "a", "a", "axis"], N=2, types={"Tidx": DT.DT_INT32})
    stderr = _error(tmp_path, g, config([("a", [2])], ["c"]))
    assert "node 'c' (ConcatV2) takes 3 inputs (2 for 'values'), got 4" in stderr


def test_missing_attr_without_default(tmp_path):
    g = new_graph()
    placeholder(g, "a", [2])
    node(g, "c", "Cast", ["a"], T=None, types={"SrcT": DT.DT_FLOAT})
    stderr = _error(tmp_path, g, config([("a", [2])], ["c"]))
    assert "node 'c' (Cast) has no attr 'DstT' (a type)" in stderr


def test_huge_count_attr_is_an_error_not_a_huge_list(tmp_path):
    g = new_graph()
    placeholder(g, "a", [2])
    node(g, "n", "AddN", ["a", "a"], N=2**40)
    stderr = _error(tmp_path, g, config([("a", [2])], ["n"]))
    assert "attr 'N' of node 'n' (AddN) is 1099511627776, more tensors than aotc supports" \
        in stderr


def test_function_bodies_are_checked_too(tmp_path):
    g = new_graph()
    placeholder(g, "x", [2])
    call = node(g, "call", "PartitionedCall", ["x"], T=None)
    call.attr["f"].func.name = "body"
    call.attr["Tin"].list.type.append(DT.DT_FLOAT)
    call.attr["Tout"].list.type.append(DT.DT_FLOAT)
    fn = g.library.function.add()
    fn.signature.name = "body"
    fn.signature.input_arg.add(name="a", type=DT.DT_FLOAT)
    fn.signature.output_arg.add(name="out", type=DT.DT_FLOAT)
    inner = fn.node_def.add(name="r", op="Relu", input=["a", "a"])
    inner.attr["T"].type = DT.DT_FLOAT
    fn.ret["out"] = "r:activations:0"
    stderr = _error(tmp_path, g, config([("x", [2])], ["call"]))
    assert "node 'r' (Relu) takes 1 input, got 2 (in function 'body')" in stderr


def test_shape_error_in_shape_inference_names_the_node(tmp_path):
    # Unknown dims in the graph; the Config's shapes make the product impossible.
    g = new_graph()
    placeholder(g, "a", [-1, -1])
    placeholder(g, "b", [-1, -1])
    node(g, "m", "MatMul", ["a", "b"])
    stderr = _error(tmp_path, g, config([("a", [2, 4]), ("b", [3, 2])], ["m"]))
    assert "aotc: error: node 'm' (MatMul): dot contracting dims differ: f32[2,4] . f32[3,2]" \
        in stderr


def test_const_dtype_must_match_its_tensor(tmp_path):
    g = new_graph()
    placeholder(g, "a", [2])
    c = const(g, "c", [1, 2])
    c.attr["dtype"].type = DT.DT_FLOAT
    node(g, "s", "AddV2", ["a", "c"])
    stderr = _error(tmp_path, g, config([("a", [2])], ["s"]))
    assert "node 'c' (Const): attr 'dtype' is float32 but its value tensor is int32" in stderr


def test_scalar_inputs_must_be_scalars(tmp_path):
    g = new_graph()
    placeholder(g, "a", [4])
    const(g, "axis", [0, 0])
    node(g, "s", "Split", ["axis", "a"], num_split=2)
    stderr = _error(tmp_path, g, config([("a", [4])], ["s"]))
    assert "node 's' (Split): split_dim input must be a scalar, got 2 values" in stderr


def test_fetching_a_tensor_list_of_unknown_element_shape_is_an_error(tmp_path):
    # With a known element shape a list is an array of [count, *shape], fetched as such.
    g = new_graph()
    placeholder(g, "a", [1])
    const(g, "shape", [-1], shape=[])
    const(g, "count", [3], shape=[])
    node(g, "l", "TensorListReserve", ["shape", "count"], T=None,
         types={"element_dtype": DT.DT_FLOAT, "shape_type": DT.DT_INT32})
    stderr = _error(tmp_path, g, config([("a", [1])], ["l"]))
    assert "fetch 'l:0': node 'l' outputs a" in stderr and "not a tensor" in stderr


def test_signature_table_covers_the_inference_ops():
    # Generated from TensorFlow's OpDefs (tools/gen_op_signatures.py); spot-check a few.
    assert signature("MatMul")["attrs"][0] == {"default": False, "name": "transpose_a",
                                               "type": "bool"}
    assert {"name": "values", "number_attr": "N", "type_attr": "T"} in \
        signature("ConcatV2")["inputs"]
    assert signature("Conv2D") and signature("ResizeBilinear") and signature("While")


# ---------------------------------------------------------------------------------------
# Limits and impossible values


@pytest.mark.parametrize("shape", [[2**62, 2**62], [2**61, 4]])
def test_feed_whose_byte_size_overflows_int64(tmp_path, shape):
    g = new_graph()
    placeholder(g, "a", [-1, -1])
    node(g, "r", "Relu", ["a"])
    stderr = _error(tmp_path, g, config([("a", shape)], ["r"]))
    assert "feed 'a:0' has shape" in stderr and "more than a buffer can hold" in stderr


@pytest.mark.parametrize("op", ["MaxPool", "AvgPool"])
def test_pooling_window_larger_than_a_valid_input(tmp_path, op):
    g = new_graph()
    placeholder(g, "a", [1, 2, 2, 1])
    node(g, "p", op, ["a"], ksize=[1, 3, 3, 1], strides=[1, 1, 1, 1], padding="VALID")
    stderr = _error(tmp_path, g, config([("a", [1, 2, 2, 1])], ["p"]))
    assert f"node 'p' ({op}): window size 3 is larger than the input's size 2" in stderr


def test_conv_kernel_larger_than_a_valid_input(tmp_path):
    g = new_graph()
    placeholder(g, "a", [1, 2, 2, 1])
    const(g, "k", [1.0] * 9, DT.DT_FLOAT, shape=[3, 3, 1, 1])
    node(g, "c", "Conv2D", ["a", "k"], strides=[1, 1, 1, 1], padding="VALID")
    stderr = _error(tmp_path, g, config([("a", [1, 2, 2, 1])], ["c"]))
    assert "node 'c' (Conv2D): window size 3 is larger than the input's size 2" in stderr


def _range_graph(start, limit, delta):
    g = new_graph()
    placeholder(g, "a", [1])
    for name, value in (("s", start), ("l", limit), ("d", delta)):
        const(g, name, [value], shape=[])
    node(g, "r", "Range", ["s", "l", "d"], T=None, types={"Tidx": DT.DT_INT32})
    return g


@pytest.mark.parametrize("start, limit, delta, message", [
    (0, 5, 0, "delta must not be 0"),
    (5, 0, 1, "requires start <= limit when delta is 1, got start 5 and limit 0"),
    (0, 2**31 - 1, 1, "its output would have 2147483647 elements"),
])
def test_range_impossible_values(tmp_path, start, limit, delta, message):
    stderr = _error(tmp_path, _range_graph(start, limit, delta), config([("a", [1])], ["r"]))
    assert f"node 'r' (Range): {message}" in stderr


@pytest.mark.parametrize("dims, message", [
    ([2, -3], "dims [2, -3] must not be negative"),
    ([2**40, 2**40], "shape f32[1099511627776, 1099511627776] has more than 9223372036854775807 bytes"),
])
def test_fill_impossible_dims(tmp_path, dims, message):
    g = new_graph()
    placeholder(g, "a", [])
    _int64(g, "dims", dims)
    node(g, "f", "Fill", ["dims", "a"], types={"index_type": DT.DT_INT64})
    stderr = _error(tmp_path, g, config([("a", [])], ["f"]))
    assert f"node 'f' (Fill): {message}" in stderr


def test_one_hot_negative_depth(tmp_path):
    g = new_graph()
    placeholder(g, "a", [3], DT.DT_INT32)
    const(g, "depth", [-2], shape=[])
    const(g, "on", [1.0], DT.DT_FLOAT, shape=[])
    const(g, "off", [0.0], DT.DT_FLOAT, shape=[])
    node(g, "o", "OneHot", ["a", "depth", "on", "off"], types={"TI": DT.DT_INT32}, axis=-1)
    stderr = _error(tmp_path, g, config([("a", [3])], ["o"]))
    assert "node 'o' (OneHot): depth must be non-negative, got -2" in stderr


@pytest.mark.parametrize("op, extra, values, message", [
    ("Tile", {"types": {"Tmultiples": DT.DT_INT64}}, [2**62],
     "shape f32[4611686018427387904, 3] has more than"),
    ("Reshape", {"types": {"Tshape": DT.DT_INT64}}, [2**40, 2**40], "cannot reshape"),
])
def test_huge_sizes(tmp_path, op, extra, values, message):
    g = new_graph()
    placeholder(g, "a", [3])
    _int64(g, "v", values)
    node(g, "n", op, ["a", "v"], **extra)
    stderr = _error(tmp_path, g, config([("a", [3])], ["n"]))
    assert f"node 'n' ({op}): {message}" in stderr


def test_splatted_constant_too_big_to_materialize(tmp_path):
    g = new_graph()
    placeholder(g, "a", [1])
    const(g, "c", [1.0], DT.DT_FLOAT, shape=[100000, 100000])
    node(g, "r", "Relu", ["c"])
    stderr = _error(tmp_path, g, config([("a", [1])], ["r"]))
    assert "attr 'value' of node 'c' (Const): shape [100000, 100000] holds 10000000000 " \
           "elements" in stderr


def test_strided_slice_spec_lengths_must_agree(tmp_path):
    g = new_graph()
    placeholder(g, "a", [4, 4])
    const(g, "begin", [0, 0])
    const(g, "end", [2, 2])
    const(g, "strides", [1])
    node(g, "s", "StridedSlice", ["a", "begin", "end", "strides"], types={"Index": DT.DT_INT32})
    stderr = _error(tmp_path, g, config([("a", [4, 4])], ["s"]))
    assert "node 's' (StridedSlice): begin, end and strides must have the same length, got " \
           "[0, 0], [2, 2] and [1]" in stderr
