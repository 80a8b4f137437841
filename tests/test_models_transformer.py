"""A transformer encoder block from Keras, frozen, compiled with the CLI and compared with
TensorFlow end to end (Python via cffi and a linked C++ program) at batch 1 and batch 8.

The block: MultiHeadAttention(num_heads=2, key_dim=16) self-attention over (batch, 8, 32),
a residual add and LayerNormalization, a Dense(64)-GELU-Dense(32) feed-forward, another
residual add and LayerNormalization. Frozen, Keras 3 emits Einsum for the attention
scores and values ("BTNH,BSNH->BNTS", "BNTS,BSNH->BTNH"), MatMul/BatchMatMulV2 plus
Reshape for the projections, Softmax, Mean/SquaredDifference/Rsqrt for the layer norms.
Keras' "gelu" is the exact form, 0.5 * x * erfc(-x / sqrt(2)) (an Erfc op);
gelu(approximate=True) is the tanh form with Pow(x, 3). Both are compiled.

Tolerances: f32 throughout; the products sum 16..64 terms in a different order than
TensorFlow (oneDNN), and softmax and the layer norms' means add a few ulps more. The
layer-normalized outputs are of magnitude up to ~3.5 and the observed absolute error is
below 1e-6 (batch 1 and 8, both GELU forms, three seeds): rtol = atol = 1e-5.
"""

from __future__ import annotations

import pytest

import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)

from aotc.frontend.proto import aotc_graph_pb2  # noqa: E402
from model_check import check_model  # noqa: E402
from models import ENCODER_SEQUENCE as SEQUENCE, ENCODER_WIDTH as WIDTH  # noqa: E402
from models import encoder_block, freeze_keras  # noqa: E402

TOLERANCE = dict(rtol=1e-5, atol=1e-5)


def _op_types(frozen) -> set[str]:
    return {n.op for n in aotc_graph_pb2.GraphDef.FromString(frozen.graph_def).node}


@pytest.mark.parametrize("batch", [1, 8])
def test_encoder_block_matches_tensorflow(tmp_path, batch):
    frozen = freeze_keras(encoder_block(), [(batch, SEQUENCE, WIDTH)])
    assert {"Einsum", "Erfc", "Softmax", "Rsqrt"} <= _op_types(frozen)
    check_model(frozen, tmp_path, f"transformer_b{batch}", seed=batch, **TOLERANCE)


def test_encoder_block_with_tanh_gelu(tmp_path):
    frozen = freeze_keras(encoder_block(approximate_gelu=True), [(2, SEQUENCE, WIDTH)])
    assert {"Einsum", "Tanh", "Pow"} <= _op_types(frozen)
    check_model(frozen, tmp_path, "transformer_tanh_gelu", cpp=False, **TOLERANCE)
