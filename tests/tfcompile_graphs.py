"""tfcompile's test graphs (tensorflow/compiler/aot/tests), re-created with TensorFlow.

Each `TestGraph` is what one `tf_library` target of tfcompile's tests/BUILD holds: a graph
built like make_test_graphs.py builds it (TF1-style graph mode: placeholders, variables,
sessions), its tf2xla Config, the C++ class and any extra tfcompile flags. Differences
from the originals, each forced by what aotc supports:

- tfcond and tffunction are built as make_test_graphs.py builds them under TF 1.x:
  `tf.cond` with TF1 control flow (Switch/Merge, `tf_graphs.control_flow_v1`) and a
  `function.Defun` called by a node whose op is the function's name.
- tfvariable_sequential_updates lists `y` in the Config as a readonly variable (its test
  writes through var_y_data() and set_var_y_data()).
- tfscatter, tfrandom_uniform and tfmatmul_with_constant follow their Configs in tfcompile's
  tests directory; the graphs behind them are ours: scatter_nd into [8] twice,
  random_uniform([1000]) with fixed seeds, and a [512,1024] x [1024,8] matmul with a
  constant whose entries follow a formula the C++ test recomputes.

`write(graph, directory)` writes `<name>.pb` and `<name>.config.pbtxt` and returns their
paths; TensorFlow is imported only when a graph is built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@dataclass(frozen=True)
class TestGraph:
    """One of tfcompile's test libraries: graph builder, Config, class, extra flags."""

    name: str  # "tfadd": files test_graph_tfadd.*, base name of the compiled files
    cpp_class: str
    config: str  # tf2xla Config, text format
    build: Callable[[Path], bytes]  # (scratch directory) -> serialized GraphDef
    flags: tuple[str, ...] = field(default=())

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        graph = directory / f"test_graph_{self.name}.pb"
        config = directory / f"test_graph_{self.name}.config.pbtxt"
        graph.write_bytes(self.build(directory))
        config.write_text(self.config)
        return graph, config


# ---------------------------------------------------------------------------------------
# Graph builders (make_test_graphs.py)


def _tf():
    import tensorflow as tf

    return tf


def _graph(body) -> bytes:
    """Run `body(tf)` in a fresh TF1-style graph; return the serialized GraphDef."""
    tf = _tf()
    graph = tf.Graph()
    with graph.as_default():
        body(tf)
    return graph.as_graph_def().SerializeToString()


def tfadd(_):
    def body(tf):
        x = tf.constant([1], name="x_const")
        y = tf.constant([2], name="y_const")
        tf.add(x, y, name="x_y_sum")

    return _graph(body)


def tfadd_with_ckpt(scratch: Path):
    """Save y_saved = 42 to a checkpoint, then freeze the graph from it (tf_library's
    freeze_checkpoint): the variable becomes a constant."""
    tf = _tf()
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.int32, name="x_hold")
        y = v1.Variable(tf.constant([0]), name="y_saved")
        tf.add(x, y, name="x_y_sum")
        saver = v1.train.Saver()
        ckpt = str(scratch / "test_graph_tfadd_with_ckpt.ckpt")
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(y.assign(y + 42))
            saver.save(sess, ckpt)
        with v1.Session(graph=graph) as sess:  # a fresh session: the value comes from disk
            saver.restore(sess, ckpt)
            frozen = v1.graph_util.convert_variables_to_constants(
                sess, graph.as_graph_def(), ["x_y_sum"])
    return frozen.SerializeToString()


def tfassert_eq(_):
    def body(tf):
        v1 = tf.compat.v1
        x = v1.placeholder(tf.int32, name="x_hold")
        y = v1.placeholder(tf.int32, name="y_hold")
        v1.Assert(tf.equal(x, y), ["Expected x == y."], name="assert_eq").mark_used()
        tf.add(x, tf.negative(y), name="x_y_diff")

    return _graph(body)


def tfcond(_):
    def body(tf):
        v1 = tf.compat.v1
        p = v1.placeholder(tf.bool, name="p_hold")
        x = v1.placeholder(tf.int32, name="x_hold")
        y = v1.placeholder(tf.int32, name="y_hold")
        z = tf.cond(p, lambda: x, lambda: y)  # TF1 control flow: Switch and Merge
        tf.identity(z, name="result")

    from tf_graphs import control_flow_v1

    with control_flow_v1():
        return _graph(body)


def tfgather(_):
    def body(tf):
        v1 = tf.compat.v1
        params = v1.placeholder(tf.float32, name="params")
        indices = v1.placeholder(tf.int32, name="indices")
        tf.gather(params, indices, name="gather_output")

    return _graph(body)


def tfmatmul(_):
    def body(tf):
        v1 = tf.compat.v1
        x = v1.placeholder(tf.float32, name="x_hold")
        y = v1.placeholder(tf.float32, name="y_hold")
        tf.matmul(x, y, name="x_y_prod")

    return _graph(body)


def tfmatmulandadd(_):
    def body(tf):  # multiple outputs
        v1 = tf.compat.v1
        x = v1.placeholder(tf.float32, name="x_hold")
        y = v1.placeholder(tf.float32, name="y_hold")
        tf.matmul(x, y, name="x_y_prod")
        tf.add(x, y, name="x_y_sum")

    return _graph(body)


def tffunction(_):
    def body(tf):
        from tensorflow.python.framework import function

        @function.Defun(tf.int32, tf.int32)
        def test_func(a, b):
            return a + b

        x = tf.constant([1], name="x_const")
        y = tf.constant([2], name="y_const")
        test_func(x, y, name="func_call")  # a node whose op is the function's name

    return _graph(body)


def tfsplits(_):
    def body(tf):  # a more complex graph, including splits
        v1 = tf.compat.v1
        x = v1.placeholder(tf.float32, shape=[2, 2], name="x")
        y = v1.placeholder(tf.float32, shape=[2, 2], name="y")
        for _ in range(3):
            x0, x1 = tf.split(x, 2, 0)
            y0, y1 = tf.split(y, 2, 0)
            x0 += 1
            y0 += 1
            z = tf.matmul(x, y, name="x_y_prod")
            a = tf.concat([x0, y1], axis=0, name="concat_x0_y1")
            b = tf.concat([y0, x1], axis=0, name="concat_y0_x1")
            x = tf.matmul(a, b, name="a_b")
            y = tf.add(x, z)
        tf.identity(y, name="result")

    return _graph(body)


def tftop_k(_):
    def body(tf):
        x = tf.compat.v1.placeholder(tf.int32, shape=[5], name="x")
        output = tf.math.top_k(x, 2, name="values")
        tf.identity(output[1], name="indices")

    return _graph(body)


def tfvariable_readonly(_):
    def body(tf):
        v1 = tf.compat.v1
        x = v1.Variable(1000.0, name="x")
        v1.Variable(1000.0, name="y")  # unused
        old_x = x.value()
        with tf.control_dependencies([old_x]):
            new_value = tf.add(old_x, 42.0)
        tf.identity(new_value, name="result")

    return _graph(body)


def tfvariable(_):
    def body(tf):
        x = tf.compat.v1.Variable([1000.0], name="x", shape=[1])
        old_x = x.value()
        with tf.control_dependencies([old_x]):
            new_x = x.assign_add([42.0])
        tf.stack([old_x, new_x], name="result")

    return _graph(body)


def tfvariable_sequential_updates(_):
    def body(tf):
        v1 = tf.compat.v1
        x = v1.Variable(1.0, name="x")
        y = v1.Variable(1.0, name="y")
        updates = tf.no_op()
        for _ in range(3):
            with tf.control_dependencies([updates]):
                x_val = x.read_value() + y
                updates = x.assign_sub(0.1 * x_val)
        tf.identity(updates, name="result")

    return _graph(body)


def tfscatter(_):
    def body(tf):
        v1 = tf.compat.v1
        for i in range(2):
            indices = v1.placeholder(tf.int32, [4, 1], name=f"indices_{i}")
            updates = v1.placeholder(tf.float32, [4], name=f"updates_{i}")
            tf.scatter_nd(indices, updates, [8], name=f"result_{i}")

    return _graph(body)


def tfrandom_uniform(_):
    def body(tf):
        x = tf.random.uniform([1000], seed=27, name="random")
        tf.identity(x, name="result")

    return _graph(body)


def matmul_constant() -> np.ndarray:
    """The [1024, 8] constant of tfmatmul_with_constant: ((3i + 5j) % 17 - 8) / 16,
    exact in float32; tests/tfcompile_cc/matmul_with_constant.cc uses the same formula."""
    i, j = np.meshgrid(np.arange(1024), np.arange(8), indexing="ij")
    return (((3 * i + 5 * j) % 17 - 8) / 16).astype(np.float32)


def tfmatmul_with_constant(_):
    def body(tf):
        x = tf.compat.v1.placeholder(tf.float32, name="x_hold")
        y = tf.constant(matmul_constant(), name="y_const")
        tf.matmul(x, y, name="x_constant_y_prod")

    return _graph(body)


# ---------------------------------------------------------------------------------------
# Configs (tfcompile's tests/test_graph_*.config.pbtxt)


def _dims(*sizes: int) -> str:
    return "shape { " + " ".join(f"dim {{ size: {s} }}" for s in sizes) + " }"


def _feed(node: str, *sizes: int, name: str = "") -> str:
    named = f' name: "{name}"' if name else ""
    return f'feed {{ id {{ node_name: "{node}" }} {_dims(*sizes)}{named} }}\n'


def _fetch(node: str, name: str = "") -> str:
    named = f' name: "{name}"' if name else ""
    return f'fetch {{ id {{ node_name: "{node}" }}{named} }}\n'


def _variable(node: str, *sizes: int, readonly: bool = False) -> str:
    flag = " readonly: true" if readonly else ""
    return f'variable {{ node_name: "{node}" {_dims(*sizes)} type: DT_FLOAT{flag} }}\n'


GRAPHS = {
    g.name: g
    for g in [
        TestGraph("tfadd", "AddComp", _feed("x_const", 1) + _feed("y_const", 1)
                  + _fetch("x_y_sum"), tfadd),
        TestGraph("tfadd_with_ckpt", "AddWithCkptComp", _feed("x_hold", 1) + _fetch("x_y_sum"),
                  tfadd_with_ckpt),
        TestGraph("tfassert_eq", "AssertComp", _feed("x_hold", 1) + _feed("y_hold", 1)
                  + _fetch("x_y_diff"), tfassert_eq),
        TestGraph("tfcond", "CondComp", _feed("p_hold") + _feed("x_hold", 1) + _feed("y_hold", 1)
                  + _fetch("result"), tfcond),
        TestGraph("tffunction", "FunctionComp", _feed("x_const", 1) + _feed("y_const", 1)
                  + _fetch("func_call"), tffunction),
        TestGraph("tfgather", "GatherComp", _feed("params", 4) + _feed("indices", 2)
                  + _fetch("gather_output"), tfgather),
        TestGraph("tfmatmul", "foo::bar::MatMulComp", _feed("x_hold", 2, 3) + _feed("y_hold", 3, 2)
                  + _fetch("x_y_prod"), tfmatmul),
        TestGraph("tfmatmulandadd", "foo::bar::MatMulAndAddComp",
                  _feed("x_hold", 2, 2, name="x") + _feed("y_hold", 2, 2, name="y")
                  + _fetch("x_y_prod", "x_y_prod") + _fetch("x_y_sum", "x_y_sum"),
                  tfmatmulandadd, ("--gen_name_to_index", "--gen_program_shape")),
        TestGraph("tfsplits", "SplitsComp", _feed("x", 2, 2) + _feed("y", 2, 2) + _fetch("result"),
                  tfsplits),
        TestGraph("tftop_k", "TopKComp", _feed("x", 5) + _fetch("values") + _fetch("indices"),
                  tftop_k),
        TestGraph("tfvariable", "VariableComp", _fetch("result") + _variable("x", 1), tfvariable),
        TestGraph("tfvariable_readonly", "VariableReadonlyComp",
                  _fetch("result") + _variable("x", readonly=True), tfvariable_readonly),
        TestGraph("tfvariable_sequential_updates", "VariableSequentialUpdatesComp",
                  _fetch("result") + _variable("x") + _variable("y", readonly=True),
                  tfvariable_sequential_updates),
        TestGraph("tfscatter", "ScatterComp",
                  _feed("indices_0", 4, 1) + _feed("updates_0", 4) + _feed("indices_1", 4, 1)
                  + _feed("updates_1", 4) + _fetch("result_0") + _fetch("result_1"), tfscatter),
        TestGraph("tfrandom_uniform", "RandomUniformComp", _fetch("result"), tfrandom_uniform),
        TestGraph("tfmatmul_with_constant", "MatMulWithConstantComp",
                  _feed("x_hold", 512, 1024) + _fetch("x_constant_y_prod"),
                  tfmatmul_with_constant),
    ]
}
