"""A Keras text classifier with int32 token ids, frozen and compiled end to end.

Embedding(100, 16) -> GlobalAveragePooling1D -> Dense(16, relu) -> Dense(4, softmax), on
sequences of length 16 at batch 1 and batch 8. Frozen, the embedding lookup is a GatherV2
of the (constant) table by the int32 input, which aotc lowers to an XLA gather; the pooling
is a Mean. Compiled with the CLI, run from Python and from C++, compared with TensorFlow.

Token ids are drawn in range and include the first and last id of the vocabulary
(TensorFlow rejects out-of-range ids; aotc would clamp them, as XLA does).

Tolerances: the lookup and the average are exact up to summation order (16 terms); the
two f32 dense layers add a few ulps each. The softmax probabilities are compared with
rtol=1e-5, atol=1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)

from model_check import check_model  # noqa: E402
from models import TEXT_SEQUENCE as SEQUENCE, TEXT_VOCAB as VOCAB  # noqa: E402
from models import freeze_keras, text_classifier  # noqa: E402

PROBABILITIES = dict(rtol=1e-5, atol=1e-6)


def token_ids(batch: int, seed: int) -> np.ndarray:
    ids = np.random.default_rng(seed).integers(0, VOCAB, (batch, SEQUENCE)).astype(np.int32)
    ids[0, 0], ids[-1, -1] = 0, VOCAB - 1  # both ends of the vocabulary
    return ids


@pytest.fixture(scope="module")
def frozen():
    model = text_classifier()
    return {batch: freeze_keras(model, [(batch, SEQUENCE)], dtype="int32") for batch in (1, 8)}


@pytest.mark.parametrize("batch", [1, 8])
def test_text_classifier_matches_tensorflow(frozen, batch, tmp_path):
    model = frozen[batch]
    graph_ops = {node.op for node in _graph_def(model).node}
    assert "GatherV2" in graph_ops, graph_ops  # the embedding lookup, as frozen
    check_model(model, tmp_path, f"text_b{batch}", inputs=[token_ids(batch, seed=batch)],
                **PROBABILITIES)


def _graph_def(model):
    from tensorflow.core.framework import graph_pb2

    return graph_pb2.GraphDef.FromString(model.graph_def)
