"""SavedModels for the SavedModel tests, written once per session with TensorFlow.

Each entry of `make_saved_models(root)` is a `SavedModelCase`: the directory, and for each
signature the inputs it is tested with and the outputs TensorFlow computed for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class SavedModelCase:
    """A saved model and, per signature key, {input key: array} and {output key: array}."""

    path: Path
    inputs: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    outputs: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def make_saved_models(root: Path) -> dict[str, SavedModelCase]:
    """Write the test SavedModels under `root`: a Keras MLP (tf.saved_model.save), a
    Keras model with batch normalization (model.export), a tf.Module with two signatures and
    dict outputs (one assigns a variable), a TF1 SavedModel with a reference and a resource
    variable, and a TF1 SavedModel with partitioned variables."""
    import tensorflow as tf

    rng = np.random.default_rng(7)
    cases = {}

    tf.keras.utils.set_random_seed(3)
    keras = tf.keras.Sequential([tf.keras.Input((6,), batch_size=3),
                                 tf.keras.layers.Dense(8, activation="relu"),
                                 tf.keras.layers.Dense(4, activation="softmax")])
    x = rng.standard_normal((3, 6)).astype(np.float32)
    case = SavedModelCase(root / "keras_mlp")
    tf.saved_model.save(keras, str(case.path))
    case.inputs["serving_default"] = {"inputs": x}
    case.outputs["serving_default"] = {"output_0": keras(x).numpy()}
    cases["keras"] = case

    # model.export, with a fixed batch (its default signature's batch is unknown).
    exported = tf.keras.Sequential([tf.keras.Input((5,)), tf.keras.layers.Dense(6),
                                    tf.keras.layers.BatchNormalization(),
                                    tf.keras.layers.Activation("gelu")])
    exported.layers[1].moving_mean.assign(rng.standard_normal(6).astype(np.float32))
    exported.layers[1].moving_variance.assign(rng.uniform(0.5, 2, 6).astype(np.float32))
    x = rng.standard_normal((2, 5)).astype(np.float32)
    case = SavedModelCase(root / "keras_export")
    exported.export(str(case.path), input_signature=[tf.TensorSpec([2, 5], tf.float32)])
    case.inputs["serving_default"] = {"args_0": x}
    case.outputs["serving_default"] = {"output_0": exported(x).numpy()}
    cases["keras_export"] = case

    # A recurrent layer: its while loop captures the kernels as resource variables.
    lstm = tf.keras.Sequential([tf.keras.Input((5, 3), batch_size=2),
                                tf.keras.layers.LSTM(4), tf.keras.layers.Dense(2)])
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    case = SavedModelCase(root / "keras_lstm")
    tf.saved_model.save(lstm, str(case.path))
    case.inputs["serving_default"] = {"inputs": x}
    case.outputs["serving_default"] = {"output_0": lstm(x).numpy()}
    cases["keras_lstm"] = case

    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(rng.standard_normal((2, 3)).astype(np.float32), name="w")
            self.b = tf.Variable(rng.standard_normal(3).astype(np.float32), name="b")
            self.count = tf.Variable(np.float32(1.5), name="count")

        @tf.function(input_signature=[tf.TensorSpec([2, 2], tf.float32)])
        def affine(self, x):
            return {"y": tf.matmul(x, self.w) + self.b, "total": tf.reduce_sum(x)}

        @tf.function(input_signature=[tf.TensorSpec([3], tf.float32),
                                      tf.TensorSpec([3], tf.float32)])
        def counter(self, a, b):
            self.count.assign_add(1.0)
            return {"sum": a * self.count + b + self.b, "count": self.count.read_value()}

        @tf.function(input_signature=[tf.TensorSpec([3], tf.float32)])
        def loop(self, a):
            # The loop and the cond read b and assign count: variables through control flow.
            def body(i, x):
                self.count.assign_add(0.5)
                return i + 1, tf.cond(tf.reduce_sum(x) > 0, lambda: x * self.b,
                                      lambda: x + self.count)
            _, y = tf.while_loop(lambda i, x: i < 3, body, (tf.constant(0), a))
            return {"y": y, "count": self.count.read_value()}

    module = Module()
    case = SavedModelCase(root / "module")
    tf.saved_model.save(module, str(case.path),
                        signatures={"affine": module.affine, "counter": module.counter,
                                    "loop": module.loop})
    x = rng.standard_normal((2, 2)).astype(np.float32)
    case.inputs["affine"] = {"x": x}
    case.outputs["affine"] = {k: v.numpy() for k, v in module.affine(x).items()}
    a, b = (rng.standard_normal(3).astype(np.float32) for _ in range(2))
    case.inputs["counter"] = {"a": a, "b": b}
    case.outputs["counter"] = {k: v.numpy() for k, v in module.counter(a, b).items()}
    module.count.assign(1.5)
    a = rng.standard_normal(3).astype(np.float32)
    case.inputs["loop"] = {"a": a}
    case.outputs["loop"] = {k: v.numpy() for k, v in module.loop(a).items()}
    cases["module"] = case

    case = SavedModelCase(root / "tf1")
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, 3], name="x")
        w = tf.compat.v1.get_variable(
            "dense/w", initializer=rng.standard_normal((3, 4)).astype(np.float32),
            use_resource=False)
        v = tf.compat.v1.get_variable("scale", initializer=np.float32(0.5), use_resource=True)
        y = tf.nn.tanh(tf.matmul(x, w)) * v
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(str(case.path))
            signature = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map={"serving_default": signature})
            builder.save()
            value = rng.standard_normal((2, 3)).astype(np.float32)
            case.inputs["serving_default"] = {"x": value}
            case.outputs["serving_default"] = {"y": session.run(y, {x: value})}
    cases["tf1"] = case

    # Partitioned variables: each part restores its slice of one saved tensor (starts past
    # 63 take the multi-byte form of the slice keys' signed numbers).
    case = SavedModelCase(root / "tf1_partitioned")
    graph = tf.Graph()
    with graph.as_default():
        ids = tf.compat.v1.placeholder(tf.int32, [5], name="ids")
        x = tf.compat.v1.placeholder(tf.float32, [5, 3], name="x")
        embedding = tf.compat.v1.get_variable(
            "embedding", shape=(150, 3),
            initializer=tf.compat.v1.random_normal_initializer(seed=1), partitioner=tf.compat.v1.fixed_size_partitioner(3), use_resource=False)
        w = tf.compat.v1.get_variable(
            "w", shape=(3, 4), initializer=tf.compat.v1.random_normal_initializer(seed=2),
            partitioner=tf.compat.v1.fixed_size_partitioner(2, axis=1), use_resource=True)
        # (embedding_lookup would partition the ids by value: a data-dependent shape.)
        rows = tf.gather(tf.concat(list(embedding), 0), ids)
        y = tf.matmul(rows * x, tf.concat(list(w), 1))
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(str(case.path))
            signature = tf.compat.v1.saved_model.predict_signature_def(
                {"ids": ids, "x": x}, {"y": y})
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map={"serving_default": signature})
            builder.save()
            feeds = {"ids": rng.integers(0, 150, 5).astype(np.int32),
                     "x": rng.standard_normal((5, 3)).astype(np.float32)}
            case.inputs["serving_default"] = feeds
            case.outputs["serving_default"] = {
                "y": session.run(y, {ids: feeds["ids"], x: feeds["x"]})}
    cases["tf1_partitioned"] = case
    return cases
