"""Deep graphs: long elementwise chains compile (iterative walks, no recursion per fused
op) and compute the right values; absurdly nested text protos are an error, not a crash.
"""

from __future__ import annotations

import numpy as np
import pytest

import aotc
from robustness import compile_files, compile_protos, config, new_graph, node, placeholder

_APPLY = {"Mul": np.multiply, "AddV2": np.add, "Neg": lambda v, y: -v,
          "Abs": lambda v, y: np.abs(v), "Tanh": lambda v, y: np.tanh(v)}


def _chain(length: int, ops: tuple[str, ...]):
    """x -> op(x, y) -> op(., y) -> ... : one chain of `length` elementwise nodes."""
    g = new_graph()
    placeholder(g, "x", [4])
    placeholder(g, "y", [4])
    previous = "x"
    for i in range(length):
        op = ops[i % len(ops)]
        node(g, f"n{i}", op, [previous, "y"] if op in ("Mul", "AddV2") else [previous])
        previous = f"n{i}"
    return g, config([("x", [4]), ("y", [4])], [previous])


@pytest.mark.parametrize("length, ops, y", [
    (200, ("Tanh", "Neg", "Abs", "Neg"), [1.0, 0.0, 0.5, -1.0]),
    (10_000, ("Mul", "AddV2"), [1.0, 1.0, 0.5, -1.0]),  # bounded: v*1+1, v*.5+.5, v*-1-1
], ids=["200-unary", "10000-binary"])
def test_long_chains_compile_and_compute(tmp_path, length, ops, y):
    g, cfg = _chain(length, ops)
    outcome = compile_protos(tmp_path, g, cfg)
    outcome.check_clean()
    assert outcome.status == 0, outcome.stderr
    x = np.array([0.5, -0.25, 1.0, 2.0], np.float32)
    y = np.array(y, np.float32)
    want = x
    for i in range(length):
        want = _APPLY[ops[i % len(ops)]](want, y).astype(np.float32)
    got = aotc.load(outcome.out_dir)(x, y)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_deeply_nested_text_proto_is_an_error(tmp_path):
    depth = 3000  # AttrValue.func -> NameAttrList.attr -> AttrValue -> ...
    value = "func { name: 'f' attr { key: 'k' value { " * depth + "i: 1" + " } } }" * depth
    graph = tmp_path / "deep.pbtxt"
    graph.write_text(
        "node { name: 'a' op: 'Placeholder' attr { key: 'dtype' value { type: DT_FLOAT } } }\n"
        f"node {{ name: 'r' op: 'Relu' input: 'a' attr {{ key: 'x' value {{ {value} }} }} }}\n")
    cfg = tmp_path / "c.pb"
    cfg.write_bytes(config([("a", [2])], ["r"]).SerializeToString())
    outcome = compile_files(tmp_path, graph, cfg)
    outcome.check_clean()
    assert outcome.status == 1
    assert "is not a valid text-format GraphDef: its messages are nested too deeply" in \
        outcome.stderr
