"""Random ops (frontend/ops/random.py): Philox-4x32-10 from integer HLO ops.

The generator is checked against Random123's known-answer vectors; the ops against their
contracts (range, dtype, rough distribution, determinism per seed), since aotc does not
reproduce TensorFlow's random stream.
"""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import text_format

from aotc.frontend.errors import FrontendError
from aotc.frontend.lower import lower
from aotc.frontend.ops.random import random_bits
from aotc.frontend.ops.registry import LoweringContext
from aotc.frontend.proto import aotc_graph_pb2, aotc_tf2xla_pb2
from aotc.frontend.prune import prune
from aotc.hlo import Builder
from aotc.hlo.evaluation import evaluate


@pytest.mark.parametrize("key, expected", [
    # Random123 kat_vectors, philox4x32 10 rounds, counter (0,0,0,0) and key (0,0)...
    ((0, 0), [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
])
def test_philox_known_answer(key, expected):
    b = Builder("philox")
    bits = random_bits(LoweringContext(b), key, 4)
    assert [int(v) for v in evaluate(b.module(bits))] == expected


def test_philox_counters_and_partial_blocks():
    b = Builder("philox")
    ten = random_bits(LoweringContext(b), (1, 2), 10)
    b2 = Builder("philox")
    twelve = random_bits(LoweringContext(b2), (1, 2), 12)
    ten, twelve = evaluate(b.module(ten)), evaluate(b2.module(twelve))
    assert ten.dtype == np.uint32 and ten.shape == (10,)
    np.testing.assert_array_equal(ten, twelve[:10])  # element i is block i // 4, word i % 4
    assert len(set(twelve.tolist())) == 12


def _node(name: str, op: str, *inputs: str, **attrs: str) -> str:
    text = f'node {{ name: "{name}" op: "{op}"'
    text += "".join(f' input: "{i}"' for i in inputs)
    text += "".join(f' attr {{ key: "{k}" value {{ {v} }} }}' for k, v in attrs.items())
    return text + " }\n"


def _shape_const(name: str, dims: list[int]) -> str:
    vals = " ".join(f"int_val: {d}" for d in dims)
    return _node(name, "Const", dtype="type: DT_INT32",
                 value=f"tensor {{ dtype: DT_INT32 tensor_shape {{ dim {{ size: {len(dims)} }} }} "
                       f"{vals} }}")


def _scalar_const(name: str, value: int) -> str:
    return _node(name, "Const", dtype="type: DT_INT32",
                 value=f"tensor {{ dtype: DT_INT32 tensor_shape {{ }} int_val: {value} }}")


def _run(graph_text: str, *fetches: str):
    graph = text_format.Parse(graph_text, aotc_graph_pb2.GraphDef())
    config = text_format.Parse("".join(f'fetch {{ id {{ node_name: "{f}" }} }}' for f in fetches),
                               aotc_tf2xla_pb2.Config())
    result = evaluate(lower(prune(graph, config)))
    return [np.asarray(r) for r in result]


@pytest.mark.parametrize("dtype, np_dtype", [("DT_FLOAT", np.float32), ("DT_DOUBLE", np.float64),
                                             ("DT_HALF", np.float16)])
def test_random_uniform_range_and_determinism(dtype, np_dtype):
    graph = _shape_const("shape", [50, 40]) + "".join(
        _node(name, "RandomUniform", "shape", dtype=f"type: {dtype}", T="type: DT_INT32",
              seed=f"i: {seed}", seed2=f"i: {seed2}")
        for name, seed, seed2 in [("a", 3, 4), ("b", 3, 4), ("c", 3, 5), ("d", 0, 0), ("e", 0, 0)])
    a, b, c, d, e = _run(graph, "a", "b", "c", "d", "e")
    assert a.dtype == np_dtype and a.shape == (50, 40)
    assert a.min() >= 0 and a.max() < 1
    assert abs(float(a.mean()) - 0.5) < 0.03 and abs(float(a.std()) - 12 ** -0.5) < 0.03
    np.testing.assert_array_equal(a, b)  # same seeds, same numbers
    assert not np.array_equal(a, c)
    assert not np.array_equal(d, e)  # unseeded ops are keyed by their node names


def test_random_uniform_int_and_standard_normal():
    graph = (_shape_const("shape", [4000]) + _scalar_const("lo", -3) + _scalar_const("hi", 5)
             + _node("ints", "RandomUniformInt", "shape", "lo", "hi", Tout="type: DT_INT32",
                     T="type: DT_INT32", seed="i: 1", seed2="i: 2")
             + _node("normal", "RandomStandardNormal", "shape", dtype="type: DT_FLOAT",
                     T="type: DT_INT32", seed="i: 1", seed2="i: 2"))
    ints, normal = _run(graph, "ints", "normal")
    assert ints.dtype == np.int32 and set(np.unique(ints).tolist()) == set(range(-3, 5))
    assert normal.dtype == np.float32 and np.isfinite(normal).all()
    assert abs(float(normal.mean())) < 0.1 and abs(float(normal.std()) - 1) < 0.1


@pytest.mark.parametrize("dtype, np_dtype", [("DT_FLOAT", np.float32), ("DT_DOUBLE", np.float64)])
def test_truncated_normal_statistics(dtype, np_dtype):
    # A normal cut at +-2 standard deviations: mean 0, standard deviation 0.8796.
    graph = _shape_const("shape", [4000]) + "".join(
        _node(name, "TruncatedNormal", "shape", dtype=f"type: {dtype}", T="type: DT_INT32",
              seed=f"i: {seed}", seed2="i: 9") for name, seed in [("a", 1), ("b", 1), ("c", 2)])
    a, b, c = _run(graph, "a", "b", "c")
    assert a.dtype == np_dtype and a.shape == (4000,)
    assert np.abs(a).max() < 2
    assert abs(float(a.mean())) < 0.05 and abs(float(a.std()) - 0.8796) < 0.03
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_random_op_errors_name_the_node():
    graph = (_shape_const("shape", [3]) + _scalar_const("lo", 5) + _scalar_const("hi", 5)
             + _node("bad", "RandomUniformInt", "shape", "lo", "hi", Tout="type: DT_INT32",
                     T="type: DT_INT32"))
    with pytest.raises(FrontendError, match=r"node 'bad' \(RandomUniformInt\): needs minval < "
                                            r"maxval, got 5 and 5"):
        _run(graph, "bad")


def test_random_uniform_compiles_to_the_same_numbers(tmp_path):
    import aotc

    graph = _shape_const("shape", [37]) + _node(
        "r", "RandomUniform", "shape", dtype="type: DT_FLOAT", T="type: DT_INT32", seed="i: 9")
    (tmp_path / "g.pbtxt").write_text(graph)
    (tmp_path / "c.pbtxt").write_text('fetch { id { node_name: "r" } }')
    model = aotc.compile(tmp_path / "g.pbtxt", tmp_path / "c.pbtxt", tmp_path / "out",
                         cpp_class="Rng").load()
    (expected,) = _run(graph, "r")
    np.testing.assert_array_equal(model(), expected)
