"""Whole convolutional Keras models, frozen with seeded random weights, compiled with the
CLI and compared with TensorFlow end to end at batch 1 and batch 8.

- LeNet-style: Conv2D, MaxPool, AvgPool, Dense (MatMul, BiasAdd), Softmax. Checked from
  Python and from C++.
- MobileNetV2 (alpha 0.35, 96x96): Conv2D, DepthwiseConv2dNative, Pad, Relu6,
  batch normalization (Keras 3 lowers it to Rsqrt/Mul/Sub/AddV2, not FusedBatchNormV3),
  residual AddV2, Mean (global average pooling), Dense, Softmax.
- A small ResNet: strided convolutions, batch normalization, residual adds, MaxPool,
  global average pooling, Conv2DTranspose (Conv2DBackpropInput) in a decoder branch.

Each model is frozen and compiled once per batch size (module-scoped fixtures; the two
compiles of a model run side by side).

Tolerances: the models are f32 throughout; TensorFlow (oneDNN) and aotc sum the
convolutions in different orders, an error of a few ulps per layer that the layers then
carry along. The softmax outputs are probabilities of magnitude 1e-3..1 and are compared
with rtol=1e-4, atol=1e-6; the ResNet's unnormalized features with rtol=atol=1e-4.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)

import aotc  # noqa: E402
from model_check import compile_frozen, run_cpp  # noqa: E402
from models import frozen_cnn, lenet, mobilenet_v2, small_resnet  # noqa: E402

BATCHES = (1, 8)
PROBABILITIES = dict(rtol=1e-4, atol=1e-6)
FEATURES = dict(rtol=1e-4, atol=1e-4)


def _compiled(tmp_path_factory, name, build, input_shape, seed):
    """{batch: (frozen model, artifact dir, work dir)} for every batch size."""
    frozen = {batch: frozen_cnn(build, input_shape, batch, seed) for batch in BATCHES}
    work = {batch: tmp_path_factory.mktemp(f"{name}_b{batch}") for batch in BATCHES}
    # The CLI compiles are independent subprocesses (LLVM is the slow part): side by side.
    with ThreadPoolExecutor(len(BATCHES)) as pool:
        outs = {batch: pool.submit(compile_frozen, frozen[batch], work[batch], f"{name}_b{batch}")
                for batch in BATCHES}
    return {batch: (frozen[batch], outs[batch].result(), work[batch]) for batch in BATCHES}


@pytest.fixture(scope="module")
def lenet_artifacts(tmp_path_factory):
    return _compiled(tmp_path_factory, "lenet", lenet, (28, 28, 1), seed=11)


@pytest.fixture(scope="module")
def mobilenet_artifacts(tmp_path_factory):
    return _compiled(tmp_path_factory, "mobilenet", mobilenet_v2, (96, 96, 3), seed=12)


@pytest.fixture(scope="module")
def resnet_artifacts(tmp_path_factory):
    return _compiled(tmp_path_factory, "resnet", small_resnet, (32, 32, 3), seed=13)


def _check_python(artifacts, batch, tol, seed=0):
    frozen, out, _ = artifacts[batch]
    inputs = frozen.random_inputs(seed)
    expected = frozen.reference(*inputs)
    got = aotc.load(out)(*inputs)
    got = list(got) if isinstance(got, tuple) else [got]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, **tol)
    return inputs, expected


@pytest.mark.parametrize("batch", BATCHES)
def test_lenet(lenet_artifacts, batch):
    _check_python(lenet_artifacts, batch, PROBABILITIES)


@pytest.mark.parametrize("batch", BATCHES)
def test_lenet_from_cpp(lenet_artifacts, batch):
    frozen, out, work = lenet_artifacts[batch]
    inputs = frozen.random_inputs(seed=3)
    (expected,) = frozen.reference(*inputs)
    (got,) = run_cpp(out, f"lenet_b{batch}", inputs, work)
    np.testing.assert_allclose(got, expected, **PROBABILITIES)


@pytest.mark.parametrize("batch", BATCHES)
def test_mobilenet_v2(mobilenet_artifacts, batch):
    _, (expected,) = _check_python(mobilenet_artifacts, batch, PROBABILITIES)
    np.testing.assert_allclose(expected.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("batch", BATCHES)
def test_small_resnet(resnet_artifacts, batch):
    _check_python(resnet_artifacts, batch, FEATURES)
