"""Keras LSTM and GRU models, frozen with TF2 control flow and compared end to end.

Each model is Input(batch, 16, 8) -> LSTM or GRU (32 units) -> Dense(4), random weights
from a fixed seed, frozen with `lower_control_flow=False` so the recurrence stays a
functional While over TensorLists (lowered by ops/control_flow.py and ops/tensor_list.py)
rather than V1 Switch/Merge/Enter/Exit. Each is compiled with the CLI and run from
Python and C++ (tests/model_check.py), at batch 1 and 8. One GRU is frozen with
`lower_control_flow=True` too: its TF1 loop frame must come back as the same While.

Tolerances: rtol=1e-5, atol=2e-6. Outputs are of order 1; the measured differences from
TensorFlow are at most 3e-7, from the summation order of the gate matmuls and the last
ulp of the inline tanh/logistic, accumulated over 16 steps.
"""

from __future__ import annotations

import pytest

from model_check import check_model
from models import FrozenModel, keras_rnn

import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)

RTOL, ATOL = 1e-5, 2e-6


def _op_types(model: FrozenModel) -> set[str]:
    from tensorflow.core.framework import graph_pb2

    graph = graph_pb2.GraphDef.FromString(model.graph_def)
    return {n.op for n in graph.node} | {n.op for f in graph.library.function
                                         for n in f.node_def}


@pytest.mark.parametrize("layer,return_sequences", [("lstm", False), ("gru", True)],
                         ids=["lstm-last", "gru-sequences"])
@pytest.mark.parametrize("batch", [1, 8])
def test_rnn_matches_tensorflow(layer, return_sequences, batch, tmp_path):
    model = keras_rnn(layer, batch, return_sequences)
    ops = _op_types(model)
    assert "While" in ops and {"TensorListGetItem", "TensorListSetItem"} <= ops, ops
    check_model(model, tmp_path, f"{layer}_b{batch}", rtol=RTOL, atol=ATOL, seed=batch)


def test_gru_with_lowered_control_flow_matches_tensorflow(tmp_path):
    # lower_control_flow=True turns the While into TF1 Enter/Merge/Switch/Exit frames,
    # which frontend/functionalize.py turns back into a While.
    model = keras_rnn("gru", 1, False, lower_control_flow=True)
    ops = _op_types(model)
    assert {"Enter", "Merge", "Switch", "Exit", "NextIteration", "LoopCond"} <= ops, ops
    check_model(model, tmp_path, "gru_v1", rtol=RTOL, atol=ATOL, seed=1)
