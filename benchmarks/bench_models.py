"""The benchmark's models: Keras models, and the same models frozen to a GraphDef + tf2xla
Config (tests/models.py's `freeze_keras`).

The MLP is the test suite's `keras_mlp` (same layers, same seed, hence the same frozen
graph); the CNN, the transformer block and MobileNetV2 are defined here. Weights are random
but seeded, so every run compiles the same graph. Each builder returns (Keras model,
FrozenModel); the Keras model is what TensorFlow eager, graph and XLA JIT run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import models  # noqa: E402
from models import FrozenModel, freeze_keras  # noqa: E402


def mlp(batch: int):
    """784 -> 256 -> 128 -> 10 with ReLU and softmax: tests/models.py's MLP."""
    model = models.mlp_model()
    return model, freeze_keras(model, [(batch, 784)])


def cnn(batch: int):
    """A small MNIST-style CNN: two 3x3 conv + ReLU + max-pool stages, then two dense."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1234)
    layers = tf.keras.layers
    model = tf.keras.Sequential([
        tf.keras.Input((28, 28, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    return model, freeze_keras(model, [(batch, 28, 28, 1)])


def transformer(batch: int, seq: int = 32, width: int = 64, heads: int = 4):
    """One pre-norm transformer encoder block: multi-head self-attention, then a GELU MLP."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1234)
    layers = tf.keras.layers
    x = tf.keras.Input((seq, width))
    h = layers.LayerNormalization()(x)
    h = layers.MultiHeadAttention(num_heads=heads, key_dim=width // heads)(h, h)
    x1 = layers.Add()([x, h])
    h = layers.LayerNormalization()(x1)
    h = layers.Dense(4 * width, activation="gelu")(h)
    h = layers.Dense(width)(h)
    model = tf.keras.Model(x, layers.Add()([x1, h]))
    return model, freeze_keras(model, [(batch, seq, width)])


def mobilenet_v2(batch: int, size: int = 96, alpha: float = 0.35):
    """keras.applications.MobileNetV2 (random weights) at a small input size and width."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1234)
    model = tf.keras.applications.MobileNetV2(input_shape=(size, size, 3), alpha=alpha,
                                              weights=None, classes=10)
    # Keras initializes the convolutions Glorot-uniform, which shrinks activations layer
    # by layer: after ~50 layers the features are ~1e-10 and every input gives the same
    # uniform softmax. He-normal kernels keep activations O(1), so outputs depend on the
    # input and comparing them means something.
    rng = np.random.default_rng(1234)
    for layer in model.layers:
        if isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.DepthwiseConv2D)):
            kernel = layer.weights[0]
            kh, kw, cin, _ = kernel.shape
            fan_in = kh * kw * (1 if isinstance(layer, tf.keras.layers.DepthwiseConv2D) else cin)
            kernel.assign(rng.normal(0, np.sqrt(2 / fan_in), kernel.shape).astype(np.float32))
    return model, freeze_keras(model, [(batch, size, size, 3)])


def lenet(batch: int):
    """LeNet-5 with average pooling in both stages (the figures in README.md are for it)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1234)
    model = models.lenet(first_pool="average")
    return model, freeze_keras(model, [(batch, 28, 28, 1)])


def _he_normal_convs(model, seed: int = 1234) -> None:
    """Random He-normal conv kernels and non-trivial BatchNorm statistics, so activations
    stay O(1) through the depth and outputs depend on the input."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.DepthwiseConv2D)):
            kernel = layer.weights[0]
            kh, kw, cin, _ = kernel.shape
            fan_in = kh * kw * (1 if isinstance(layer, tf.keras.layers.DepthwiseConv2D) else cin)
            kernel.assign(rng.normal(0, np.sqrt(2 / fan_in), kernel.shape).astype(np.float32))
        elif isinstance(layer, tf.keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.weights
            n = gamma.shape[0]
            gamma.assign(rng.uniform(0.5, 1.5, n).astype(np.float32))
            beta.assign(rng.normal(0, 0.1, n).astype(np.float32))
            mean.assign(rng.normal(0, 0.1, n).astype(np.float32))
            var.assign(rng.uniform(0.5, 1.5, n).astype(np.float32))


def resnet(batch: int, size: int = 32):
    """A small ResNet: a 3x3 stem, then three stages (32, 64, 128 channels) of one basic
    residual block each (3x3 conv, BN, ReLU, 3x3 conv, BN, add), stride 2 between stages."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1234)
    layers = tf.keras.layers
    x = inputs = tf.keras.Input((size, size, 3))
    x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(32, 3, padding="same", use_bias=False)(x)))
    for i, width in enumerate((32, 64, 128)):
        stride = 1 if i == 0 else 2
        shortcut = x
        if stride != 1 or x.shape[-1] != width:
            shortcut = layers.BatchNormalization()(
                layers.Conv2D(width, 1, strides=stride, use_bias=False)(x))
        h = layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False)(x)
        h = layers.ReLU()(layers.BatchNormalization()(h))
        h = layers.BatchNormalization()(layers.Conv2D(width, 3, padding="same", use_bias=False)(h))
        x = layers.ReLU()(layers.Add()([h, shortcut]))
    x = layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inputs, layers.Dense(10)(x))
    _he_normal_convs(model)
    return model, freeze_keras(model, [(batch, size, size, 3)])


def unet(batch: int, size: int = 64):
    """A small U-Net: two down stages (two 3x3 convs, max-pool), a bottleneck, two up
    stages (Conv2DTranspose stride 2, concatenated skip, two 3x3 convs), a 1x1 head."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1234)
    layers = tf.keras.layers

    def block(x, width):
        x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        return layers.Conv2D(width, 3, padding="same", activation="relu")(x)

    inputs = tf.keras.Input((size, size, 3))
    d1 = block(inputs, 16)
    d2 = block(layers.MaxPooling2D()(d1), 32)
    x = block(layers.MaxPooling2D()(d2), 64)
    x = layers.Conv2DTranspose(32, 2, strides=2, padding="same")(x)
    x = block(layers.Concatenate()([x, d2]), 32)
    x = layers.Conv2DTranspose(16, 2, strides=2, padding="same")(x)
    x = block(layers.Concatenate()([x, d1]), 16)
    model = tf.keras.Model(inputs, layers.Conv2D(1, 1)(x))
    _he_normal_convs(model)
    return model, freeze_keras(model, [(batch, size, size, 3)])


def decoder(batch: int, latent: int = 32):
    """A conv-transpose decoder: Dense to 7x7x64, then three 3x3 Conv2DTranspose (stride
    2, 2, 1) up to a 28x28 image."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1234)
    layers = tf.keras.layers
    model = tf.keras.Sequential([
        tf.keras.Input((latent,)),
        layers.Dense(7 * 7 * 64, activation="relu"),
        layers.Reshape((7, 7, 64)),
        layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2DTranspose(1, 3, padding="same"),
    ])
    _he_normal_convs(model)
    return model, freeze_keras(model, [(batch, latent)])


def conv_s2(batch: int, size: int = 56, cin: int = 32, cout: int = 64):
    """One strided convolution: 3x3, stride 2, SAME padding, 56x56x32 -> 28x28x64."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1234)
    model = tf.keras.Sequential([
        tf.keras.Input((size, size, cin)),
        tf.keras.layers.Conv2D(cout, 3, strides=2, padding="same"),
    ])
    return model, freeze_keras(model, [(batch, size, size, cin)])


def bert(batch: int, seq: int = 32, width: int = 64, heads: int = 4, layers_count: int = 2):
    """A BERT-style encoder: two post-norm transformer blocks (self-attention, add,
    LayerNorm, GELU MLP of width 4x, add, LayerNorm)."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1234)
    layers = tf.keras.layers
    x = inputs = tf.keras.Input((seq, width))
    for _ in range(layers_count):
        h = layers.MultiHeadAttention(num_heads=heads, key_dim=width // heads)(x, x)
        x = layers.LayerNormalization()(layers.Add()([x, h]))
        h = layers.Dense(4 * width, activation="gelu")(x)
        h = layers.Dense(width)(h)
        x = layers.LayerNormalization()(layers.Add()([x, h]))
    model = tf.keras.Model(inputs, x)
    return model, freeze_keras(model, [(batch, seq, width)])


#: name -> builder(batch). The benchmark's model list (`BENCH`) names a builder and a batch.
MODELS = {"mlp": mlp, "cnn": cnn, "transformer": transformer, "mobilenet_v2": mobilenet_v2,
          "lenet": lenet, "resnet": resnet, "unet": unet, "decoder": decoder,
          "conv_s2": conv_s2, "bert": bert}

#: The default model list: (model, batch).
BENCH = [("mlp", 1), ("cnn", 1), ("transformer", 1), ("mobilenet_v2", 1), ("resnet", 1),
         ("unet", 1), ("decoder", 1), ("conv_s2", 1), ("bert", 1), ("bert", 4), ("lenet", 8),
         ("mlp", 8), ("mobilenet_v2", 8)]

__all__ = ["BENCH", "MODELS", "FrozenModel"]
