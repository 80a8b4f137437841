"""Fuzzing the compiler through `aotc.cli.main(argv)`, in-process and deterministic.

Every op `aotc ops` lists is compiled with one input too many and one too few, with each
of its attrs set to a value of the wrong kind, and once with random but plausible inputs
and attrs; then binary GraphDefs and Configs are truncated and bit-flipped. Every compile must end in exit 0 with a complete artifact (a
flipped bit may leave a valid graph) or exit 1 with an `aotc: error:` line and no output
directory: never an exception escaping main().
"""

from __future__ import annotations

import random

import pytest
from google.protobuf import text_format

from aotc.frontend.contracts import signature
from aotc.frontend.graph import parse_config, parse_graph
from aotc.frontend.ops import supported_ops
from conftest import EXAMPLES
from robustness import DT, compile_cli, config, const, new_graph, node, placeholder

#: Data types the fuzz graphs feed, in order of preference.
_PREFERRED = ["DT_FLOAT", "DT_INT32", "DT_BOOL", "DT_INT64", "DT_DOUBLE", "DT_RESOURCE"]


def _pick_type(attr: dict | None) -> int:
    allowed = (attr or {}).get("allowed") or _PREFERRED
    for name in _PREFERRED:
        if name in allowed:
            return DT.DataType.Value(name)
    return DT.DataType.Value(allowed[0])


def _fill_attr(n, spec: dict) -> None:
    """Give attr `spec` of node `n` a plausible value of the right kind."""
    kind, value = spec["type"], n.attr[spec["name"]]
    minimum = spec.get("minimum", 0)
    if kind == "type":
        value.type = _pick_type(spec)
    elif kind == "int":
        value.i = max(minimum, 1)
    elif kind == "bool":
        value.b = False
    elif kind == "float":
        value.f = 0.5
    elif kind == "string":
        value.s = (spec.get("allowed") or [""])[0].encode()
    elif kind == "shape":
        value.shape.dim.add(size=2)
    elif kind == "tensor":
        value.tensor.dtype = DT.DT_FLOAT
        value.tensor.float_val.append(1.0)
    elif kind == "func":
        value.func.name = "no_such_function"
    elif kind == "list(type)":
        value.list.type.extend([DT.DT_FLOAT] * max(minimum, 1))
    elif kind == "list(int)":
        value.list.i.extend([1] * max(minimum, 4))
    elif kind == "list(float)":
        value.list.f.extend([1.0] * max(minimum, 1))
    elif kind == "list(string)":
        value.list.s.extend([b"a"] * max(minimum, 1))
    elif kind == "list(shape)":
        for _ in range(max(minimum, 1)):
            value.list.shape.add().dim.add(size=2)
    else:  # list(func), list(tensor), any: leave empty
        value.list.SetInParent()


def _wrong_kind(n, spec: dict) -> None:
    """Set attr `spec` of `n` to a value of a kind it does not take."""
    value = n.attr[spec["name"]]
    value.Clear()
    if spec["type"] in ("string", "type", "list(string)"):
        value.b = True
    else:
        value.s = b"wrong"


def _op_graph(op: str, extra_inputs: int = 0, wrong_attr: str | None = None):
    """A graph feeding placeholders into one `op` node, its attrs filled in plausibly."""
    spec = signature(op)
    graph = new_graph()
    n = node(graph, "n", op, T=None)
    for attr in spec["attrs"]:
        _fill_attr(n, attr)
    count = 0
    for arg in spec["inputs"]:
        if "number_attr" in arg:
            count += n.attr[arg["number_attr"]].i
        elif "type_list_attr" in arg:
            count += len(n.attr[arg["type_list_attr"]].list.type)
        else:
            count += 1
    feeds = []
    for k in range(max(count + extra_inputs, 0)):
        placeholder(graph, f"x{k}", [2, 3])
        n.input.append(f"x{k}")
        feeds.append((f"x{k}", [2, 3]))
    for attr in spec["attrs"]:
        if attr["name"] == wrong_attr:
            _wrong_kind(n, attr)
    return graph, config(feeds, ["n"])


def _op_cases():
    for op in supported_ops():
        spec = signature(op)
        if spec is None:
            continue
        yield op, {"extra_inputs": 1}
        if spec["inputs"]:
            yield op, {"extra_inputs": -1}
        for attr in spec["attrs"]:
            yield op, {"wrong_attr": attr["name"]}


def test_every_op_with_wrong_arity_and_attr_kinds(tmp_path):
    cases = list(_op_cases())
    # Every op has a signature, but VariableV1, which TensorFlow registers no OpDef for
    # (aotc accepts the name as an alias of VariableV2).
    assert set(supported_ops()) - {op for op, _ in cases} == {"VariableV1"}, \
        "an op without a signature: regenerate frontend/op_signatures.json with " \
        "tools/gen_op_signatures.py"
    failures = []
    for k, (op, change) in enumerate(cases):
        graph, cfg = _op_graph(op, **change)
        outcome = compile_cli(tmp_path, graph.SerializeToString(), cfg.SerializeToString(),
                              tag=f"op{k}")
        outcome.check_clean()
        if outcome.status != 1:
            failures.append(f"{op} {change}: compiled")
        elif "signature" not in outcome.stderr and "(" + op + ")" not in outcome.stderr:
            failures.append(f"{op} {change}: {outcome.stderr.strip()}")
    assert not failures, "\n".join(failures)


def _random_op_graph(op: str, rng: random.Random):
    """A graph feeding one `op` node plausible but random inputs and attrs: ranks 0-4,
    small or extreme integer constants (shapes, axes, sizes), random allowed types and
    strings, ints and int lists from -1 up (a count attr stays small)."""
    spec = signature(op)
    graph = new_graph()
    n = node(graph, "n", op, T=None)
    counts = {a["number_attr"] for a in spec["inputs"] + spec["outputs"] if "number_attr" in a}
    for attr in spec["attrs"]:
        kind, value = attr["type"], n.attr[attr["name"]]
        if rng.random() < 0.5 or kind not in ("int", "list(int)", "bool", "type", "string"):
            _fill_attr(n, attr)
        elif kind == "int":
            value.i = rng.choice([1, 2, 3] if attr["name"] in counts else [-1, 0, 1, 2, 3])
        elif kind == "list(int)":
            value.list.i.extend(rng.choice([-1, 0, 1, 2, 3]) for _ in range(rng.randrange(6)))
        elif kind == "bool":
            value.b = rng.random() < 0.5
        elif kind == "type" and attr.get("allowed"):
            value.type = DT.DataType.Value(rng.choice(attr["allowed"]))
        elif kind == "string" and attr.get("allowed"):
            value.s = rng.choice(attr["allowed"]).encode()
        else:
            _fill_attr(n, attr)
    feeds = []
    for arg in spec["inputs"]:
        for dtype in _arg_dtypes(n, spec, arg):
            name = f"i{len(n.input)}"
            if dtype in (DT.DT_INT32, DT.DT_INT64) and rng.random() < 0.7:
                values = [rng.choice([-2, -1, 0, 1, 2, 3, 100, 2**31 - 1])
                          for _ in range(rng.randrange(5))]
                const(graph, name, values, dtype)
            else:
                shape = [rng.choice([1, 2, 3]) for _ in range(rng.randrange(5))]
                placeholder(graph, name, shape, dtype)
                feeds.append((name, shape))
            n.input.append(name)
    return graph, config(feeds, ["n"])


def _arg_dtypes(n, spec: dict, arg: dict) -> list[int]:
    """The dtypes of the tensors an input arg stands for, with the attrs `n` has."""
    if "type_list_attr" in arg:
        return list(n.attr[arg["type_list_attr"]].list.type)
    dtype = DT.DataType.Value(arg["type"]) if "type" in arg else n.attr[arg["type_attr"]].type
    count = n.attr[arg["number_attr"]].i if "number_attr" in arg else 1
    return [dtype or DT.DT_FLOAT] * count


def test_every_op_with_random_plausible_inputs(tmp_path):
    # Right arity and attr kinds, random values: rules must reject what they cannot
    # lower with an error, never crash (found: vector axes, unequal slice specs).
    rng = random.Random(20261202)
    for k, op in enumerate(op for op in supported_ops() if signature(op) is not None):
        graph, cfg = _random_op_graph(op, rng)
        compile_cli(tmp_path, graph.SerializeToString(), cfg.SerializeToString(),
                    tag=f"r{k}").check_clean()


# ---------------------------------------------------------------------------------------
# Mutated protos


def _small_model():
    """A graph with several op families: MatMul, BiasAdd, Relu, Reshape, Sum, Softmax."""
    graph = new_graph()
    placeholder(graph, "x", [2, 4])
    const(graph, "w", [0.5] * 12, DT.DT_FLOAT, shape=[4, 3])
    const(graph, "bias", [0.1, 0.2, 0.3], DT.DT_FLOAT)
    node(graph, "mm", "MatMul", ["x", "w"], transpose_a=False, transpose_b=False)
    node(graph, "ba", "BiasAdd", ["mm", "bias"], data_format="NHWC")
    node(graph, "relu", "Relu", ["ba"])
    const(graph, "shape", [3, 2])
    node(graph, "rs", "Reshape", ["relu", "shape"], types={"Tshape": DT.DT_INT32})
    const(graph, "axis", [1])
    node(graph, "sum", "Sum", ["rs", "axis"], types={"Tidx": DT.DT_INT32}, keep_dims=False)
    node(graph, "sm", "Softmax", ["relu"])
    return graph.SerializeToString(), config([("x", [2, 4])], ["sum", "sm"]).SerializeToString()


def _matmul_example():
    graph = parse_graph((EXAMPLES / "matmul/graph.pbtxt").read_text(), text=True)
    cfg = parse_config((EXAMPLES / "matmul/config.pbtxt").read_text(), text=True)
    return graph.SerializeToString(), cfg.SerializeToString()


def _mutations(data: bytes, rng: random.Random, flips: int, cuts: int):
    for _ in range(cuts):
        yield data[: rng.randrange(len(data))]
    for _ in range(flips):
        mutated = bytearray(data)
        position = rng.randrange(len(mutated))
        mutated[position] ^= 1 << rng.randrange(8)
        yield bytes(mutated)


@pytest.mark.parametrize("model", [_small_model, _matmul_example], ids=["small", "matmul"])
def test_truncated_and_bit_flipped_protos(tmp_path, model):
    graph, cfg = model()
    assert compile_cli(tmp_path, graph, cfg, tag="base").status == 0
    rng = random.Random(20261202)
    k = 0
    for mutated in _mutations(graph, rng, flips=40, cuts=8):
        compile_cli(tmp_path, mutated, cfg, tag=f"g{k}").check_clean()
        k += 1
    for mutated in _mutations(cfg, rng, flips=25, cuts=5):
        compile_cli(tmp_path, graph, mutated, tag=f"c{k}").check_clean()
        k += 1
