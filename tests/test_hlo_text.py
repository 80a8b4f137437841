"""HLO text printer and parser: round trips, hand-written XLA text, errors, graphviz."""

import numpy as np
import pytest

from aotc.hlo import Builder, Module, Shape, scalar_computation
from aotc.hlo.dtypes import DTYPES
from aotc.hlo.graphviz import to_graphviz
from aotc.hlo.parser import HloParseError, parse_module
from aotc.hlo.printer import print_computation, print_instruction, print_module
from aotc.hlo.verifier import verify

from every_opcode import every_opcode_module, fused_add_computation


def round_trip(module: Module) -> str:
    """Print, parse, verify and print again; the two texts must be identical."""
    text = print_module(module)
    parsed = parse_module(text)
    verify(parsed)
    assert print_module(parsed) == text
    return text


def test_every_opcode_round_trips():
    text = round_trip(every_opcode_module())
    assert text.startswith("HloModule everything, entry_computation_layout={(f32[2,3]{1,0}")
    # Callees come before their callers and the entry is last.
    assert text.index("fused_computation {") < text.index("ENTRY everything {")
    assert text.index("argmax_reducer {") < text.index("ENTRY everything {")
    assert text.rstrip().endswith("}")
    assert "padding=1_-1x0_2_1" in text
    assert "slice={[0:2:2], [1:3]}" in text
    assert "lhs_batch_dims={0}, lhs_contracting_dims={2}, rhs_batch_dims={0}" in text
    assert "kind=kLoop, calls=fused_computation" in text
    assert "iota_dimension=1" in text and "direction=LT" in text


def test_parsed_attributes_have_the_documented_python_form():
    module = parse_module(print_module(every_opcode_module()))
    by_opcode = {}
    for inst in module.entry.instructions:
        by_opcode.setdefault(inst.opcode, inst)
    assert by_opcode["slice"].attrs["slice"] == ((0, 2, 2), (1, 3, 1))
    assert by_opcode["pad"].attrs["padding"] == ((1, -1, 0), (0, 2, 1))
    assert by_opcode["transpose"].attrs["dimensions"] == (1, 0)
    assert by_opcode["concatenate"].attrs["dimensions"] == (0,)
    assert by_opcode["dot"].attrs == {"lhs_batch_dims": (), "rhs_batch_dims": (),
                                      "lhs_contracting_dims": (1,), "rhs_contracting_dims": (0,)}
    assert by_opcode["compare"].attrs == {"direction": "LT"}
    assert by_opcode["get-tuple-element"].attrs == {"index": 1}
    assert by_opcode["iota"].attrs == {"iota_dimension": 1}
    assert by_opcode["fusion"].attrs == {"kind": "kLoop"}
    assert by_opcode["fusion"].called_computations[0].name == "fused_computation"
    assert by_opcode["convert"].shape == Shape.array("s32", [2, 3])
    assert by_opcode["parameter"].attrs == {"parameter_number": 0}
    tuple_reduce = [i for i in module.entry.instructions if i.opcode == "reduce"][1]
    assert tuple_reduce.shape == Shape.tuple([Shape.array("f32", [2]), Shape.array("s32", [2])])


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_every_dtype_round_trips_with_exact_constants(name):
    t = DTYPES[name]
    rng = np.random.default_rng(7)
    if t.is_pred:
        values = np.array([[True, False, True]])
    elif t.is_float or t.is_complex:
        values = np.concatenate([rng.standard_normal(8) * 1e3, rng.standard_normal(4) * 1e-6,
                                 [0.1, -0.0, np.inf, -np.inf, 1e20, 3.0]]).reshape(2, 9)
        if t.is_complex:  # (real, imag) pairs: each part exact
            parts = values
            values = np.empty(parts.shape, t.np_dtype)
            values.real, values.imag = parts, parts[:, ::-1]
    else:
        info = np.iinfo(t.np_dtype)
        values = np.array([[info.min, info.max, 0, 1, 7]], dtype=t.np_dtype)
    np_type = np.float32 if t.numpy is None else t.np_dtype
    with np.errstate(over="ignore"):  # 1e20 becomes inf in f16, which must round-trip too
        values = values.astype(np_type)
    b = Builder("dtypes")
    b.parameter(Shape.array(name, [2, 0]), "p")
    scalar = b.add("constant", [], {"literal": np.array(values.flat[0], np_type)},
                   shape=Shape.array(name, []))
    array = b.add("constant", [], {"literal": values}, shape=Shape.array(name, values.shape))
    module = b.module(b.tuple([scalar, array]))
    round_trip(module)
    parsed = parse_module(print_module(module)).entry.root.operands
    assert parsed[0].attrs["literal"].shape == ()
    got = parsed[1].attrs["literal"]
    assert got.dtype == values.dtype and got.tobytes() == values.tobytes()


def test_nan_constant_stays_nan():
    b = Builder("nan")
    b.constant(np.array([np.nan, 1.0], np.float32))
    text = round_trip(b.module())
    assert "{nan, 1}" in text
    assert np.isnan(parse_module(text).entry.root.attrs["literal"][0])


def test_empty_and_non_row_major_shapes_round_trip():
    b = Builder("odd_shapes")
    p = b.parameter(Shape.array("f32", [2, 3], layout=[0, 1]), "p")
    e = b.constant(np.zeros((0, 3), np.float32))
    e2 = b.constant(np.zeros((3, 0), np.float32))
    neg = b.unary("negate", p)
    module = b.module(b.tuple([neg, e, e2]))
    text = round_trip(module)
    assert "p = f32[2,3]{0,1} parameter(0)" in text
    assert "f32[0,3]{1,0} constant({})" in text
    assert "f32[3,0]{1,0} constant({ {}, {}, {} })" in text
    parsed = parse_module(text)
    assert parsed.entry.parameter(0).shape.layout == (0, 1)


def test_nested_literal_text():
    b = Builder("lit")
    b.constant(np.arange(8, dtype=np.int32).reshape(2, 2, 2))
    text = print_module(b.module())
    assert "constant({ { {0, 1}, {2, 3} }, { {4, 5}, {6, 7} } })" in text
    round_trip(b.module())


def test_metadata_is_printed_escaped_and_parsed_back():
    b = Builder("meta")
    b.metadata = {"op_type": "MatMul", "op_name": 'a "quoted" \\ name\n', "source_line": 12}
    x = b.parameter(Shape.array("f32", [2]), "x")
    b.unary("negate", x)
    text = round_trip(b.module())
    assert 'metadata={op_type="MatMul" op_name="a \\"quoted\\" \\\\ name\\n" source_line=12}' in text
    root = parse_module(text).entry.root
    assert root.metadata == {"op_type": "MatMul", "op_name": 'a "quoted" \\ name\n',
                             "source_line": 12}


def test_invalid_and_duplicate_names_are_sanitized_uniquely():
    b = Builder("bad names/here")
    x = b.parameter(Shape.array("f32", [2]), "x:0")
    y = b.parameter(Shape.array("f32", [2]), "x_0")  # the sanitized form of x:0
    z = b.binary("add", x, y, )
    z.name = "ROOT"
    w = b.unary("negate", z)
    w.name = "1st result"
    module = b.module()
    text = round_trip(module)
    parsed = parse_module(text)
    names = [i.name for i in parsed.entry.instructions]
    assert len(set(names)) == len(names)
    assert "x_0" in names and "ROOT_" in names and "_1st_result" in names
    assert "HloModule bad_names_here" in text


def test_print_instruction_and_computation():
    b = Builder("main")
    x = b.parameter(Shape.array("f32", [2, 3]), "x")
    r = b.reduce(x, b.constant(np.float32(0)), [1], scalar_computation("add", "f32", "sum"))
    assert print_instruction(r) == (
        f"{r.name} = f32[2]{{0}} reduce(x, {r.operands[1].name}), dimensions={{1}}, to_apply=sum")
    assert print_computation(b.build()).startswith("main {\n  x = f32[2,3]{1,0} parameter(0)\n")
    assert print_computation(b.build()).endswith("to_apply=sum\n}")


HAND_WRITTEN = """
/* A hand-written module in the style of XLA's tests. */
HloModule hand, is_scheduled=true, entry_computation_layout={(f32[2,3])->f32[2]}

%add_f32 (lhs: f32[], rhs: f32[]) -> f32[] {
  %lhs = f32[] parameter(0)
  %rhs = f32[] parameter(1)
  ROOT %add = f32[] add(f32[] %lhs, f32[] %rhs)  // operands with shapes, old style
}

ENTRY %main (x: f32[2,3]) -> f32[2] {
  %x = f32[2,3] parameter(0), sharding={replicated}
  %zero = f32[] constant(0), metadata={op_type="Const" op_name="zero"}
  ROOT %r = f32[2]{0} reduce(%neg, %zero), to_apply=%add_f32, dimensions={1}
  %neg = f32[2,3]{1,0} negate(%x), backend_config="{\\"a\\": 1}"
}
"""


def test_parse_hand_written_xla_text():
    module = parse_module(HAND_WRITTEN)
    verify(module)
    assert module.name == "hand"
    assert [c.name for c in module.computations] == ["add_f32", "main"]
    root = module.entry.root
    assert root.opcode == "reduce" and root.attrs == {"dimensions": (1,)}
    assert root.to_apply().name == "add_f32"
    # Written after its user, the operand is still placed first (topological order).
    assert [i.name for i in module.entry.instructions] == ["x", "zero", "neg", "r"]
    assert module.entry.instructions[1].metadata == {"op_type": "Const", "op_name": "zero"}
    assert "sharding" not in module.entry.parameter(0).attrs
    round_trip(module)


def test_callee_may_be_defined_after_its_caller():
    text = """HloModule fwd
ENTRY main {
  a = f32[] parameter(0)
  ROOT c = f32[] call(a), to_apply=twice
}
twice {
  p = f32[] parameter(0)
  ROOT s = f32[] add(p, p)
}
"""
    module = parse_module(text)
    assert module.entry.name == "main"
    assert module.entry.root.to_apply().root.opcode == "add"


def test_entry_defaults_to_last_computation_and_root_to_last_instruction():
    module = parse_module("m {\n  a = s32[] parameter(0)\n  b = s32[] negate(a)\n}\n")
    assert module.entry.name == "m" and module.entry.root.name == "b"


@pytest.mark.parametrize("text, line, fragment", [
    ("HloModule m\nENTRY e {\n  a = f32[2] parameter(0)\n  b = f32[3] negate(a)\n}", 4,
     "declared f32[3]"),
    ("HloModule m\nENTRY e {\n  a = f32[2] parameter(0)\n  b = f32[2] negate(q)\n}", 4,
     "unknown operand 'q'"),
    ("HloModule m\nENTRY e {\n  a = f32[2] parameter(0)\n  b = f32[2] frobnicate(a)\n}", 4,
     "unknown opcode"),
    ("HloModule m\n\nENTRY e {\n  a = f32[2] parameter(0)\n  b = f32[2] negate(a\n}", 6,
     "expected ',' or ')'"),
    ("HloModule m\nENTRY e {\n  a = f32[2] constant({1, 2, 3})\n}", 3, "3 elements"),
    ("HloModule m\nENTRY e {\n  a = s8[] constant(300)\n}", 3, "out of range"),
    ("HloModule m\nENTRY e {\n  a = s8[2] constant({1, 300})\n}", 3, "out of range"),
    ("HloModule m\nENTRY e {\n  a = f32[2] constant({1,\n x})\n}", 4, "expected a f32 value"),
    ("HloModule m\nENTRY e {\n  a = f32[2,1] constant({ {1}, 2 })\n}", 3, "'{' opening"),
    ("HloModule m\nENTRY e {\n  a = f32[2]{0,1} parameter(0)\n}", 3, "not a permutation"),
    ("HloModule m\nENTRY e {\n  a = f32[] parameter(0)\n  r = f32[] call(a), to_apply=nope\n}",
     4, "unknown computation 'nope'"),
    ("HloModule m\nENTRY e {\n  a = f32[2] parameter(0)\n  b = f32[2] broadcast(a)\n}", 4,
     "needs attribute dimensions"),
    ("HloModule m\nENTRY e {\n  a = f32[2] parameter(0)\n  a = f32[2] negate(a)\n}", 4,
     "duplicate instruction name"),
    ("HloModule m\nENTRY e {\n  a = f32[2] parameter(0) $\n}", 3, "unexpected character"),
    ("HloModule m\nENTRY e {\n  a = f32[2] parameter(0)\n  b = f32[2] add(a, b)\n}", 4,
     "depends on itself"),
    ("HloModule m\nENTRY e {\n  a = f32[4] parameter(0)\n  b = f32[2] slice(a), slice={[0:5]}\n}",
     4, "slice"),
])
def test_parse_errors_report_line_and_cause(text, line, fragment):
    with pytest.raises(HloParseError) as err:
        parse_module(text)
    assert err.value.line == line, str(err.value)
    assert fragment in str(err.value)
    assert f"line {line}, column {err.value.column}" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_parse_error_points_at_the_column():
    with pytest.raises(HloParseError) as err:
        parse_module("HloModule m\nENTRY e {\n  a = f32[2] parameter(0)\n  b = f32[2] negate(q)\n}")
    assert err.value.column == len("  b = f32[2] negate(") + 1
    assert str(err.value).endswith("negate(q)\n  " + " " * (err.value.column - 1) + "^")


def test_graphviz_draws_nodes_edges_and_fusion_clusters():
    b = Builder("g")
    f = b.parameter(Shape.array("f32", [2, 3]), "f")
    g = b.parameter(Shape.array("f32", [2, 3]), "g")
    fused = b.add("fusion", [f, g], {"kind": "kLoop"}, called=[fused_add_computation()], name="fu")
    b.unary("negate", fused)
    dot = to_graphviz(b.build())
    assert dot.startswith('digraph "g" {')
    assert '[label="f\\nparameter\\nf32[2,3]{1,0}"]' in dot
    assert "subgraph cluster_" in dot and 'label="fu (kLoop)"' in dot
    assert "fp0\\nparameter" in dot  # the fused computation is drawn inside the cluster
    # f, g -> fused params; both params -> multiply; multiply -> fusion; fusion -> negate.
    assert dot.count("->") == 6
    assert dot.rstrip().endswith("}")


def test_literal_with_comments_and_old_style_shape_parses():
    module = parse_module("HloModule m\nENTRY e {\n  ROOT a = s32[2,2] constant(s32[2,2] "
                          "{ /* row 0 */ {1, 2}, {3, 4} })\n}\n")
    assert module.entry.root.attrs["literal"].tolist() == [[1, 2], [3, 4]]


def test_attributes_without_dedicated_syntax_round_trip():
    b = Builder("extra")
    x = b.parameter(F32_2, "x")
    neg = b.unary("negate", x)
    neg.attrs.update({"flag": True, "levels": (1, 2), "label": "two words", "tag": "kFast"})
    text = round_trip(b.module())
    assert 'flag=true, label="two words", levels={1,2}, tag=kFast' in text
    assert parse_module(text).entry.root.attrs == neg.attrs


F32_2 = Shape.array("f32", [2])
