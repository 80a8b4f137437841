"""Models built with TensorFlow at test time, frozen to GraphDefs with a Config.

Each builder returns a `FrozenModel`: the serialized GraphDef, the Config text, the feed
names in order, and a function computing the reference outputs with TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np


@dataclass
class FrozenModel:
    """A frozen graph plus its Config, and TensorFlow's answer for any inputs."""

    graph_def: bytes
    config: str
    feeds: list[tuple[str, np.dtype, tuple[int, ...]]]  # (name, dtype, shape)
    reference: Callable[..., list[np.ndarray]]

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        graph, config = directory / "graph.pb", directory / "config.pbtxt"
        graph.write_bytes(self.graph_def)
        config.write_text(self.config)
        return graph, config

    def random_inputs(self, seed=0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [rng.standard_normal(shape).astype(dtype) for _, dtype, shape in self.feeds]


def config_text(feeds, fetches) -> str:
    """tf2xla Config text: feeds are (node, name, shape), fetches (tensor, name)."""
    lines = []
    for node, name, shape in feeds:
        dims = " ".join(f"dim {{ size: {d} }}" for d in shape)
        lines.append(f'feed {{ id {{ node_name: "{node}" }} shape {{ {dims} }} name: "{name}" }}')
    for tensor, name in fetches:
        node, _, index = tensor.partition(":")
        out = f" output_index: {index}" if index and index != "0" else ""
        lines.append(f'fetch {{ id {{ node_name: "{node}"{out} }} name: "{name}" }}')
    return "\n".join(lines) + "\n"


def freeze_keras(model, input_shapes: list[tuple[int, ...]], dtype="float32", *,
                 lower_control_flow: bool = True) -> FrozenModel:
    """Freeze a Keras model called on fixed-shape inputs named x0, x1, ...

    `lower_control_flow=False` keeps TF2's functional While/If ops (aotc does not support
    the V1 Switch/Merge/Enter/Exit ops that lowering them produces).
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    specs = [tf.TensorSpec(s, dtype, name=f"x{i}") for i, s in enumerate(input_shapes)]
    concrete = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0])).get_concrete_function(*specs)
    frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=lower_control_flow)
    graph_def = frozen.graph.as_graph_def()
    feeds = [(f"x{i}", np.dtype(dtype), tuple(s)) for i, s in enumerate(input_shapes)]
    fetches = [(t.name, f"out{i}") for i, t in enumerate(frozen.outputs)]
    config = config_text([(n, n, s) for n, _, s in feeds], [(t.removesuffix(":0"), n) for t, n in fetches])

    def reference(*inputs):
        outs = frozen(*[tf.constant(x) for x in inputs])
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return [np.asarray(o) for o in outs]

    return FrozenModel(graph_def.SerializeToString(), config, feeds, reference)


def mlp_model():
    """The foundation issue's MLP: 784 -> 256 -> 128 -> 10 with softmax (seeded)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1234)
    return tf.keras.Sequential([
        tf.keras.Input((784,)),
        tf.keras.layers.Dense(256, activation="relu"),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dense(10, activation="softmax"),
    ])


def keras_mlp(batch: int) -> FrozenModel:
    """`mlp_model()` frozen at `batch`."""
    return freeze_keras(mlp_model(), [(batch, 784)])


# -- the model zoo: the Keras models the end-to-end tests (and the CUDA backend's PTX and
# GPU checks) compile, each with seeded random weights --------------------------------------

RNN_STEPS, RNN_FEATURES, RNN_UNITS = 16, 8, 32
TEXT_VOCAB, TEXT_SEQUENCE, TEXT_EMBEDDING = 100, 16, 16
ENCODER_SEQUENCE, ENCODER_WIDTH = 8, 32


def lenet(first_pool: str = "max"):
    """LeNet-5: two 5x5 conv + pooling stages (the first "max" or "average"), then
    120-84-10 dense layers."""
    import tensorflow as tf

    layers = tf.keras.layers
    pool = {"max": layers.MaxPooling2D, "average": layers.AveragePooling2D}[first_pool]
    return tf.keras.Sequential([
        tf.keras.Input((28, 28, 1)),
        layers.Conv2D(6, 5, padding="same", activation="relu"),
        pool(2),
        layers.Conv2D(16, 5, activation="relu"),
        layers.AveragePooling2D(2),
        layers.Flatten(),
        layers.Dense(120, activation="relu"),
        layers.Dense(84, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])


def mobilenet_v2():
    import tensorflow as tf

    return tf.keras.applications.MobileNetV2(alpha=0.35, input_shape=(96, 96, 3), weights=None)


def small_resnet():
    """Two residual stages (identity and projection shortcuts) and a transposed-conv
    decoder head next to the classifier head."""
    import tensorflow as tf

    layers = tf.keras.layers

    def block(x, filters, stride):
        shortcut = x
        y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU()(y)
        y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
        y = layers.BatchNormalization()(y)
        if stride != 1 or x.shape[-1] != filters:
            shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False)(x)
            shortcut = layers.BatchNormalization()(shortcut)
        return layers.ReLU()(layers.Add()([y, shortcut]))

    inputs = tf.keras.Input((32, 32, 3))
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = block(x, 16, 1)
    x = block(x, 32, 2)
    logits = layers.Dense(10)(layers.GlobalAveragePooling2D()(x))
    decoded = layers.Conv2DTranspose(8, 3, strides=2, padding="same")(x)
    return tf.keras.Model(inputs, [logits, decoded])


def randomize_batch_norms(model, rng):
    """Fresh BatchNormalization layers are the identity; give them real statistics so the
    normalization arithmetic is exercised."""
    import tensorflow as tf

    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                               rng.uniform(-0.2, 0.2, beta.shape).astype(np.float32),
                               rng.uniform(-0.2, 0.2, mean.shape).astype(np.float32),
                               rng.uniform(0.5, 1.5, variance.shape).astype(np.float32)])


def frozen_cnn(build, input_shape, batch: int, seed: int) -> FrozenModel:
    """A convolutional model from `build`, seeded, with random batch-norm statistics."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    model = build()
    randomize_batch_norms(model, np.random.default_rng(seed))
    return freeze_keras(model, [(batch, *input_shape)])


def keras_rnn(layer: str, batch: int, return_sequences: bool,
              lower_control_flow: bool = False) -> FrozenModel:
    """Input(batch, 16, 8) -> LSTM or GRU (32 units) -> Dense(4), TF2 control flow."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1234)
    cell = {"lstm": tf.keras.layers.LSTM, "gru": tf.keras.layers.GRU}[layer]
    model = tf.keras.Sequential([
        tf.keras.Input((RNN_STEPS, RNN_FEATURES)),
        cell(RNN_UNITS, return_sequences=return_sequences),
        tf.keras.layers.Dense(4),
    ])
    return freeze_keras(model, [(batch, RNN_STEPS, RNN_FEATURES)],
                        lower_control_flow=lower_control_flow)


def text_classifier():
    """Embedding -> average pooling -> Dense -> softmax over int32 token ids."""
    import tensorflow as tf

    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(4321)
    return tf.keras.Sequential([
        tf.keras.Input((TEXT_SEQUENCE,), dtype="int32"),
        layers.Embedding(TEXT_VOCAB, TEXT_EMBEDDING),
        layers.GlobalAveragePooling1D(),
        layers.Dense(16, activation="relu"),
        layers.Dense(4, activation="softmax"),
    ])


def encoder_block(approximate_gelu: bool = False):
    """One post-norm transformer encoder block with seeded random weights."""
    import tensorflow as tf

    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(7)
    if approximate_gelu:
        activation = lambda t: tf.keras.activations.gelu(t, approximate=True)  # noqa: E731
    else:
        activation = "gelu"
    inputs = tf.keras.Input((ENCODER_SEQUENCE, ENCODER_WIDTH))
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=16)(inputs, inputs)
    x = layers.LayerNormalization()(layers.Add()([inputs, attended]))
    hidden = layers.Dense(64, activation=activation)(x)
    y = layers.Dense(ENCODER_WIDTH)(hidden)
    outputs = layers.LayerNormalization()(layers.Add()([x, y]))
    return tf.keras.Model(inputs, outputs)


def model_zoo(batch: int = 1) -> dict[str, Callable[[], FrozenModel]]:
    """Every model of the zoo at `batch`, by name: each entry freezes its model when
    called (TensorFlow work, seconds each)."""
    return {
        "mlp": lambda: keras_mlp(batch),
        "lenet": lambda: frozen_cnn(lenet, (28, 28, 1), batch, seed=11),
        "mobilenet_v2": lambda: frozen_cnn(mobilenet_v2, (96, 96, 3), batch, seed=12),
        "resnet": lambda: frozen_cnn(small_resnet, (32, 32, 3), batch, seed=13),
        "transformer": lambda: freeze_keras(encoder_block(), [(batch, ENCODER_SEQUENCE, ENCODER_WIDTH)]),
        "lstm": lambda: keras_rnn("lstm", batch, False),
        "gru": lambda: keras_rnn("gru", batch, True),
        "embedding": lambda: freeze_keras(text_classifier(), [(batch, TEXT_SEQUENCE)], dtype="int32"),
    }
